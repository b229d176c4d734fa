"""Passwords in the keyring only; no usable keyring -> passwords for this session, and why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from smbcrm.core.errors import UserError
from smbcrm.messaging.credentials import (
    KeyringPasswords,
    SessionPasswords,
    default_password_store,
    keyring_status,
)
from smbcrm.messaging.providers import PROVIDERS, guess_provider, provider


class MemoryKeyring(KeyringBackend):
    """A keyring backend for tests: a dict, like a real store seen through keyring's API."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        if (service, username) not in self.items:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.items[(service, username)]


class LockedKeyring(MemoryKeyring):
    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("locked")


class PlaintextKeyring(MemoryKeyring):
    pass


PlaintextKeyring.__module__ = "keyrings.alt.file"


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_keyring_store_uses_service_smbcrm_and_smtp_prefix(memory_keyring):
    store = KeyringPasswords()
    assert store.get("Tienda") is None
    store.set("Tienda", "canary-7f3a")
    assert memory_keyring.items == {("smbcrm", "smtp:Tienda"): "canary-7f3a"}
    assert store.get("Tienda") == "canary-7f3a"
    store.delete("Tienda")
    store.delete("Tienda")  # deleting twice is fine
    assert store.get("Tienda") is None
    assert "canary" not in repr(store)


def test_a_locked_keyring_is_a_user_error(caplog):
    with pytest.raises(UserError, match="password store"):
        KeyringPasswords(LockedKeyring()).get("Tienda")


def test_session_passwords_live_in_memory():
    store = SessionPasswords()
    store.set("Tienda", "canary-7f3a")
    assert store.get("Tienda") == "canary-7f3a"
    assert "canary" not in repr(store)
    store.delete("Tienda")
    assert store.get("Tienda") is None


@pytest.mark.parametrize(
    "backend",
    [fail.Keyring(), null.Keyring(), PlaintextKeyring()],
    ids=["fail", "null", "keyrings.alt"],
)
def test_unsafe_or_missing_backends_are_not_usable(backend):
    usable, why = keyring_status(backend)
    assert not usable
    assert "ask for the password each time" in why or "ask for it each time" in why


def test_chainer_is_usable_when_its_first_backend_is_safe():
    class Chain(chainer.ChainerBackend):
        backends = []

    assert keyring_status(Chain())[0] is False
    Chain.backends = [PlaintextKeyring(), MemoryKeyring()]
    assert keyring_status(Chain())[0] is False  # new passwords would go to the plain file
    Chain.backends = [MemoryKeyring(), PlaintextKeyring()]
    assert keyring_status(Chain())[0] is True


def test_default_store_follows_the_keyring(memory_keyring):
    usable, where = keyring_status()
    assert usable and where.startswith("Passwords are kept in the system's password store (")
    assert isinstance(default_password_store(), KeyringPasswords)
    keyring.set_keyring(fail.Keyring())
    assert isinstance(default_password_store(), SessionPasswords)


def test_providers():
    assert [p.key for p in PROVIDERS] == ["gmail", "workspace", "microsoft365", "outlook", "custom"]
    gmail = provider("gmail")
    assert (gmail.host, gmail.port, gmail.security, gmail.per_day) == (
        "smtp.gmail.com",
        587,
        "starttls",
        500,
    )
    assert provider("workspace").per_day == 2000
    office = provider("microsoft365")
    assert (office.host, office.per_minute, office.per_day) == ("smtp.office365.com", 30, 10000)
    assert (
        provider("outlook").host == "smtp-mail.outlook.com" and provider("outlook").per_day == 300
    )
    custom = provider("custom")
    assert custom.host == "" and custom.per_minute is custom.per_hour is custom.per_day is None
    assert "apppasswords" in gmail.help and "Authenticated SMTP" in office.help
    assert guess_provider("rosa@gmail.com").key == "gmail"
    assert guess_provider("rosa@hotmail.com").key == "outlook"
    assert guess_provider("rosa@tienda.test").key == "custom"
    with pytest.raises(UserError):
        provider("yahoo")


@pytest.mark.skipif(
    not (shutil.which("gnome-keyring-daemon") and shutil.which("dbus-run-session")),
    reason="gnome-keyring and dbus are not installed",
)
def test_real_secret_service(tmp_path):
    """FACTS.md's recipe: an unlocked gnome-keyring in a private D-Bus session."""
    script = textwrap.dedent("""
        from smbcrm.messaging.credentials import KeyringPasswords, keyring_status
        usable, why = keyring_status()
        assert usable, why
        store = KeyringPasswords()
        store.set("Tienda", "canary-7f3a")
        assert store.get("Tienda") == "canary-7f3a"
        store.delete("Tienda")
        assert store.get("Tienda") is None
        print("ok")
    """)
    (tmp_path / "check.py").write_text(script)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    command = (
        "echo pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; "
        f"{sys.executable} {tmp_path / 'check.py'}"
    )
    done = subprocess.run(["dbus-run-session", "--", "sh", "-c", command], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
