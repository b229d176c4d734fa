"""SMTP transport against a real aiosmtpd server on 127.0.0.1: TLS, sign-in, replies, drops."""

from __future__ import annotations

import ssl
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from smbcrm.core.errors import UserError
from smbcrm.messaging.compose import Sender, compose_message
from smbcrm.messaging.templates import RenderedMail
from smbcrm.messaging.transport import (
    FailureKind,
    SendFailure,
    SmtpServer,
    SmtpSession,
    check_security_allowed,
    send_test_message,
)

SENDER = Sender("Tienda Doña Rosa", "rosa@tienda.test")


def message(to: str = "ana@example.test", text: str = "Hola Ana"):
    rendered = RenderedMail("Hola", f"<p>{text}</p>", f"{text}\n", ())
    return compose_message(
        sender=SENDER,
        to_name="Ana",
        to_address=to,
        rendered=rendered,
        message_id_domain="tienda.test",
    )[0]


def plain(server, **fields) -> SmtpServer:
    return SmtpServer("127.0.0.1", server.port, "none", **fields)


def test_sends_one_recipient_per_message_over_one_connection(mail_server):
    with SmtpSession(plain(mail_server), None) as session:
        replies = [
            session.send(message(f"c{i}@example.test"), SENDER.address, f"c{i}@example.test")
            for i in range(5)
        ]
    assert all(reply.startswith("250 2.0.0 Ok: queued as") for reply in replies)
    assert mail_server.recipients() == [f"c{i}@example.test" for i in range(5)]
    assert mail_server.connections == 1
    assert b"Subject: Hola" in mail_server.received[0][2]


def test_reconnects_when_the_server_closed_the_idle_connection(mail_server):
    with SmtpSession(plain(mail_server), None) as session:
        session.send(message(), SENDER.address, "a@example.test")
        mail_server.disconnect_clients()
        session.send(message(), SENDER.address, "b@example.test")
    assert mail_server.recipients() == ["a@example.test", "b@example.test"]
    assert mail_server.connections == 2


def test_starttls_with_sign_in(mail_server_factory):
    server = mail_server_factory(tls="starttls", auth=("shop", "s3cret"))
    account = SmtpServer("127.0.0.1", server.port, "starttls", "shop")
    with SmtpSession(account, "s3cret", ssl_context=server.client_context()) as session:
        session.send(message(), SENDER.address, "ana@example.test")
    assert server.auth_attempts == [("shop", True)]
    assert server.recipients() == ["ana@example.test"]


def test_implicit_tls_with_sign_in(mail_server_factory):
    server = mail_server_factory(tls="tls", auth=("shop", "s3cret"))
    account = SmtpServer("127.0.0.1", server.port, "tls", "shop")
    reply = send_test_message(
        account, "s3cret", SENDER, "rosa@tienda.test", ssl_context=server.client_context()
    )
    assert reply.startswith("250")
    assert server.recipients() == ["rosa@tienda.test"]


def test_wrong_password_is_an_account_failure(mail_server_factory):
    server = mail_server_factory(tls="starttls", auth=("shop", "s3cret"))
    account = SmtpServer("127.0.0.1", server.port, "starttls", "shop")
    with pytest.raises(SendFailure) as caught:
        SmtpSession(account, "wrong", ssl_context=server.client_context()).open()
    failure = caught.value
    assert failure.kind is FailureKind.ACCOUNT and failure.code == 535
    assert "username and password" in failure.explanation
    assert "wrong" not in failure.explanation and "wrong" not in repr(failure)


def test_untrusted_certificate_is_explained(mail_server_factory):
    server = mail_server_factory(tls="starttls", auth=("shop", "s3cret"))
    account = SmtpServer("127.0.0.1", server.port, "starttls", "shop")
    with pytest.raises(SendFailure) as caught:
        SmtpSession(account, "s3cret").open()  # the system's certificates: the test CA is unknown
    assert caught.value.kind is FailureKind.ACCOUNT
    assert "certificate of 127.0.0.1 is not trusted" in caught.value.explanation
    assert server.auth_attempts == []


def test_untrusted_certificate_on_implicit_tls(mail_server_factory):
    server = mail_server_factory(tls="tls")
    with pytest.raises(SendFailure) as caught:
        SmtpSession(SmtpServer("127.0.0.1", server.port, "tls"), None).open()
    assert "not trusted" in caught.value.explanation


def test_server_without_starttls_is_refused_before_any_password(mail_server_factory):
    # The server offers AUTH in clear text; the client must not use it.
    server = mail_server_factory(tls="starttls", offer_starttls=False, auth=("shop", "s3cret"),
                                 auth_require_tls=False)  # fmt: skip
    account = SmtpServer("127.0.0.1", server.port, "starttls", "shop")
    with pytest.raises(SendFailure) as caught:
        SmtpSession(account, "s3cret", ssl_context=server.client_context()).open()
    assert caught.value.kind is FailureKind.ACCOUNT
    assert "does not offer STARTTLS" in caught.value.explanation
    assert server.auth_attempts == []


def test_security_none_only_for_this_computer():
    check_security_allowed(SmtpServer("127.0.0.1", 25, "none"))
    check_security_allowed(SmtpServer("localhost", 25, "none"))
    check_security_allowed(SmtpServer("::1", 25, "none"))
    with pytest.raises(UserError, match="only to a mail server on this computer"):
        check_security_allowed(SmtpServer("smtp.example.com", 25, "none"))
    with pytest.raises(UserError):
        SmtpSession(SmtpServer("192.168.1.10", 25, "none"), None)


def test_cannot_connect_is_explained():
    port = __import__("tests.mailserver", fromlist=["_free_port"])._free_port()
    with pytest.raises(SendFailure) as caught:
        SmtpSession(SmtpServer("127.0.0.1", port, "none", timeout=5), None).open()
    assert caught.value.kind is FailureKind.ACCOUNT
    assert "Cannot connect" in caught.value.explanation
    assert caught.value.retry_after == timedelta(minutes=5)


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ((550, "5.1.1 <x@example.test>: Recipient address rejected: User unknown"), FailureKind.RECIPIENT),
        ((553, "5.1.3 The recipient address is not a valid RFC-5321 address."), FailureKind.RECIPIENT),
        ((554, "5.7.1 <x@example.test>: Recipient address rejected: Access denied"), FailureKind.RECIPIENT),
        ((450, "4.2.1 The user you are trying to contact is receiving mail too quickly."), FailureKind.TEMPORARY),
        ((451, "4.3.0 Mail server temporarily rejected message."), FailureKind.TEMPORARY),
        ((452, "4.2.2 The email account that you tried to reach is over quota."), FailureKind.TEMPORARY),
        ((550, "5.4.5 Daily user sending limit exceeded."), FailureKind.ACCOUNT),
    ],
)  # fmt: skip
def test_each_recipient_reply_class_and_the_connection_stays_usable(
    mail_server_factory, reply, kind
):
    server = mail_server_factory(replies={"bad@example.test": reply})
    with SmtpSession(plain(server), None) as session:
        with pytest.raises(SendFailure) as caught:
            session.send(message("bad@example.test"), SENDER.address, "bad@example.test")
        assert caught.value.kind is kind
        assert caught.value.code == reply[0] and reply[1] in caught.value.reply
        assert not caught.value.maybe_delivered
        session.send(message(), SENDER.address, "good@example.test")  # after RSET, same connection
    assert server.recipients() == ["good@example.test"]
    assert server.connections == 1


def test_daily_quota_after_data_pauses_with_a_retry_time(mail_server_factory):
    server = mail_server_factory(
        data_replies=lambda rcpt: (550, "5.4.5 Daily user sending limit exceeded. - gsmtp")
    )
    with SmtpSession(plain(server), None) as session, pytest.raises(SendFailure) as caught:
        session.send(message(), SENDER.address, "ana@example.test")
    assert caught.value.kind is FailureKind.ACCOUNT
    assert caught.value.retry_after == timedelta(hours=24)
    assert "daily sending limit" in caught.value.explanation


def test_sender_refused_at_mail_from_is_an_account_failure(mail_server_factory):
    server = mail_server_factory(
        mail_reply=(
            553,
            "5.7.1 <rosa@tienda.test>: Sender address rejected: not owned by user shop",
        )
    )
    with SmtpSession(plain(server), None) as session, pytest.raises(SendFailure) as caught:
        session.send(message(), SENDER.address, "ana@example.test")
    assert caught.value.kind is FailureKind.ACCOUNT
    assert "From" in caught.value.explanation


@pytest.mark.parametrize("stage", ["mail", "rcpt"])
def test_connection_dropped_before_data_is_temporary(mail_server_factory, stage):
    # At MAIL FROM the session reconnects once by itself: drop that attempt too.
    server = mail_server_factory(drop=stage, drop_count=2 if stage == "mail" else 1)
    with SmtpSession(plain(server), None) as session:
        with pytest.raises(SendFailure) as caught:
            session.send(message(), SENDER.address, "ana@example.test")
        assert caught.value.kind is FailureKind.TEMPORARY
        assert not caught.value.maybe_delivered
        session.send(message(), SENDER.address, "ana@example.test")  # reconnects
    assert server.recipients() == ["ana@example.test"]


def test_connection_dropped_after_the_data_may_have_delivered(mail_server_factory):
    server = mail_server_factory(drop="after_data", drop_count=1)
    with SmtpSession(plain(server), None) as session:
        with pytest.raises(SendFailure) as caught:
            session.send(message(), SENDER.address, "ana@example.test")
        assert caught.value.kind is FailureKind.TEMPORARY
        assert caught.value.maybe_delivered
        assert "may or may not have been delivered" in caught.value.explanation
        assert server.dropped and b"To: Ana <ana@example.test>" in server.dropped[0][2]
        session.send(message(), SENDER.address, "next@example.test")
    assert server.recipients() == ["next@example.test"]


def test_no_reply_within_the_timeout_may_have_delivered(mail_server_factory):
    server = mail_server_factory(data_delay=1.5)
    account = SmtpServer("127.0.0.1", server.port, "none", timeout=0.5)
    with SmtpSession(account, None) as session, pytest.raises(SendFailure) as caught:
        session.send(message(), SENDER.address, "ana@example.test")
    assert caught.value.maybe_delivered


def test_a_line_starting_with_a_dot_arrives_intact(mail_server):
    msg = message(text="line one")
    msg.get_payload()[0].set_payload(".\r\n.hidden\r\n")
    with SmtpSession(plain(mail_server), None) as session:
        session.send(msg, SENDER.address, "ana@example.test")
    assert b"\r\n.hidden\r\n" in mail_server.received[0][2]


def test_another_process_trusts_the_test_server_through_ssl_cert_file(mail_server_factory):
    server = mail_server_factory(tls="tls")
    script = textwrap.dedent(f"""
        from smbcrm.messaging.compose import Sender
        from smbcrm.messaging.transport import SmtpServer, send_test_message
        print(send_test_message(SmtpServer("127.0.0.1", {server.port}, "tls"), None,
                                Sender("Rosa", "rosa@tienda.test"), "rosa@tienda.test"))
    """)
    env = {"SSL_CERT_FILE": server.ca_file, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("250")
    assert server.recipients() == ["rosa@tienda.test"]


def test_default_context_verifies_hostnames():
    session = SmtpSession(SmtpServer("smtp.example.com", 587, "starttls"), None)
    context = session._ssl_context()
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


def test_tls_against_a_plain_server_is_explained(mail_server):
    with pytest.raises(SendFailure) as caught:
        SmtpSession(SmtpServer("127.0.0.1", mail_server.port, "tls", timeout=5), None).open()
    assert caught.value.kind is FailureKind.ACCOUNT
    assert "Check that the port matches the security" in caught.value.explanation


def test_send_test_message_explains_a_refusal(mail_server_factory):
    server = mail_server_factory(
        data_replies=lambda rcpt: (
            554,
            "5.7.60 SMTP; Client does not have permissions to send as this sender",
        )
    )
    with pytest.raises(SendFailure) as caught:
        send_test_message(plain(server), None, SENDER, "rosa@tienda.test")
    assert caught.value.kind is FailureKind.ACCOUNT
    assert "“From” address" in caught.value.explanation


def test_explanations_are_translated(mail_server_factory):
    from smbcrm.core.i18n import set_language

    set_language("es")
    server = mail_server_factory(tls="starttls", offer_starttls=False)
    with pytest.raises(SendFailure) as caught:
        SmtpSession(SmtpServer("127.0.0.1", server.port, "starttls"), None).open()
    assert "no ofrece STARTTLS" in caught.value.explanation


def test_international_domain_goes_out_in_ascii(mail_server):
    with SmtpSession(plain(mail_server), None) as session:
        session.send(message("ana@niñez.co"), SENDER.address, "ana@niñez.co")
    assert mail_server.recipients() == ["ana@xn--niez-hqa.co"]


def test_the_caller_records_before_the_data_and_prepares_while_the_server_works(mail_server):
    events = []
    with SmtpSession(plain(mail_server), None) as session:
        reply = session.send(
            message(text="uno"), SENDER.address, "ana@example.test",
            before_data=lambda: events.append(("before", len(mail_server.received))),
            while_waiting=lambda: events.append(("waiting", len(mail_server.received))),
        )  # fmt: skip
    assert reply.startswith("250")
    assert [name for name, _count in events] == ["before", "waiting"]
    assert events[0][1] == 0  # nothing had gone out when the caller recorded it
    assert len(mail_server.received) == 1


def test_a_failure_before_the_data_sends_nothing_and_the_session_goes_on(mail_server):
    def broken() -> None:
        raise RuntimeError("the shop file is locked")

    with SmtpSession(plain(mail_server), None) as session:
        with pytest.raises(RuntimeError):
            session.send(message(text="uno"), SENDER.address, "ana@example.test",
                         before_data=broken)  # fmt: skip
        session.send(message(text="dos"), SENDER.address, "luis@example.test")
    assert [rcpt for _f, rcpt, _d in mail_server.received] == ["luis@example.test"]


def test_a_password_with_accents_is_explained_and_never_shown(mail_server_factory):
    server = mail_server_factory(auth=("tienda", "contraseña"), auth_require_tls=False)
    session = SmtpSession(SmtpServer("127.0.0.1", server.port, "none", "tienda"), "contraseña")
    with pytest.raises(SendFailure) as caught:
        session.open()
    assert caught.value.kind is FailureKind.ACCOUNT
    assert "ñ" not in caught.value.explanation and "accents" in caught.value.explanation
