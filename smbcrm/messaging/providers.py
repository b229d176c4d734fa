"""Presets for the mail providers shops use: server, security and sending limits, with a hint."""

from __future__ import annotations

from dataclasses import dataclass

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import N_, _
from smbcrm.messaging.transport import Security


@dataclass(frozen=True)
class Provider:
    key: str
    label: str  # marked with N_: show it with _(provider.label)
    host: str
    port: int
    security: Security
    per_minute: int | None
    per_hour: int | None
    per_day: int | None
    help: str  # marked with N_: show it with _(provider.help)


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        key="gmail",
        label=N_("Gmail"),
        host="smtp.gmail.com",
        port=587,
        security="starttls",
        per_minute=None,
        per_hour=None,
        per_day=500,
        help=N_(
            "Gmail does not accept your usual password here. Turn on 2-Step Verification in "
            "your Google account, then create an app password at "
            "https://myaccount.google.com/apppasswords and paste it as the password. "
            "Gmail sends at most 500 messages a day."
        ),
    ),
    Provider(
        key="workspace",
        label=N_("Google Workspace (Gmail with your own domain)"),
        host="smtp.gmail.com",
        port=587,
        security="starttls",
        per_minute=None,
        per_hour=None,
        per_day=2000,
        help=N_(
            "Use your full address as the username and an app password (2-Step Verification "
            "must be on; https://myaccount.google.com/apppasswords). Your administrator may "
            "have to allow it. Google Workspace sends at most 2,000 messages a day."
        ),
    ),
    Provider(
        key="microsoft365",
        label=N_("Microsoft 365 (Outlook for business)"),
        host="smtp.office365.com",
        port=587,
        security="starttls",
        per_minute=30,
        per_hour=None,
        per_day=10000,
        help=N_(
            "The administrator of your Microsoft 365 account must turn on “Authenticated SMTP” "
            "for this mailbox (Microsoft 365 admin center > Users > Mail > Manage email apps). "
            "Microsoft 365 sends at most 30 messages a minute and 10,000 a day."
        ),
    ),
    Provider(
        key="outlook",
        label=N_("Outlook.com or Hotmail (personal)"),
        host="smtp-mail.outlook.com",
        port=587,
        security="starttls",
        per_minute=None,
        per_hour=None,
        per_day=300,
        help=N_(
            "Use your full Outlook.com address as the username. If your account has two-step "
            "verification, create an app password in your Microsoft account's security "
            "settings. Outlook.com sends at most 300 messages a day."
        ),
    ),
    Provider(
        key="custom",
        label=N_("Another provider"),
        host="",
        port=587,
        security="starttls",
        per_minute=None,
        per_hour=None,
        per_day=None,
        help=N_(
            "Ask your mail provider for the outgoing (SMTP) server, its port and its security: "
            "usually STARTTLS on port 587 or TLS on port 465. Set the sending limits your "
            "provider gives, so messages are spread over time instead of being refused."
        ),
    ),
)


def provider(key: str) -> Provider:
    for candidate in PROVIDERS:
        if candidate.key == key:
            return candidate
    raise UserError(
        _("“{key}” is not a known mail provider; choose one of: {keys}.").format(
            key=key, keys=", ".join(p.key for p in PROVIDERS)
        )
    )


def guess_provider(address: str) -> Provider:
    """The preset that most likely fits an email address (custom when unsure)."""
    domain = address.rpartition("@")[2].strip().lower()
    if domain in ("gmail.com", "googlemail.com"):
        return provider("gmail")
    if domain in ("outlook.com", "hotmail.com", "live.com", "msn.com") or domain.startswith(
        ("outlook.", "hotmail.")
    ):
        return provider("outlook")
    return provider("custom")
