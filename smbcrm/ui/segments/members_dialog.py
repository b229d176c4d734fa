"""The customers of a segment or a rule, and a static list's customers, added or removed by hand."""

from __future__ import annotations

from babel.numbers import format_decimal

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

from smbcrm.core.i18n import _, ngettext
from smbcrm.services import segments as sg
from smbcrm.services.customers import CustomerQuery, SearchResult, customer_ids, search

from smbcrm.ui.context import ShopContext
from smbcrm.ui.item_models.customer_list import CustomerListModel
from smbcrm.ui.title_page import heading

SEARCH_RESULTS = 12


class MembersDialog(QDialog):
    """The customers of a segment (or of a rule being edited), a page of rows at a time."""

    def __init__(self, context: ShopContext, title: str, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle(title)
        self.resize(860, 520)
        self.model = CustomerListModel(context, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.count_label = QLabel(_("Counting…"))
        self.close_button = QPushButton(_("Close"))
        self.close_button.clicked.connect(self.accept)
        self.close_button.setAutoDefault(False)  # Enter in the search box must not close
        self.bottom = QHBoxLayout()
        self.bottom.addWidget(self.count_label, 1)
        self.bottom.addWidget(self.close_button)
        self.main_layout = QVBoxLayout(self)
        self.main_layout.addWidget(heading(title))
        self.main_layout.addWidget(self.table, 1)
        self.main_layout.addLayout(self.bottom)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def set_ids(self, ids: list[int]) -> None:
        self.model.set_ids(ids)
        number = format_decimal(len(ids), locale=self.context.profile.locale)
        self.count_label.setText(
            ngettext("{count} customer", "{count} customers", len(ids)).format(count=number)
        )


class StaticListDialog(MembersDialog):
    """A list's customers: add one found by name, email or phone; remove the selected ones."""

    changed = Signal()

    def __init__(self, context: ShopContext, list_id: int, title: str, parent=None) -> None:
        super().__init__(context, title, parent)
        self.list_id = list_id
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.add_edit = QLineEdit()
        self.add_edit.setPlaceholderText(
            _("Add a customer: type a name, email or phone and press Enter")
        )
        self.add_edit.returnPressed.connect(self.find_to_add)
        self.remove_button = QPushButton(_("&Remove from the list"))
        self.remove_button.setToolTip(QKeySequence(Qt.Key.Key_Delete).toString())
        self.remove_button.clicked.connect(self.remove_selected)
        self.remove_button.setAutoDefault(False)
        QShortcut(QKeySequence(Qt.Key.Key_Delete), self.table, activated=self.remove_selected)
        self.main_layout.insertWidget(1, self.add_edit)
        self.bottom.insertWidget(1, self.remove_button)
        self.search_menu: QMenu | None = None
        self.reload()

    def reload(self) -> None:
        db, key = self.context.db, f"{sg.SAVED_PREFIX}{self.list_id}"
        self.context.runner.run(
            lambda progress, cancel: customer_ids(db, CustomerQuery(segment=key)),
            show_progress=False,
            on_success=self.set_ids,
            parent=self,
        )

    def find_to_add(self) -> None:
        text, db = self.add_edit.text().strip(), self.context.db
        if not text:
            return
        self.context.runner.run(
            lambda progress, cancel: search(db, text, limit=SEARCH_RESULTS),
            show_progress=False,
            on_success=self._choose,
            parent=self,
        )

    def _choose(self, found: list[SearchResult]) -> None:
        menu = QMenu(self)
        if not found:
            menu.addAction(
                _("Nobody matches “{text}”").format(text=self.add_edit.text())
            ).setEnabled(False)
        for result in found:
            details = " · ".join(part for part in (result.email, result.phone) if part)
            action = menu.addAction(f"{result.name}  {details}".strip())
            action.triggered.connect(lambda _c=False, cid=result.id: self.add([cid]))
        self.search_menu = menu
        menu.popup(self.add_edit.mapToGlobal(self.add_edit.rect().bottomLeft()))
        QTimer.singleShot(0, lambda: menu.setActiveAction(menu.actions()[0]))

    def add(self, customer_ids: list[int]) -> None:
        db, list_id = self.context.db, self.list_id
        self.context.runner.run(
            lambda progress, cancel: sg.add_to_list(db, list_id, customer_ids),
            show_progress=False,
            on_success=lambda _added: self._changed(),
            parent=self,
        )
        self.add_edit.clear()

    def remove_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        chosen = [self.model.customer_id(row) for row in rows]
        chosen = [customer_id for customer_id in chosen if customer_id is not None]
        if not chosen:
            return
        db, list_id = self.context.db, self.list_id
        self.context.runner.run(
            lambda progress, cancel: sg.remove_from_list(db, list_id, chosen),
            show_progress=False,
            on_success=lambda _removed: self._changed(),
            parent=self,
        )

    def _changed(self) -> None:
        self.reload()
        self.changed.emit()
