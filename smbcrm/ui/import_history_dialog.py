"""File > Import history: every import with its counts, and undo of a whole import."""

from __future__ import annotations

from babel.dates import format_datetime

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from smbcrm.core.dates import to_local
from smbcrm.core.i18n import _, current_language
from smbcrm.services import backup
from smbcrm.services.importing import ImportInfo, list_imports, undo_import

from smbcrm.ui.context import ShopContext
from smbcrm.ui.import_wizard import KINDS


class ImportHistoryDialog(QDialog):
    changed = Signal()

    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.imports: list[ImportInfo] = []
        self.setWindowTitle(_("Import history"))
        self.resize(860, 420)
        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels([_("When"), _("What"), _("File"), _("Created"),
                                              _("Updated"), _("Refused"), _("State")])  # fmt: skip
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.undo_button = QPushButton(_("&Undo this import…"))
        self.undo_button.clicked.connect(self.undo_selected)
        close = QPushButton(_("Close"))
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.undo_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        db = self.context.db
        self.context.runner.run(lambda p, c: list_imports(db), show_progress=False, parent=self,
                                on_success=self._show)  # fmt: skip

    def _show(self, imports: list[ImportInfo]) -> None:
        self.imports = imports
        self.table.setRowCount(len(imports))
        for row, info in enumerate(imports):
            when = format_datetime(to_local(info.imported_at), "short", locale=current_language())
            state = _("undone") if info.undone_at else _("in the shop")
            for column, text in enumerate((when, _(KINDS.get(info.kind, info.kind)), info.file_name,
                                           str(info.created), str(info.updated), str(info.errors), state)):  # fmt: skip
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        if imports:
            self.table.selectRow(0)
        self.undo_button.setEnabled(bool(imports))

    def undo_selected(self) -> None:
        row = self.table.currentRow()
        if not 0 <= row < len(self.imports) or self.imports[row].undone_at is not None:
            return
        info = self.imports[row]
        answer = QMessageBox.question(
            self,
            _("Import history"),
            _(
                "Undo the import of {file}? The {created} customers it created are removed (with anything added to them since) and the {updated} it changed get their previous values back. A backup is taken first."
            ).format(file=info.file_name, created=info.created, updated=info.updated),  # fmt: skip
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        db = self.context.db

        def work(progress, cancel) -> None:
            backup.create_backup(db, "before-bulk-change")
            undo_import(db, info.id)

        def done(_result) -> None:
            self.changed.emit()
            self.refresh()

        self.context.runner.run(work, title=_("Undoing the import…"), parent=self, on_success=done)
