"""Classifying SMTP replies by enhanced status code and text, with real replies from providers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smbcrm.messaging.transport import (
    FailureKind,
    SmtpServer,
    classify_reply,
    explain_reply,
    retry_after_for,
)

T, R, A = FailureKind.TEMPORARY, FailureKind.RECIPIENT, FailureKind.ACCOUNT

# (code, text as the server sends it after the code, stage, expected kind). Texts are the
# servers' own (Gmail's published list, Exchange Online/Outlook.com NDRs, Postfix, Exim).
REPLIES = [
    # Gmail / Google Workspace
    (421, "4.7.0 Try again later, closing connection. (EHLO) - gsmtp", "helo", T),
    (421, "4.3.0 Temporary System Problem. Try again later - gsmtp", "data", T),
    (
        450,
        "4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend your message at a later time. - gsmtp",
        "rcpt",
        T,
    ),
    (451, "4.3.0 Mail server temporarily rejected message. - gsmtp", "data", T),
    (451, "4.4.2 Timeout - closing connection. - gsmtp", "data", T),
    (452, "4.2.2 The email account that you tried to reach is over quota. - gsmtp", "rcpt", T),
    (452, "4.5.3 Your message has too many recipients. - gsmtp", "rcpt", T),
    (454, "4.7.0 Too many login attempts, please try again later. - gsmtp", "auth", A),
    (530, "5.7.0 Must issue a STARTTLS command first. - gsmtp", "mail", A),
    (
        530,
        "5.7.0 Authentication Required. Learn more at https://support.google.com/mail/?p=WantAuthError - gsmtp",
        "mail",
        A,
    ),
    (
        534,
        "5.7.9 Application-specific password required. Learn more at https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp",
        "auth",
        A,
    ),
    (
        534,
        "5.7.14 <https://accounts.google.com/signin/continue?...> Please log in via your web browser and then try again. - gsmtp",
        "auth",
        A,
    ),
    (
        535,
        "5.7.8 Username and Password not accepted. Learn more at https://support.google.com/mail/?p=BadCredentials - gsmtp",
        "auth",
        A,
    ),
    (
        550,
        "5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. - gsmtp",
        "rcpt",
        R,
    ),
    (550, "5.2.1 The email account that you tried to reach is disabled. - gsmtp", "rcpt", R),
    (
        550,
        "5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits go to https://support.google.com/a/answer/166852 - gsmtp",
        "data",
        A,
    ),
    (550, "5.4.5 Daily SMTP relay sending limit exceeded for customer. - gsmtp", "mail", A),
    (
        550,
        "5.7.1 This message violates example.com email policy. - gcdp <sessionid> - gsmtp",
        "data",
        R,
    ),
    (552, "5.2.2 The email account that you tried to reach is over quota. - gsmtp", "rcpt", R),
    (
        552,
        "5.7.0 This message was blocked because its content presents a potential security issue. - gsmtp",
        "data",
        R,
    ),
    (553, "5.1.3 The recipient address <ana@> is not a valid RFC-5321 address. - gsmtp", "rcpt", R),
    (554, "5.6.0 Message exceeded 50 hops, this may indicate a mail loop. - gsmtp", "data", R),
    # Microsoft 365 / Exchange Online / Outlook.com
    (421, "4.3.2 Service not available", "helo", T),
    (432, "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded", "data", T),
    (451, "4.7.500 Server busy. Please try again later from [203.0.113.5].", "rcpt", T),
    (452, "4.3.1 Insufficient system resources", "data", T),
    (535, "5.7.3 Authentication unsuccessful [BN0PR04CA0001.namprd04.prod.outlook.com]", "auth", A),
    (
        535,
        "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
        "auth",
        A,
    ),
    (535, "5.7.139 Authentication unsuccessful, the user credentials were incorrect.", "auth", A),
    (530, "5.7.57 Client not authenticated to send mail. Error: 535 5.7.139", "mail", A),
    (
        550,
        "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        "rcpt",
        R,
    ),
    (550, "5.4.1 Recipient address rejected: Access denied. AS(201806281)", "rcpt", R),
    (550, "5.7.60 SMTP; Client does not have permissions to send as this sender", "data", A),
    (
        554,
        "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Message submission rate for this client has exceeded the configured limit.[EndDiagnosticData]",
        "data",
        A,
    ),
    (
        554,
        "5.2.0 STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent exception with message Move/Copy messages failed.",
        "data",
        R,
    ),
    (
        554,
        "5.2.252 SendAsDeniedException.Mapi.ExceptionHandler; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message.",
        "data",
        A,
    ),
    (
        550,
        "5.3.4 Requested action not taken; To continue sending messages, please verify your account.",
        "data",
        A,
    ),
    # Postfix
    (
        450,
        "4.1.1 <ana@example.test>: Recipient address rejected: User unknown in local recipient table",
        "rcpt",
        T,
    ),
    (
        450,
        "4.7.1 <ana@example.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.test.html",
        "rcpt",
        T,
    ),
    (451, "4.3.0 Error: queue file write error", "data", T),
    (452, "4.3.1 Insufficient system storage", "mail", T),
    (454, "4.7.1 <ana@example.test>: Relay access denied", "rcpt", A),
    (
        550,
        "5.1.1 <ana@example.test>: Recipient address rejected: User unknown in virtual mailbox table",
        "rcpt",
        R,
    ),
    (553, "5.7.1 <rosa@tienda.test>: Sender address rejected: not owned by user shop", "mail", A),
    (554, "5.7.1 <ana@example.test>: Relay access denied", "rcpt", A),
    (554, "5.7.1 <ana@example.test>: Recipient address rejected: Access denied", "rcpt", R),
    (552, "5.3.4 Message size exceeds fixed limit", "data", R),
    (535, "5.7.8 Error: authentication failed: authentication failure", "auth", A),
    # Exim
    (421, "mail.example.test lost input connection", "data", T),
    (450, "4.7.1 Rate limit exceeded. Please try again later.", "mail", A),
    (451, "4.7.0 Too many messages, slow down.", "data", A),
    (451, "Temporary local problem - please try later", "data", T),
    (550, "Unrouteable address", "rcpt", R),
    (550, "Verification failed for <ana@example.test> / Sender verify failed", "mail", A),
    (550, "Administrative prohibition", "rcpt", R),
    (550, "5.7.1 Sending rate exceeded the limit for this account", "data", A),
]


@pytest.mark.parametrize(("code", "text", "stage", "kind"), REPLIES)
def test_classify_real_replies(code, text, stage, kind):
    assert classify_reply(code, text, stage=stage) is kind


@pytest.mark.parametrize("code", [220, 221, 235, 250, 251, 354])
def test_success_and_intermediate_replies_are_not_failures(code):
    assert classify_reply(code, "2.0.0 OK") is None


def test_without_stage_a_permanent_reply_is_about_the_recipient():
    assert classify_reply(550, "No such user here") is R
    assert classify_reply(550, "4.2.0 Mailbox temporarily unavailable") is T


def test_retry_after():
    assert retry_after_for(550, "5.4.5 Daily user sending limit exceeded.") == timedelta(hours=24)
    assert retry_after_for(554, "5.2.0 ... SubmissionQuotaExceededException ...") == timedelta(
        hours=1
    )
    assert retry_after_for(451, "4.7.0 Too many messages, slow down.") == timedelta(minutes=15)
    assert retry_after_for(550, "5.1.1 User unknown") is None


GMAIL = SmtpServer("smtp.gmail.com", 587, "starttls", "rosa@gmail.com")
OFFICE = SmtpServer("smtp.office365.com", 587, "starttls", "rosa@tienda.test")


def test_explanations_a_shop_owner_can_act_on():
    bad_password = explain_reply(GMAIL, 535, "5.7.8 Username and Password not accepted.", A)
    assert "app password" in bad_password and "myaccount.google.com/apppasswords" in bad_password
    assert "app password" in explain_reply(
        GMAIL, 534, "5.7.9 Application-specific password required.", A
    )
    assert "Authenticated SMTP" in explain_reply(
        OFFICE,
        535,
        "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
        A,
    )
    quota = explain_reply(GMAIL, 550, "5.4.5 Daily user sending limit exceeded.", A)
    assert "daily sending limit" in quota and "24 hours" in quota
    assert "STARTTLS" in explain_reply(OFFICE, 530, "5.7.0 Must issue a STARTTLS command first.", A)
    assert "“From” address" in explain_reply(OFFICE, 554, "5.2.252 SendAsDeniedException", A)
    assert "minutes" in explain_reply(OFFICE, 554, "5.2.0 SubmissionQuotaExceededException", A)
