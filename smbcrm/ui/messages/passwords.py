"""The window's one password store: the OS keyring, or this session's memory where none exists."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from smbcrm.core.i18n import _
from smbcrm.messaging.credentials import PasswordStore, default_password_store, keyring_status
from smbcrm.services.email_accounts import AccountInfo

_store: PasswordStore | None = None


def password_store() -> PasswordStore:
    global _store
    if _store is None:
        _store = default_password_store()
    return _store


def use_password_store(store: PasswordStore | None) -> None:
    """Tests hand in an in-memory store; None goes back to the default."""
    global _store
    _store = store


def ask_password_if_needed(parent: QWidget, account: AccountInfo) -> bool:
    """Make sure the account's password is known; asks for it (and says why) when it is not.
    False when the owner cancelled."""
    store = password_store()
    if not account.username or store.get(account.password_key):
        return True
    usable, why = keyring_status()
    text = _("Password of {user} on {host}:").format(user=account.username, host=account.host)
    if not usable:
        text = f"{why}\n\n{text}"
    password, accepted = QInputDialog.getText(
        parent, _("Email password"), text, QLineEdit.EchoMode.Password
    )
    if not accepted or not password:
        return False
    store.set(account.password_key, password)
    return True
