"""SMTP passwords: in the operating system's keyring and nowhere else (never the database, logs,
exports or backups). Where no secure keyring exists, passwords live in memory for the session."""

from __future__ import annotations

import logging
from typing import Protocol

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _

SERVICE = "smbcrm"
log = logging.getLogger(__name__)


class PasswordStore(Protocol):
    def get(self, account: str) -> str | None: ...

    def set(self, account: str, password: str) -> None: ...

    def delete(self, account: str) -> None: ...


def _username(account: str) -> str:
    return f"smtp:{account}"


class KeyringPasswords:
    """Passwords in the OS keyring: service "smbcrm", username "smtp:<account name>"."""

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self._backend = backend

    def _keyring(self) -> KeyringBackend:
        return self._backend or keyring.get_keyring()

    def __repr__(self) -> str:
        return f"KeyringPasswords({type(self._keyring()).__name__})"

    def get(self, account: str) -> str | None:
        try:
            return self._keyring().get_password(SERVICE, _username(account))
        except keyring.errors.KeyringError as error:
            raise _keyring_failed(error) from None

    def set(self, account: str, password: str) -> None:
        try:
            self._keyring().set_password(SERVICE, _username(account), password)
        except keyring.errors.KeyringError as error:
            raise _keyring_failed(error) from None

    def delete(self, account: str) -> None:
        try:
            self._keyring().delete_password(SERVICE, _username(account))
        except keyring.errors.PasswordDeleteError:
            pass  # nothing stored: nothing to delete
        except keyring.errors.KeyringError as error:
            raise _keyring_failed(error) from None


def _keyring_failed(error: BaseException) -> UserError:
    # The error text of a keyring backend never contains the password; log only its type.
    log.warning("keyring failed: %s", type(error).__name__)
    return UserError(
        _(
            "The system's password store (keyring) did not answer ({kind}). Unlock it (log in "
            "again, or open your keyring app) and try again."
        ).format(kind=type(error).__name__)
    )


class SessionPasswords:
    """Passwords kept in memory only, until the app closes: for systems with no keyring."""

    def __init__(self) -> None:
        self._passwords: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"SessionPasswords({len(self._passwords)} accounts)"

    def get(self, account: str) -> str | None:
        return self._passwords.get(account)

    def set(self, account: str, password: str) -> None:
        self._passwords[account] = password

    def delete(self, account: str) -> None:
        self._passwords.pop(account, None)


def _unusable_reason(backend: KeyringBackend) -> str | None:
    """Why a keyring backend must not hold passwords, or None when it is fine."""
    module = type(backend).__module__
    name = type(backend).__name__
    if isinstance(backend, ChainerBackend):
        # The chain stores a new password in its first backend: that one must be safe.
        inner = list(backend.backends)
        return _unusable_reason(inner[0]) if inner else _no_backend()
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        return _no_backend()
    if module.startswith("keyrings.alt"):
        return _(
            "The only password store on this computer ({backend}) keeps passwords in a plain "
            "or weakly protected file, which is not safe. smbcrm will ask for the password "
            "each time you open it instead."
        ).format(backend=f"{module}.{name}")
    return None


def _no_backend() -> str:
    return _(
        "This computer has no password store (keyring) that smbcrm can use, so the mail "
        "password cannot be remembered safely. smbcrm will ask for it each time you open it. "
        "On Linux, installing and unlocking GNOME Keyring or KWallet fixes this."
    )


def keyring_status(backend: KeyringBackend | None = None) -> tuple[bool, str]:
    """(usable?, a translated sentence saying where passwords are kept, or why not)."""
    try:
        chosen = backend or keyring.get_keyring()
    except Exception as error:  # noqa: BLE001 -- a broken backend is "no backend"
        log.warning("keyring backend could not be loaded: %s", type(error).__name__)
        return False, _no_backend()
    reason = _unusable_reason(chosen)
    if reason is not None:
        return False, reason
    return True, _("Passwords are kept in the system's password store ({backend}).").format(
        backend=getattr(chosen, "name", type(chosen).__name__)
    )


def default_password_store() -> PasswordStore:
    """The keyring when a secure one exists, else passwords for this session only."""
    usable, _message = keyring_status()
    return KeyringPasswords() if usable else SessionPasswords()
