"""The form for one email account: a provider preset fills the server; the password goes to the
keyring (or, where there is none, is kept for this session only)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from smbcrm.core.i18n import _
from smbcrm.messaging.credentials import keyring_status
from smbcrm.messaging.providers import PROVIDERS, provider
from smbcrm.services.email_accounts import AccountForm, AccountInfo, save_account

from smbcrm.ui.context import ShopContext
from smbcrm.ui.messages.passwords import password_store
from smbcrm.ui.tasks import show_error

SECURITY_LABELS = {
    "starttls": lambda: _("STARTTLS (usually port 587)"),
    "tls": lambda: _("TLS (usually port 465)"),
    "none": lambda: _("None (only for a server on this computer)"),
}


def _limit_box() -> QSpinBox:
    box = QSpinBox()
    box.setRange(0, 1_000_000)
    box.setSpecialValueText(_("no limit"))
    box.setGroupSeparatorShown(True)
    return box


class AccountDialog(QDialog):
    def __init__(self, context: ShopContext, account: AccountInfo | None = None, parent=None):
        super().__init__(parent)
        self.context = context
        self.account = account
        self.saved_account: AccountInfo | None = None
        self.setWindowTitle(_("Email account") if account else _("Add an email account"))
        self.setMinimumWidth(560)

        self.provider_combo = QComboBox()
        for item in PROVIDERS:
            self.provider_combo.addItem(_(item.label), item.key)
        self.help_label = QLabel()
        self.help_label.setWordWrap(True)
        self.help_label.setOpenExternalLinks(True)
        self.help_label.setTextFormat(Qt.TextFormat.RichText)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText(_("For example: Shop Gmail"))
        self.from_name_edit = QLineEdit()
        self.from_name_edit.setPlaceholderText(_("The name your customers see"))
        self.from_edit = QLineEdit()
        self.from_edit.setPlaceholderText("tienda@gmail.com")
        self.reply_edit = QLineEdit()
        self.reply_edit.setPlaceholderText(_("Optional: where replies go"))
        self.host_edit = QLineEdit()
        self.port_box = QSpinBox()
        self.port_box.setRange(1, 65535)
        self.security_combo = QComboBox()
        for key, label in SECURITY_LABELS.items():
            self.security_combo.addItem(label(), key)
        self.user_edit = QLineEdit()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.keyring_label = QLabel()
        self.keyring_label.setWordWrap(True)
        self.per_minute, self.per_hour, self.per_day = _limit_box(), _limit_box(), _limit_box()
        limits = QHBoxLayout()
        for box, text in (
            (self.per_minute, _("per minute")),
            (self.per_hour, _("per hour")),
            (self.per_day, _("per day")),
        ):
            limits.addWidget(box)
            limits.addWidget(QLabel(text))
        limits.addStretch(1)

        form = QFormLayout()
        form.addRow(_("&Provider:"), self.provider_combo)
        form.addRow("", self.help_label)
        form.addRow(_("Account &name:"), self.name_edit)
        form.addRow(_("Sender n&ame:"), self.from_name_edit)
        form.addRow(_("Sender &address:"), self.from_edit)
        form.addRow(_("&Reply to:"), self.reply_edit)
        form.addRow(_("&Server:"), self.host_edit)
        form.addRow(_("P&ort:"), self.port_box)
        form.addRow(_("Securit&y:"), self.security_combo)
        form.addRow(_("&User name:"), self.user_edit)
        form.addRow(_("Pass&word:"), self.password_edit)
        form.addRow("", self.keyring_label)
        form.addRow(_("Sending limits:"), limits)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

        usable, why = keyring_status()
        self.keyring_usable = usable
        self.keyring_label.setText(
            _("The password is kept in the system keyring, never in the shop file.")
            if usable
            else why
        )
        self.provider_combo.currentIndexChanged.connect(self._provider_chosen)
        self.from_edit.textEdited.connect(self._follow_address)
        if account is None:
            self._provider_chosen()
        else:
            self._show(account)

    def _show(self, account: AccountInfo) -> None:
        self.provider_combo.blockSignals(True)
        self.provider_combo.setCurrentIndex(max(0, self.provider_combo.findData(account.provider)))
        self.provider_combo.blockSignals(False)
        self.help_label.setText(_(provider(account.provider).help))
        self.name_edit.setText(account.name)
        self.from_name_edit.setText(account.from_name)
        self.from_edit.setText(account.from_address)
        self.reply_edit.setText(account.reply_to or "")
        self.host_edit.setText(account.host)
        self.port_box.setValue(account.port)
        self.security_combo.setCurrentIndex(self.security_combo.findData(account.security))
        self.user_edit.setText(account.username)
        self.password_edit.setPlaceholderText(_("Leave empty to keep the saved password"))
        for box, value in (
            (self.per_minute, account.per_minute),
            (self.per_hour, account.per_hour),
            (self.per_day, account.per_day),
        ):
            box.setValue(value or 0)

    def _provider_chosen(self) -> None:
        chosen = provider(self.provider_combo.currentData())
        self.help_label.setText(_(chosen.help))
        if chosen.host:
            self.host_edit.setText(chosen.host)
            self.port_box.setValue(chosen.port)
            self.security_combo.setCurrentIndex(self.security_combo.findData(chosen.security))
        elif not self.host_edit.text():
            self.port_box.setValue(587)
        self.per_minute.setValue(chosen.per_minute or 0)
        self.per_hour.setValue(chosen.per_hour or 0)
        self.per_day.setValue(chosen.per_day or 0)

    def _follow_address(self, text: str) -> None:
        """Providers log in with the address itself: fill the user name while it is typed."""
        if self.provider_combo.currentData() != "custom" and self.account is None:
            self.user_edit.setText(text.strip())

    def form(self) -> AccountForm:
        return AccountForm(
            name=self.name_edit.text(),
            host=self.host_edit.text(),
            port=self.port_box.value(),
            security=self.security_combo.currentData(),
            username=self.user_edit.text().strip(),
            from_name=self.from_name_edit.text(),
            from_address=self.from_edit.text(),
            reply_to=self.reply_edit.text(),
            provider=self.provider_combo.currentData(),
            per_minute=self.per_minute.value() or None,
            per_hour=self.per_hour.value() or None,
            per_day=self.per_day.value() or None,
        )

    def save(self) -> None:
        form = self.form()
        password = self.password_edit.text()
        db = self.context.db
        account_id = self.account.id if self.account else None
        store = password_store()

        def work(progress, cancel) -> AccountInfo:
            return save_account(
                db, form, passwords=store, password=password or None, account_id=account_id
            )

        def done(info: AccountInfo) -> None:
            self.saved_account = info
            self.accept()

        self.buttons.setEnabled(False)
        self.context.runner.run(
            work,
            parent=self,
            on_success=done,
            on_failure=self._refused,
            show_progress=False,
        )

    def _refused(self, error: BaseException) -> None:
        self.buttons.setEnabled(True)
        show_error(self, error)
