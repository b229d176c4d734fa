"""Shared fixtures: a fresh shop file per test, English messages, and one-line builders."""

from __future__ import annotations

import os
from datetime import date, datetime

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from smbcrm.core.i18n import set_language, set_message_locale  # noqa: E402
from smbcrm.models.tables import Customer, Purchase, PurchaseLine  # noqa: E402
from smbcrm.services.shop import open_shop  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """Logs and default files go to a temporary folder; messages are English unless asked
    (numbers in them as the shop writes them, once a test opens one)."""
    monkeypatch.setenv("SMBCRM_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("SMBCRM_LANGUAGE", "en")
    set_language("en")
    set_message_locale(None)
    yield
    set_language("en")
    set_message_locale(None)


@pytest.fixture
def shop(tmp_path):
    """An open, empty shop file of the current schema."""
    db = open_shop(tmp_path / "shop.db")
    yield db
    db.close_for_good()


def make_customer(**fields) -> Customer:
    values = {"first_name": "Ana", "last_name": "Gómez", "email": "ana@example.com"}
    values.update(fields)
    return Customer.create(**values)


def make_purchase(customer: Customer | None, amounts=(10_000,), when: datetime | None = None):
    when = when or datetime(2026, 1, 15, 15, 30)
    purchase = Purchase.create(
        customer=customer, purchased_at=when, total=sum(amounts), currency="COP"
    )
    for amount in amounts:
        PurchaseLine.create(purchase=purchase, unit_price=amount, amount=amount)
    return purchase


def shop_with_filler(path) -> bytearray:
    """A closed shop file with a large extra table; returns its bytes, to damage in tests."""
    db = open_shop(path)
    db.execute_sql("CREATE TABLE filler (x TEXT)")
    with db.atomic():
        for index in range(2000):
            db.execute_sql("INSERT INTO filler VALUES (?)", (f"row {index} " * 20,))
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close_for_good()
    return bytearray(path.read_bytes())


def damage_deep_inside(path) -> None:
    """Scribble over the second half of a shop file: the schema opens, the data is damaged."""
    data = shop_with_filler(path)
    for offset in range(len(data) // 2 // 4096 * 4096, len(data), 4096):
        data[offset + 100 : offset + 400] = b"\xa5" * 300
    path.write_bytes(bytes(data))


@pytest.fixture
def today() -> date:
    return date(2026, 11, 22)


# --- a real SMTP server on 127.0.0.1 (tests/mailserver.py) ---


@pytest.fixture
def mail_server_factory():
    """mail_server_factory(tls=..., auth=..., replies=...) starts a scripted server; all stop at the end."""
    from tests.mailserver import MailServer

    servers = []

    def start(**options):
        server = MailServer(**options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def mail_server(mail_server_factory):
    """A plain SMTP server on 127.0.0.1 that accepts everything."""
    return mail_server_factory()


class MemoryPasswords:
    """Stands in for the OS keyring in tests (the keyring has tests of its own)."""

    def __init__(self, **known: str) -> None:
        self.known = dict(known)

    def get(self, account: str) -> str | None:
        return self.known.get(account)

    def set(self, account: str, password: str) -> None:
        self.known[account] = password

    def delete(self, account: str) -> None:
        self.known.pop(account, None)


def make_account(db, server, **fields):
    """An email account pointing at a test MailServer (plain SMTP on 127.0.0.1 by default)."""
    from smbcrm.services.email_accounts import AccountForm, save_account

    values = {"name": "Tienda", "host": "127.0.0.1", "port": server.port, "security": "none",
              "from_name": "Tienda La Esquina", "from_address": "tienda@example.com"}  # fmt: skip
    values.update(fields)
    return save_account(db, AccountForm(**values))


def make_campaign(db, account, *, name="Promo", audience="all", marketing=True,
                  subject="Hola {{ first_name }}",
                  body="<p>Hola {{ first_name }}, gracias por venir.</p>"):  # fmt: skip
    """A draft campaign with its own template."""
    from smbcrm.services.campaigns import create_campaign
    from smbcrm.services.mail_templates import save_template

    template = save_template(db, f"{name} template", subject, body, marketing=marketing)
    return create_campaign(
        db, name, template_id=template.id, account_id=account.id, audience=audience
    )


def queue(db, campaign):
    """Check and queue a draft campaign, as the owner confirming the counts would."""
    from smbcrm.services.campaigns import check_campaign, queue_campaign

    return queue_campaign(db, check_campaign(db, campaign.id))
