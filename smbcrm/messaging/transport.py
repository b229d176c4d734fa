"""Sending over SMTP through the shop's own account: TLS verified, one recipient per message, one
connection reused, and every failure classified and explained in plain words.

A failure is one of three kinds, and the caller acts on the kind, never on the first digit alone:
TEMPORARY (try this recipient again later), RECIPIENT (this address or this message will never
go through), ACCOUNT (nothing will go through until the owner or the clock fixes the account:
wrong password, quota reached, TLS problem — pause everything).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from enum import Enum
from io import BytesIO
from typing import Literal

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _
from smbcrm.messaging.compose import Sender, ascii_address, compose_message, message_bytes
from smbcrm.messaging.templates import RenderedMail, escape_html

Security = Literal["starttls", "tls", "none"]
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security
    username: str = ""
    timeout: float = 30.0


def check_security_allowed(server: SmtpServer) -> None:
    """Security "none" only for a server on this computer: nothing travels in clear text."""
    if server.security not in ("starttls", "tls", "none"):
        raise UserError(
            _("“{security}” is not a kind of connection security; use STARTTLS or TLS.").format(
                security=server.security
            )
        )
    if server.security == "none" and server.host.strip().lower() not in LOCAL_HOSTS:
        raise UserError(
            _(
                "A connection without encryption is allowed only to a mail server on this "
                "computer (127.0.0.1 or localhost): over the internet your password and your "
                "customers' mail could be read by others. Choose STARTTLS (usually port 587) "
                "or TLS (usually port 465)."
            )
        )


class FailureKind(Enum):
    TEMPORARY = "temporary"  # try this recipient again later
    RECIPIENT = "recipient"  # this recipient (or this message) will never be accepted
    ACCOUNT = "account"  # nothing goes through until the account or the clock is fixed


class SendFailure(Exception):
    """A message (or the connection) failed; ``explanation`` is for the shop owner."""

    def __init__(
        self,
        kind: FailureKind,
        explanation: str,
        *,
        code: int | None = None,
        reply: str = "",
        maybe_delivered: bool = False,
        retry_after: timedelta | None = None,
        stage: str = "",
    ) -> None:
        super().__init__(explanation)
        self.kind = kind
        self.code = code
        self.reply = reply
        self.explanation = explanation
        # True only when the whole message went out and the connection failed before the
        # server's answer: it may have been accepted. Never retry such a message automatically.
        self.maybe_delivered = maybe_delivered
        self.retry_after = retry_after
        self.stage = stage  # connect, tls, auth, mail, rcpt, data, reply

    def __str__(self) -> str:
        return self.explanation

    def __repr__(self) -> str:
        return (
            f"SendFailure({self.kind.name}, code={self.code}, reply={self.reply!r}, "
            f"maybe_delivered={self.maybe_delivered}, stage={self.stage!r})"
        )


# --- classifying replies ---------------------------------------------------------------------

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")

# (reply text pattern, kind, retry after): checked first, in order; the text says more than the
# code (Gmail's daily limit is a 550, Microsoft's submission quota a 554, both about the account).
_TEXT_RULES: tuple[tuple[re.Pattern[str], FailureKind, timedelta | None], ...] = tuple(
    (re.compile(pattern, re.I), kind, retry)
    for pattern, kind, retry in (
        # A recipient's full mailbox mentions quotas too: it is the recipient's problem.
        (r"QuotaExceededException\.MapiExceptionShutoffQuotaExceeded|over quota|mailbox (is )?full|"
         r"insufficient (storage|space)", FailureKind.RECIPIENT, None),
        (r"daily (user )?sending (limit|quota)|sending limit exceeded|daily .*limit exceeded",
         FailureKind.ACCOUNT, timedelta(hours=24)),
        (r"SubmissionQuotaExceeded|submission (rate|quota)|recipient rate limit|"
         r"message rate limit", FailureKind.ACCOUNT, timedelta(hours=1)),
        (r"too many (messages|mails|emails)|rate limit|ratelimit|sending rate|slow down|"
         r"too many login attempts", FailureKind.ACCOUNT, timedelta(minutes=15)),
        (r"SmtpClientAuthentication is disabled|SMTP AUTH (is )?disabled|5\.7\.139",
         FailureKind.ACCOUNT, None),
        (r"application-specific password|app password|BadCredentials|"
         r"username and password not accepted|authentication (unsuccessful|failed|credentials)|"
         r"invalid credentials", FailureKind.ACCOUNT, None),
        (r"must issue a STARTTLS|authentication required|not authenticated|"
         r"authenticate first|SendAsDenied|not owned by user|send as this sender|"
         r"sender address rejected|sender verify failed|relay access denied|"
         r"relaying denied|relay not permitted|please log in via your web browser|"
         r"verify your account|account (has been )?(suspended|disabled|blocked)",
         FailureKind.ACCOUNT, None),
    )
)  # fmt: skip

# Enhanced status codes (RFC 3463) that always mean the account: x.7.8 bad credentials,
# x.7.9 stronger authentication (app password), x.7.14 sign in through the browser, x.7.0 with
# 530 (authentication or STARTTLS required), x.7.57 anonymous submission refused.
_ACCOUNT_ENHANCED = frozenset({(7, 8), (7, 9), (7, 14), (7, 57), (7, 60), (7, 139), (5, 4, 5)})
_ACCOUNT_CODES = frozenset({530, 534, 535, 538})


def classify_reply(code: int, text: str, *, stage: str | None = None) -> FailureKind | None:
    """The kind of failure a server reply means; None when it is not a failure (2xx, 3xx).

    ``stage`` (mail, rcpt, data) helps with permanent replies the table does not know: a
    refused MAIL FROM is about the account, a refused RCPT TO about the recipient."""
    if code < 400:
        return None
    for pattern, kind, _retry in _TEXT_RULES:
        if pattern.search(text):
            if kind is FailureKind.RECIPIENT and code < 500:
                return FailureKind.TEMPORARY  # a full mailbox may empty; 452 4.2.2 says so
            return kind
    enhanced = _ENHANCED.search(text)
    detail = (int(enhanced.group(2)), int(enhanced.group(3))) if enhanced else None
    if code in _ACCOUNT_CODES or (detail is not None and detail in _ACCOUNT_ENHANCED):
        return FailureKind.ACCOUNT
    if detail == (4, 5) and code >= 500:
        return FailureKind.ACCOUNT  # 5.4.5: Gmail's sending quota, whatever the words
    if code == 530 or (code >= 500 and stage == "auth"):
        return FailureKind.ACCOUNT
    if 400 <= code < 500:
        return FailureKind.TEMPORARY
    if enhanced is not None and enhanced.group(1) == "4":
        return FailureKind.TEMPORARY  # "550 4.x.x" is rare but says: temporary
    if stage in ("mail", "connect", "helo", "tls"):
        return FailureKind.ACCOUNT
    return FailureKind.RECIPIENT


def retry_after_for(code: int, text: str) -> timedelta | None:
    for pattern, kind, retry in _TEXT_RULES:
        if pattern.search(text):
            return retry if kind is FailureKind.ACCOUNT else None
    if _ENHANCED.search(text) and "5.4.5" in text:
        return timedelta(hours=24)
    return None


def _is_google(host: str) -> bool:
    return host.lower().endswith(("gmail.com", "google.com", "googlemail.com"))


def _is_microsoft(host: str) -> bool:
    return host.lower().endswith(("office365.com", "outlook.com", "hotmail.com", "live.com"))


def explain_reply(server: SmtpServer, code: int, text: str, kind: FailureKind) -> str:
    """Plain words for a server reply, with what to do."""
    lowered = text.lower()
    quoted = f"{code} {text}".strip()
    if kind is FailureKind.ACCOUNT:
        retry = retry_after_for(code, text)
        if retry is not None and retry >= timedelta(hours=24):
            return _(
                "Your mail account reached its daily sending limit. Sending can continue "
                "after about 24 hours. (The server said: {reply})"
            ).format(reply=quoted)
        if retry is not None:
            return _(
                "Your mail provider says too many messages were sent too quickly. Sending can "
                "continue in about {minutes} minutes. (The server said: {reply})"
            ).format(minutes=int(retry.total_seconds() // 60), reply=quoted)
        if "5.7.139" in text or "smtp auth" in lowered or "smtpclientauthentication" in lowered:
            return _(
                "Microsoft 365 has SMTP sign-in turned off for this mailbox. The administrator "
                "of your Microsoft 365 account must turn on “Authenticated SMTP” for it. "
                "(The server said: {reply})"
            ).format(reply=quoted)
        if "5.7.9" in text or "application-specific" in lowered:
            return _(
                "Gmail needs an app password, not your usual password: turn on 2-Step "
                "Verification in your Google account, create an app password at "
                "https://myaccount.google.com/apppasswords and use it here. "
                "(The server said: {reply})"
            ).format(reply=quoted)
        if code == 535 or "5.7.8" in text or "credentials" in lowered or "password" in lowered:
            if _is_google(server.host):
                return _(
                    "Gmail did not accept the username and password. Gmail needs an app "
                    "password: turn on 2-Step Verification in your Google account, create an "
                    "app password at https://myaccount.google.com/apppasswords and use it "
                    "here. (The server said: {reply})"
                ).format(reply=quoted)
            return _(
                "The mail server did not accept the username and password. Check them and "
                "try again. (The server said: {reply})"
            ).format(reply=quoted)
        if "starttls" in lowered:
            return _(
                "The mail server asks for an encrypted connection first. Choose STARTTLS "
                "(port 587) or TLS (port 465) for this account. (The server said: {reply})"
            ).format(reply=quoted)
        if (
            "sender" in lowered
            or "send as" in lowered
            or "sendas" in lowered
            or "not owned" in lowered
        ):
            return _(
                "The mail server does not let this account send with this “From” address. "
                "Use the address of the account itself. (The server said: {reply})"
            ).format(reply=quoted)
        if "relay" in lowered or "authentication required" in lowered or code == 530:
            return _(
                "The mail server wants you to sign in before sending. Check the username and "
                "password of this account. (The server said: {reply})"
            ).format(reply=quoted)
        return _(
            "The mail server refuses to send from this account for now. Read its answer and "
            "check the account with your provider. (The server said: {reply})"
        ).format(reply=quoted)
    if kind is FailureKind.RECIPIENT:
        return _(
            "The mail server refused this message for this recipient; it will not be "
            "accepted if sent again. (The server said: {reply})"
        ).format(reply=quoted)
    return _(
        "The mail server could not take this message right now; it will be tried again "
        "later. (The server said: {reply})"
    ).format(reply=quoted)


def _reply_failure(server: SmtpServer, code: int, reply: bytes | str, stage: str) -> SendFailure:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    text = " ".join(text.split())
    kind = classify_reply(code, text, stage=stage) or FailureKind.TEMPORARY
    return SendFailure(
        kind,
        explain_reply(server, code, text, kind),
        code=code,
        reply=text,
        retry_after=retry_after_for(code, text) if kind is FailureKind.ACCOUNT else None,
        stage=stage,
    )


def _connection_failure(server: SmtpServer, error: BaseException, stage: str) -> SendFailure:
    """A failure with no reply from the server: explain it from the exception."""
    where = f"{server.host}:{server.port}"
    detail = str(error) or type(error).__name__
    if isinstance(error, ssl.SSLCertVerificationError):
        return SendFailure(
            FailureKind.ACCOUNT,
            _(
                "The security certificate of {server} is not trusted ({detail}). Check the "
                "server name (it must be the one your provider gives, e.g. smtp.gmail.com); "
                "if it is right, the connection may be intercepted: do not send."
            ).format(server=server.host, detail=error.verify_message or detail),
            stage=stage,
        )
    if isinstance(error, ssl.SSLError):
        return SendFailure(
            FailureKind.ACCOUNT,
            _(
                "The encrypted connection to {server} failed ({detail}). Check that the port "
                "matches the security: STARTTLS usually on 587, TLS on 465."
            ).format(server=where, detail=detail),
            stage=stage,
        )
    if isinstance(error, socket.gaierror):
        return SendFailure(
            FailureKind.ACCOUNT,
            _(
                "The mail server “{server}” cannot be found. Check its name and your internet "
                "connection."
            ).format(server=server.host),
            retry_after=timedelta(minutes=5),
            stage=stage,
        )
    if stage == "connect":
        return SendFailure(
            FailureKind.ACCOUNT,
            _(
                "Cannot connect to the mail server {server} ({detail}). Check the internet "
                "connection, the server name and the port; some networks block mail ports "
                "(try 587 or 465)."
            ).format(server=where, detail=detail),
            retry_after=timedelta(minutes=5),
            stage=stage,
        )
    if stage == "reply":
        return SendFailure(
            FailureKind.TEMPORARY,
            _(
                "The connection to {server} was lost after the whole message was sent and "
                "before the server confirmed it: it may or may not have been delivered."
            ).format(server=where),
            maybe_delivered=True,
            stage=stage,
        )
    return SendFailure(
        FailureKind.TEMPORARY,
        _(
            "The connection to the mail server {server} was lost ({detail}); the message was "
            "not delivered and will be tried again."
        ).format(server=where, detail=detail),
        stage=stage,
    )


# --- the session -----------------------------------------------------------------------------


class SmtpSession:
    """One connection to the account's server, reused for many messages (one recipient each)."""

    def __init__(
        self,
        server: SmtpServer,
        password: str | None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        check_security_allowed(server)
        self.server = server
        self._password = password
        self._context = ssl_context
        self._local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None
        self._policies: dict[object, object] = {}

    def __repr__(self) -> str:  # never show the password
        return f"SmtpSession({self.server.host}:{self.server.port}, {self.server.security})"

    def __enter__(self) -> SmtpSession:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context

    def open(self) -> None:
        """Connect, encrypt (TLS or STARTTLS), greet and sign in. Raises SendFailure."""
        self.close()
        server = self.server
        stage = "connect"
        smtp: smtplib.SMTP | None = None
        try:
            if server.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    server.host,
                    server.port,
                    local_hostname=self._local_hostname,
                    timeout=server.timeout,
                    context=self._ssl_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    server.host,
                    server.port,
                    local_hostname=self._local_hostname,
                    timeout=server.timeout,
                )
            stage = "helo"
            code, reply = smtp.ehlo()
            if code != 250:
                raise _reply_failure(server, code, reply, stage)
            if server.security == "starttls":
                stage = "tls"
                if not smtp.has_extn("starttls"):
                    raise SendFailure(
                        FailureKind.ACCOUNT,
                        _(
                            "The mail server {server} does not offer STARTTLS, so the password "
                            "and the mail would travel unencrypted; nothing was sent. Check the "
                            "port (STARTTLS usually on 587; for 465 choose TLS)."
                        ).format(server=f"{server.host}:{server.port}"),
                        stage=stage,
                    )
                code, reply = smtp.starttls(context=self._ssl_context())
                if code != 220:
                    raise _reply_failure(server, code, reply, stage)
                stage = "helo"
                code, reply = smtp.ehlo()
                if code != 250:
                    raise _reply_failure(server, code, reply, stage)
            if server.username:
                stage = "auth"
                if not smtp.has_extn("auth"):
                    raise SendFailure(
                        FailureKind.ACCOUNT,
                        _(
                            "The mail server {server} does not offer to sign in on this "
                            "connection; check the port and the security (STARTTLS or TLS)."
                        ).format(server=f"{server.host}:{server.port}"),
                        stage=stage,
                    )
                try:
                    smtp.login(server.username, self._password or "")
                except smtplib.SMTPAuthenticationError as error:
                    raise _reply_failure(server, error.smtp_code, error.smtp_error, stage) from None
                except UnicodeError:
                    # smtplib sends the password as ASCII; never show or log the character.
                    raise SendFailure(
                        FailureKind.ACCOUNT,
                        _(
                            "The password has letters with accents or other symbols that the "
                            "mail server cannot receive this way. Use a password (or an app "
                            "password) with plain letters, digits and ordinary symbols."
                        ),
                        stage=stage,
                    ) from None
                except smtplib.SMTPException as error:
                    if isinstance(error, smtplib.SMTPResponseException):
                        raise
                    # "No suitable authentication method found", and the like: retrying will
                    # not help, the account must change.
                    raise SendFailure(
                        FailureKind.ACCOUNT,
                        _(
                            "The mail server {server} offers no way of signing in that smbcrm "
                            "knows ({detail}). Check the server, the port and the security "
                            "with your provider."
                        ).format(server=f"{server.host}:{server.port}", detail=error),
                        stage=stage,
                    ) from None
        except SendFailure:
            _quietly_close(smtp)
            raise
        except smtplib.SMTPResponseException as error:
            _quietly_close(smtp)
            raise _reply_failure(server, error.smtp_code, error.smtp_error, stage) from None
        except (OSError, smtplib.SMTPException) as error:
            _quietly_close(smtp)
            raise _connection_failure(server, error, stage) from None
        self._smtp = smtp

    def close(self) -> None:
        """QUIT and close; errors are ignored (the connection may already be gone)."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
            _quietly_close(smtp)

    def send(
        self,
        message: EmailMessage | Message | bytes,
        sender: str,
        recipient: str,
        *,
        before_data: Callable[[], object] | None = None,
        while_waiting: Callable[[], object] | None = None,
    ) -> str:
        """Send message (or its wire form, prepared ahead) to one recipient; returns the
        server's reply to the data (e.g. "250 2.0.0 Ok: queued as 123"). Raises SendFailure.

        before_data runs once the server accepted the recipient and is answering DATA, before
        any of the message goes out (the caller records that it is about to); if it raises, the
        connection is dropped, so the server throws the unfinished message away. while_waiting
        runs once the message is out and the server is working on it, before its reply is read:
        the caller prepares the next message there, in the same thread."""
        data = self._flatten(message)
        sender, recipient = ascii_address(sender), ascii_address(recipient)
        options: tuple[str, ...] = ()
        if not (sender.isascii() and recipient.isascii()):
            options = ("SMTPUTF8", "BODY=8BITMIME")
        if self._smtp is None:
            self.open()
        try:
            self._mail(sender, options)
        except SendFailure as failure:
            if failure.kind is not FailureKind.TEMPORARY or failure.maybe_delivered:
                raise
            # The server may have closed the idle connection between messages (a timeout or a
            # 421): nothing was sent yet, so connect again once and carry on.
            self.open()
            self._mail(sender, options)
        smtp = self._smtp
        assert smtp is not None
        if options and not smtp.has_extn("smtputf8"):
            self._reset()
            raise SendFailure(
                FailureKind.RECIPIENT,
                _(
                    "The address {address} has letters outside the basic alphabet and this "
                    "mail server cannot take such addresses."
                ).format(address=recipient if not recipient.isascii() else sender),
                stage="rcpt",
            )
        try:
            code, reply = smtp.rcpt(recipient)
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise _connection_failure(self.server, error, "rcpt") from None
        if code not in (250, 251):
            self._reset()
            raise _reply_failure(self.server, code, reply, "rcpt")
        return self._data(data, before_data, while_waiting)

    def _mail(self, sender: str, options: tuple[str, ...]) -> None:
        smtp = self._smtp
        assert smtp is not None
        try:
            code, reply = smtp.mail(sender, options)
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise _connection_failure(self.server, error, "mail") from None
        if code != 250:
            if code == 421:
                self._drop()
            else:
                self._reset()
            raise _reply_failure(self.server, code, reply, "mail")

    def _data(
        self,
        data: bytes,
        before_data: Callable[[], object] | None = None,
        while_waiting: Callable[[], object] | None = None,
    ) -> str:
        smtp = self._smtp
        assert smtp is not None
        try:
            smtp.putcmd("data")
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise _connection_failure(self.server, error, "data") from None
        if before_data is not None:
            try:
                before_data()
            except BaseException:
                self._drop()  # nothing of the message went out; the server drops the rest
                raise
        try:
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise _connection_failure(self.server, error, "data") from None
        if code != 354:
            self._reset()
            raise _reply_failure(self.server, code, reply, "data")
        # smtplib.data() cannot tell "lost while sending" from "lost while waiting for the
        # answer"; the second may mean delivered, so the two steps are done here.
        payload = re.sub(rb"(?m)^\.", b"..", data)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        try:
            smtp.send(payload + b".\r\n")
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise _connection_failure(self.server, error, "data") from None
        if while_waiting is not None:
            while_waiting()
        try:
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise _connection_failure(self.server, error, "reply") from None
        text = " ".join(reply.decode("utf-8", "replace").split())
        if code < 200:  # no reply that could be read: it may have been accepted
            self._drop()
            raise SendFailure(
                FailureKind.TEMPORARY,
                _(
                    "The answer of {server} to the message could not be read: it may or may "
                    "not have been delivered."
                ).format(server=f"{self.server.host}:{self.server.port}"),
                code=code,
                reply=text,
                maybe_delivered=True,
                stage="reply",
            )
        if not 200 <= code < 300:
            if code == 421:
                self._drop()
            raise _reply_failure(self.server, code, reply, "data")
        return f"{code} {text}"

    def _reset(self) -> None:
        """RSET after a refused step, so the next message starts clean on the same connection."""
        if self._smtp is None:
            return
        try:
            code, _reply = self._smtp.rset()
            if code != 250:
                self._drop()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        _quietly_close(smtp)

    def _flatten(self, message: EmailMessage | Message | bytes) -> bytes:
        if isinstance(message, bytes):
            return message
        direct = message_bytes(message)
        if direct is not None:
            return direct
        policy = self._policies.get(message.policy)
        if policy is None:
            policy = self._policies[message.policy] = message.policy.clone(linesep="\r\n")
        buffer = BytesIO()
        BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")  # type: ignore[arg-type]
        return buffer.getvalue()


def _quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


def send_test_message(
    server: SmtpServer,
    password: str | None,
    sender: Sender,
    to_address: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """Send a short test mail from the account to to_address; returns the server's reply."""
    text = _(
        "This is a test from smbcrm: your mail account {address} can send mail to your customers."
    ).format(address=sender.address)
    rendered = RenderedMail(
        subject=_("smbcrm test message"),
        html=f"<p>{escape_html(text)}</p>",
        text=text + "\n",
        missing=(),
    )
    domain = sender.address.rpartition("@")[2] or "localhost"
    message, _message_id = compose_message(
        sender=sender,
        to_name=sender.name,
        to_address=to_address,
        rendered=rendered,
        message_id_domain=domain,
    )
    with SmtpSession(server, password, ssl_context=ssl_context) as session:
        return session.send(message, sender.address, to_address)
