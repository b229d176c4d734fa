"""Choosing a backup to restore: this shop's backups newest first, or any backup file."""

from __future__ import annotations

from pathlib import Path

from babel.dates import format_datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from smbcrm.core.dates import to_local
from smbcrm.core.i18n import _, current_language
from smbcrm.services.backup import BackupInfo


def describe_backup(info: BackupInfo) -> str:
    when = format_datetime(to_local(info.taken_at), format="medium", locale=current_language())
    size = f"{info.size / 1_048_576:.1f} MB"
    return f"{when} — {info.reason_text} — {size}"


class RestoreDialog(QDialog):
    def __init__(self, backups: list[BackupInfo], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Restore from a backup"))
        self.chosen: Path | None = None
        intro = QLabel(
            _(
                "Choose the backup to go back to. Your data as it is now is backed up first, "
                "so you can come back to it."
            )
        )
        intro.setWordWrap(True)
        self.list = QListWidget()
        self.list.setMinimumSize(560, 260)
        for info in backups:
            item = QListWidgetItem(describe_backup(info))
            item.setData(Qt.ItemDataRole.UserRole, str(info.path))
            self.list.addItem(item)
        if backups:
            self.list.setCurrentRow(0)
        else:
            self.list.addItem(_("This shop has no backups yet."))
            self.list.setEnabled(False)
        self.list.itemDoubleClicked.connect(lambda item: self._accept_selected())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.restore_button = buttons.addButton(
            _("&Restore"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.restore_button.setEnabled(bool(backups))
        self.file_button = QPushButton(_("Choose a &file…"))
        buttons.addButton(self.file_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.accepted.connect(self._accept_selected)
        buttons.rejected.connect(self.reject)
        self.file_button.clicked.connect(self._choose_file)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list)
        layout.addWidget(buttons)

    def _accept_selected(self) -> None:
        item = self.list.currentItem()
        path = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if path:
            self.chosen = Path(path)
            self.accept()

    def _choose_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self,
            _("Choose a backup"),
            "",
            _("smbcrm backups (*.db.gz *.db);;All files (*)"),
        )
        if path:
            self.chosen = Path(path)
            self.accept()
