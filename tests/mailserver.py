"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests, scripted to give chosen replies.

    with MailServer(tls="starttls", auth=("shop", "secret")) as server:
        SmtpServer("127.0.0.1", server.port, "starttls", "shop")  # client side
        ... server.client_context()  # an SSLContext that trusts the test CA
        ... server.received          # [(mail_from, rcpt, message bytes)] accepted with 250

Scripting: ``replies`` answers RCPT TO (a dict by recipient, or a callable recipient -> (code,
text) or None for the normal 250), ``data_replies`` answers the end of DATA the same way,
``mail_reply`` answers every MAIL FROM, ``data_delay`` waits before answering DATA, and ``drop``
closes the connection without a reply at a stage: "mail", "rcpt" or "after_data" (the whole
message was read). ``drop_count`` limits how many times it drops (None: every time).

The server runs in a thread of the test process, so a client in another process (a CLI run with
subprocess, killed at random moments) can use it too: give that process the port and, for TLS,
``SSL_CERT_FILE=server.ca_file`` so that its ``ssl.create_default_context()`` trusts the test CA.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

Reply = tuple[int, str]
Replies = dict[str, Reply] | Callable[[str], Reply | None] | None

_CA: trustme.CA | None = None
_LOCK = threading.Lock()


def test_ca() -> trustme.CA:
    """One throwaway certificate authority for the whole test run (making one takes a while)."""
    global _CA
    with _LOCK:
        if _CA is None:
            _CA = trustme.CA()
        return _CA


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answer(replies: Replies, key: str) -> Reply | None:
    if replies is None:
        return None
    if callable(replies):
        return replies(key)
    return replies.get(key)


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    def _maybe_drop(self, smtp: SMTP, stage: str) -> bool:
        mail = self.server
        with mail._lock:
            if mail.drop != stage or (
                mail.drop_count is not None and mail.drops >= mail.drop_count
            ):
                return False
            mail.drops += 1
        smtp.transport.abort()
        return True

    async def handle_MAIL(self, smtp, session, envelope, address, mail_options):
        self.server.commands.append(("MAIL", address))
        if self._maybe_drop(smtp, "mail"):
            return "421 4.4.2 dropped"
        if self.server.mail_reply is not None:
            code, text = self.server.mail_reply
            return f"{code} {text}"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        self.server.commands.append(("RCPT", address))
        if self._maybe_drop(smtp, "rcpt"):
            return "421 4.4.2 dropped"
        reply = _answer(self.server.replies, address)
        if reply is not None:
            return f"{reply[0]} {reply[1]}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp, session, envelope):
        if self.server.data_delay:
            await asyncio.sleep(self.server.data_delay)
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        content = envelope.original_content or envelope.content or b""
        if self._maybe_drop(smtp, "after_data"):
            self.server.dropped.append((envelope.mail_from, rcpt, content))
            return "421 4.4.2 dropped"
        reply = _answer(self.server.data_replies, rcpt)
        if reply is not None:
            return f"{reply[0]} {reply[1]}"
        with self.server._lock:
            self.server.count += 1
            queue_id = self.server.count
            for recipient in envelope.rcpt_tos:
                self.server.received.append((envelope.mail_from, recipient, content))
        return f"250 2.0.0 Ok: queued as {queue_id}"


class _Controller(Controller):
    def __init__(self, mail: MailServer, **kwargs: Any) -> None:
        self.mail = mail
        super().__init__(**kwargs)

    def factory(self) -> SMTP:
        smtp = super().factory()
        self.mail._connections.append(smtp)
        return smtp


class MailServer:
    """A scripted SMTP server on 127.0.0.1 and a random free port (a context manager)."""

    def __init__(
        self,
        *,
        tls: Literal["none", "starttls", "tls"] = "none",
        offer_starttls: bool = True,
        auth: tuple[str, str] | None = None,
        auth_require_tls: bool = True,
        certificate: trustme.CA | None = None,
        replies: Replies = None,
        data_replies: Replies = None,
        mail_reply: Reply | None = None,
        data_delay: float = 0.0,
        drop: Literal["mail", "rcpt", "after_data"] | None = None,
        drop_count: int | None = None,
    ) -> None:
        self.tls = tls
        self.offer_starttls = offer_starttls
        self.auth = auth
        self.auth_require_tls = auth_require_tls
        self.ca = certificate or test_ca()
        self.replies = replies
        self.data_replies = data_replies
        self.mail_reply = mail_reply
        self.data_delay = data_delay
        self.drop = drop
        self.drop_count = drop_count
        self.drops = 0
        self.count = 0
        self.port = 0
        self.received: list[tuple[str, str, bytes]] = []
        self.dropped: list[tuple[str, str, bytes]] = []
        self.commands: list[tuple[str, str]] = []
        # (username, whether the connection was encrypted) for every AUTH the server saw.
        self.auth_attempts: list[tuple[str, bool]] = []
        self._lock = threading.Lock()
        self._connections: list[SMTP] = []
        self._controller: _Controller | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    # -- certificates --------------------------------------------------------------------------

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost", "::1").configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """What a client uses to trust this server: the system's defaults plus the test CA."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    @property
    def ca_file(self) -> str:
        """The test CA as a PEM file, for SSL_CERT_FILE in another process."""
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="smbcrm-test-ca-")
        path = Path(self._folder.name) / "ca.pem"
        if not path.exists():
            self.ca.cert_pem.write_to_path(str(path))
        return str(path)

    # -- running -------------------------------------------------------------------------------

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username = auth_data.login.decode("utf-8", "replace")
        self.auth_attempts.append((username, self.tls == "tls" or session.ssl is not None))
        ok = self.auth is not None and (
            username == self.auth[0]
            and auth_data.password.decode("utf-8", "replace") == self.auth[1]
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> MailServer:
        kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "server_hostname": "mail.test",
            "enable_SMTPUTF8": True,
            "decode_data": False,
            "auth_require_tls": self.auth_require_tls,
        }
        if self.auth is not None:
            kwargs["authenticator"] = self._authenticate
        if self.tls == "starttls" and self.offer_starttls:
            kwargs["tls_context"] = self.server_context()
        if self.tls == "tls":
            kwargs["ssl_context"] = self.server_context()
            # aiosmtpd only knows about STARTTLS: on implicit TLS it would never offer AUTH.
            kwargs["auth_require_tls"] = False
        last_error: Exception | None = None
        for _attempt in range(5):
            self.port = _free_port()
            controller = _Controller(self, handler=_Handler(self), port=self.port, **kwargs)
            try:
                controller.start()
            except Exception as error:  # the free port was taken meanwhile: pick another
                last_error = error
                continue
            self._controller = controller
            self._connections.clear()  # start() makes one connection to check the server is up
            return self
        raise RuntimeError(f"the test mail server could not start: {last_error}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def disconnect_clients(self) -> None:
        """Close every open connection, as a server does when an idle client times out."""
        controller = self._controller
        if controller is None:
            return
        done = threading.Event()

        def close_all() -> None:
            for smtp in self._connections:
                transport = getattr(smtp, "transport", None)
                if transport is not None and not transport.is_closing():
                    transport.close()
            done.set()

        controller.loop.call_soon_threadsafe(close_all)
        done.wait(5)

    @property
    def connections(self) -> int:
        """How many connections clients have opened."""
        return len(self._connections)

    def recipients(self) -> list[str]:
        return [rcpt for _sender, rcpt, _data in self.received]

    def __enter__(self) -> MailServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
