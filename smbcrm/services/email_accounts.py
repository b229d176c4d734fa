"""The shop's email accounts: their settings here, their passwords in the OS keyring, test sends."""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError
from peewee import IntegrityError, SqliteDatabase

from smbcrm.core.dates import utc_now
from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _
from smbcrm.messaging.compose import Sender
from smbcrm.messaging.credentials import PasswordStore
from smbcrm.messaging.providers import PROVIDERS
from smbcrm.messaging.transport import SmtpServer, check_security_allowed, send_test_message
from smbcrm.models.tables import AccountSend, EmailAccount
from smbcrm.services.customers import normalise_email

SECURITIES = ("starttls", "tls", "none")
NAME_LIMIT = 60
_HOST = re.compile(r"[A-Za-z0-9.\-:\[\]]{1,253}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class AccountForm:
    """What the owner typed in the account form (or on the command line)."""

    name: str
    host: str
    port: int
    security: str
    username: str = ""
    from_name: str = ""
    from_address: str = ""
    reply_to: str = ""
    provider: str = "custom"
    per_minute: int | None = None
    per_hour: int | None = None
    per_day: int | None = None


@dataclass(frozen=True)
class AccountInfo:
    id: int
    name: str
    provider: str
    host: str
    port: int
    security: str
    username: str
    from_name: str
    from_address: str
    reply_to: str | None
    per_minute: int | None
    per_hour: int | None
    per_day: int | None
    held_until: datetime | None
    hold_reason: str

    @property
    def server(self) -> SmtpServer:
        return SmtpServer(self.host, self.port, self.security, self.username)  # type: ignore[arg-type]

    @property
    def sender(self) -> Sender:
        return Sender(self.from_name, self.from_address, self.reply_to)

    @property
    def password_key(self) -> str:
        """The keyring entry: one per login on a server, whatever the account is called."""
        return f"{self.username or self.from_address}@{self.host}:{self.port}"


def _info(row: EmailAccount) -> AccountInfo:
    return AccountInfo(
        row.id, row.name, row.provider, row.host, row.port, row.security, row.username,
        row.from_name, row.from_address, row.reply_to, row.per_minute, row.per_hour, row.per_day,
        row.held_until, row.hold_reason,
    )  # fmt: skip


def _one_line(value: str, what: str, limit: int = 200) -> str:
    text = value.strip()
    if _CONTROL.search(value) or len(text) > limit:
        raise UserError(
            _("{what} must be at most {limit} characters on one line.").format(
                what=what, limit=limit
            )
        )
    return text


def _address(value: str, what: str) -> str:
    try:
        return normalise_email(value)
    except EmailNotValidError as error:
        raise UserError(
            _("{what} is not a valid email address: {reason}").format(what=what, reason=error)
        ) from error


def _limit(value: int | None, what: str) -> int | None:
    if value in (None, 0, ""):
        return None
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = -1
    if number < 0 or number > 10_000_000:
        raise UserError(_("{what} must be a whole number of messages, or empty.").format(what=what))
    return number


def clean_account(form: AccountForm) -> dict:
    """The columns to store for a form, or a UserError naming the first field that is wrong."""
    name = _one_line(form.name, _("The account name"), NAME_LIMIT)
    if not name:
        raise UserError(_("Give the account a name, for example “Gmail of the shop”."))
    host = form.host.strip()
    if not _HOST.fullmatch(host):
        raise UserError(
            _("“{host}” is not a server name. It looks like smtp.gmail.com.").format(host=host)
        )
    try:
        port = int(form.port)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise UserError(_("The port is a number between 1 and 65535, usually 587 or 465."))
    if form.security not in SECURITIES:
        raise UserError(
            _("The security must be one of: {choices}.").format(choices=", ".join(SECURITIES))
        )
    server = SmtpServer(host, port, form.security, form.username.strip())  # type: ignore[arg-type]
    check_security_allowed(server)
    if form.provider not in {provider.key for provider in PROVIDERS}:
        raise UserError(_("smbcrm does not know the provider “{key}”.").format(key=form.provider))
    return {
        "name": name,
        "provider": form.provider,
        "host": host,
        "port": port,
        "security": form.security,
        "username": _one_line(form.username, _("The user name")),
        "from_name": _one_line(form.from_name, _("The sender name"), 100),
        "from_address": _address(form.from_address, _("The sender address")),
        "reply_to": _address(form.reply_to, _("The reply-to address"))
        if form.reply_to.strip()
        else None,
        "per_minute": _limit(form.per_minute, _("The limit per minute")),
        "per_hour": _limit(form.per_hour, _("The limit per hour")),
        "per_day": _limit(form.per_day, _("The limit per day")),
    }


def save_account(
    db: SqliteDatabase,
    form: AccountForm,
    *,
    passwords: PasswordStore | None = None,
    password: str | None = None,
    account_id: int | None = None,
) -> AccountInfo:
    """Create or update an account; a given password goes to the keyring, never to the file.
    When the login changes (user, server or port), the saved password follows it."""
    columns = clean_account(form)
    before = account(db, account_id) if account_id is not None else None
    try:
        with db.atomic():
            if account_id is None:
                account_id = EmailAccount.insert(created_at=utc_now(), **columns).execute()
            else:
                changed = (
                    EmailAccount.update(**columns).where(EmailAccount.id == account_id).execute()
                )
                if not changed:
                    raise UserError(_("This email account no longer exists."))
    except IntegrityError as error:
        raise UserError(
            _("There is already an account called “{name}”.").format(name=columns["name"])
        ) from error
    info = account(db, account_id)
    if passwords is None:
        return info
    moved = before is not None and before.password_key != info.password_key
    if moved and not password:
        password = passwords.get(before.password_key)
    if password:
        passwords.set(info.password_key, password)
    if moved and not any(a.password_key == before.password_key for a in list_accounts(db)):
        passwords.delete(before.password_key)
    return info


def account(db: SqliteDatabase, account_id: int) -> AccountInfo:
    row = EmailAccount.get_or_none(EmailAccount.id == account_id)
    if row is None:
        raise UserError(_("This email account no longer exists."))
    return _info(row)


def find_account(db: SqliteDatabase, name: str) -> AccountInfo:
    row = EmailAccount.get_or_none(EmailAccount.name == name.strip())
    if row is None:
        raise UserError(
            _("There is no email account called “{name}”. Add it first.").format(name=name)
        )
    return _info(row)


def list_accounts(db: SqliteDatabase) -> list[AccountInfo]:
    return [_info(row) for row in EmailAccount.select().order_by(EmailAccount.name)]


def delete_account(
    db: SqliteDatabase, account_id: int, passwords: PasswordStore | None = None
) -> None:
    info = account(db, account_id)
    with db.atomic():
        EmailAccount.delete().where(EmailAccount.id == account_id).execute()
    if passwords is not None and not any(
        other.password_key == info.password_key for other in list_accounts(db)
    ):
        passwords.delete(info.password_key)


def password_for(info: AccountInfo, passwords: PasswordStore) -> str | None:
    """The account's password, or None when it needs none (no user name) or none is known."""
    if not info.username:
        return None
    password = passwords.get(info.password_key)
    if password is None:
        raise UserError(
            _(
                "smbcrm does not know the password of the account “{name}”. "
                "Type it in Settings > Email accounts."
            ).format(name=info.name)
        )
    return password


def record_send(db: SqliteDatabase, account_id: int, when: datetime | None = None) -> None:
    AccountSend.insert(account=account_id, sent_at=when or utc_now()).execute()


def send_test(
    db: SqliteDatabase,
    account_id: int,
    passwords: PasswordStore,
    to_address: str | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """Send a short test message (to the sender itself unless told otherwise); the server's reply.

    Raises SendFailure with an explanation a shop owner can act on. The message counts toward
    the account's limits like any other."""
    info = account(db, account_id)
    target = _address(to_address, _("The test address")) if to_address else info.from_address
    reply = send_test_message(
        info.server,
        password_for(info, passwords),
        info.sender,
        target,
        ssl_context=ssl_context,
    )
    with db.atomic():
        record_send(db, account_id)
    return reply
