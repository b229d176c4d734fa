"""Settings > Email accounts: add, edit, remove and test the accounts that send the shop's mail,
and how many promotions a customer may get a week."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from smbcrm.core.i18n import _
from smbcrm.messaging.transport import SendFailure
from smbcrm.services.email_accounts import (
    AccountInfo,
    delete_account,
    list_accounts,
    send_test,
)
from smbcrm.services.settings import MAX_WEEKLY_EMAILS, save_settings, shop_profile

from smbcrm.ui.context import ShopContext
from smbcrm.ui.messages.passwords import ask_password_if_needed, password_store
from smbcrm.ui.settings.account_dialog import AccountDialog
from smbcrm.ui.tasks import show_error


class EmailAccountsSection(QGroupBox):
    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.account_list = QListWidget()
        self.account_list.setMaximumHeight(110)
        self.account_list.itemDoubleClicked.connect(lambda _item: self.edit_account())
        self.add_button = QPushButton()
        self.edit_button = QPushButton()
        self.remove_button = QPushButton()
        self.test_button = QPushButton()
        self.add_button.clicked.connect(self.add_account)
        self.edit_button.clicked.connect(self.edit_account)
        self.remove_button.clicked.connect(self.remove_account)
        self.test_button.clicked.connect(self.send_test)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.remove_button, self.test_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.cap_label = QLabel()
        self.cap_box = QSpinBox()
        self.cap_box.setRange(0, MAX_WEEKLY_EMAILS)
        self.cap_box.editingFinished.connect(self.save_cap)
        self.cap_label.setBuddy(self.cap_box)
        cap_row = QHBoxLayout()
        cap_row.addWidget(self.cap_label)
        cap_row.addWidget(self.cap_box)
        cap_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.account_list)
        layout.addLayout(buttons)
        layout.addLayout(cap_row)
        self.account_list.currentRowChanged.connect(self._selection_changed)
        self.retranslate()
        self.refresh()

    def retranslate(self) -> None:
        self.setTitle(_("Email accounts"))
        self.add_button.setText(_("&Add account…"))
        self.edit_button.setText(_("&Edit…"))
        self.remove_button.setText(_("Re&move"))
        self.test_button.setText(_("Send a &test to myself"))
        self.cap_label.setText(_("Promotional emails a customer may get per &week (0 = no limit):"))

    def refresh(self) -> None:
        self.account_list.clear()
        for info in list_accounts(self.context.db):
            item = QListWidgetItem(f"{info.name} — {info.from_address} ({info.host})")
            item.setData(Qt.ItemDataRole.UserRole, info)
            self.account_list.addItem(item)
        if self.account_list.count():
            self.account_list.setCurrentRow(0)
        self.cap_box.setValue(shop_profile(self.context.db).marketing_emails_per_week)
        self._selection_changed()

    def _selection_changed(self, *_args) -> None:
        chosen = self.selected() is not None
        for button in (self.edit_button, self.remove_button, self.test_button):
            button.setEnabled(chosen)

    def selected(self) -> AccountInfo | None:
        item = self.account_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def add_account(self) -> None:
        dialog = AccountDialog(self.context, parent=self)
        if dialog.exec():
            self.refresh()

    def edit_account(self) -> None:
        info = self.selected()
        if info is None:
            return
        dialog = AccountDialog(self.context, info, parent=self)
        if dialog.exec():
            self.refresh()

    def remove_account(self) -> None:
        info = self.selected()
        if info is None:
            return
        answer = QMessageBox.question(
            self,
            _("Remove account"),
            _(
                "Remove the account “{name}”? Campaigns that use it stop until you choose "
                "another account."
            ).format(name=info.name),
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        db, store = self.context.db, password_store()
        self.context.runner.run(
            lambda progress, cancel: delete_account(db, info.id, store),
            parent=self,
            on_success=lambda _result: self.refresh(),
            show_progress=False,
        )

    def send_test(self) -> None:
        info = self.selected()
        if info is None or not ask_password_if_needed(self, info):
            return
        target, accepted = QInputDialog.getText(
            self, _("Send a test"), _("Send the test message to:"), text=info.from_address
        )
        if not accepted:
            return
        db, store = self.context.db, password_store()

        def done(reply: str) -> None:
            QMessageBox.information(
                self,
                _("Send a test"),
                _("The server accepted the test message. Look for it in {address}.").format(
                    address=target
                )
                + f"\n\n{reply}",
            )

        def refused(error: BaseException) -> None:
            if isinstance(error, SendFailure):
                QMessageBox.warning(self, _("Send a test"), error.explanation)
            else:
                show_error(self, error)

        self.context.runner.run(
            lambda progress, cancel: send_test(db, info.id, store, target.strip() or None),
            parent=self,
            title=_("Sending a test message…"),
            on_success=done,
            on_failure=refused,
            cancellable=False,
        )

    def save_cap(self) -> None:
        value = self.cap_box.value()
        db = self.context.db
        self.context.runner.run(
            lambda progress, cancel: save_settings(db, marketing_emails_per_week=value),
            parent=self,
            show_progress=False,
        )
