"""Campaigns and their persistent outbox: check, queue, send, pause, resume, and survive crashes.

Every (campaign, customer) pair has one outbox row. A row is claimed as 'sending' in a durable
transaction before its message can leave; just before the message data goes to the server the
row is marked 'handed over' in a quick transaction (written to the operating system, not
flushed to disk: synchronous=NORMAL); 'sent' follows the server's 250 reply. After a crash of the program every row
still 'sending' tells the truth: not handed over means it never left (queued again), handed
over means it may have arrived ('uncertain': the owner decides). After a crash of the whole
computer the quick writes may be lost, so every row still 'sending' becomes 'uncertain'. This
keeps one disk flush per batch of messages instead of two per message, and never sends twice
on its own."""

from __future__ import annotations

import bisect
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from peewee import IntegrityError, OperationalError, SqliteDatabase

from smbcrm.core.dates import to_local, utc_now
from smbcrm.core.errors import UserError
from smbcrm.core.i18n import N_, _, ngettext
from smbcrm.core.progress import CancelToken, ProgressCallback, no_progress
from smbcrm.messaging.compose import HeaderInjectionError, compose_message, message_bytes
from smbcrm.messaging.credentials import PasswordStore
from smbcrm.messaging.templates import RenderedMail, TemplateError
from smbcrm.messaging.transport import FailureKind, SendFailure, SmtpSession
from smbcrm.models.tables import Campaign, EmailAccount, MailTemplate, Suppression
from smbcrm.services.email_accounts import AccountInfo, password_for
from smbcrm.services.email_accounts import account as load_account
from smbcrm.services.mail_templates import Recipient, RecipientRenderer
from smbcrm.services.privacy import email_hash
from smbcrm.services.segments import segment_choices, segment_sql
from smbcrm.services.settings import load_settings

log = logging.getLogger(__name__)

OUTBOX_STATES = ("queued", "sending", "sent", "deferred", "failed", "uncertain", "suppressed")
FINAL_STATES = ("sent", "failed", "suppressed")
STATE_LABELS = {
    "queued": N_("Waiting to be sent"),
    "sending": N_("Being sent"),
    "sent": N_("Sent"),
    "deferred": N_("Will try again"),
    "failed": N_("Not delivered"),
    "uncertain": N_("May or may not have arrived"),
    "suppressed": N_("Not sent"),
}
CAMPAIGN_STATES = {
    "draft": N_("Draft"),
    "queued": N_("Sending"),
    "paused": N_("Paused"),
    "finished": N_("Finished"),
    "cancelled": N_("Cancelled"),
}
PROBLEMS = {
    "no_email": N_("No email address"),
    "unsubscribed": N_("Unsubscribed"),
    "bounced": N_("The address bounced before"),
    "do_not_mail": N_("On the do-not-mail list"),
    "no_consent": N_("Has not agreed to receive promotions"),
    "frequency_cap": N_("Already received enough promotions this week"),
    "template_error": N_("The template fails for this customer"),
    "missing_values": N_("Some merge fields are empty"),
}
WARNINGS = ("missing_values",)  # shown, but the message still goes
NAME_LIMIT = 80
CLAIM_BATCH = 50  # one disk flush per 50 messages; at most 50 'uncertain' after a power cut
MAX_ATTEMPTS = 6
BACKOFF_SECONDS = (60, 300, 1800, 7200, 21600)
FREQUENCY_WINDOW = timedelta(days=7)
_HARD_BOUNCE = re.compile(r"\b5\.1\.[0-9]\b|user unknown|no such user|does not exist", re.I)


@dataclass(frozen=True)
class CampaignInfo:
    id: int
    name: str
    template_id: int | None
    template_name: str
    account_id: int | None
    account_name: str
    audience: str
    subject: str
    state: str
    pause_reason: str
    marketing: bool
    created_at: datetime
    queued_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def state_text(self) -> str:
        return _(CAMPAIGN_STATES.get(self.state, self.state))

    @property
    def remaining(self) -> int:
        return sum(self.counts.get(state, 0) for state in ("queued", "sending", "deferred"))


@dataclass(frozen=True)
class RecipientProblem:
    customer_id: int
    name: str
    email: str
    kind: str
    detail: str = ""

    @property
    def text(self) -> str:
        return self.detail or _(PROBLEMS[self.kind])


@dataclass(frozen=True)
class CampaignCheck:
    campaign_id: int
    total: int
    sendable: int  # messages that will go (warnings included)
    problems: tuple[RecipientProblem, ...]
    counts: dict[str, int]  # problem kind -> recipients
    example: RenderedMail | None  # the first recipient's message
    recipient_ids: tuple[int, ...] = ()  # the audience as checked

    @property
    def blocked(self) -> int:
        return self.total - self.sendable

    def summary(self) -> str:
        lines = [
            ngettext(
                "{count} message will be sent.", "{count} messages will be sent.", self.sendable
            ).format(count=self.sendable)
        ]
        for kind, count in sorted(self.counts.items()):
            lines.append(f"{_(PROBLEMS[kind])}: {count}")
        return "\n".join(lines)


@dataclass(frozen=True)
class SendOutcome:
    state: str  # finished | waiting | paused | stopped | needs_decision
    counts: dict[str, int]
    message: str
    resume_at: datetime | None = None


# ---------------------------------------------------------------------------------------------
# Campaigns


def audience_label(audience: str, db: SqliteDatabase | None = None) -> str:
    """The audience in words; with the shop at hand a segment's key becomes its name."""
    kind, _sep, value = audience.partition(":")
    if kind == "segment" and db is not None:
        value = dict(segment_choices(db)).get(value, value)
    if kind == "all":
        return _("All customers")
    if kind == "tag":
        return _("Customers tagged “{tag}”").format(tag=value)
    if kind == "segment":
        return _("Segment “{segment}”").format(segment=value)
    if kind == "customers":
        count = len([part for part in value.split(",") if part.strip()])
        return ngettext("{count} chosen customer", "{count} chosen customers", count).format(
            count=count
        )
    return audience


def audience_sql(db: SqliteDatabase, audience: str) -> tuple[str, tuple]:
    """SQL selecting the ids of the audience's customers (archived and merged ones left out)."""
    active = "archived = 0 AND merged_into_id IS NULL"
    kind, _sep, value = audience.strip().partition(":")
    if kind == "all" and not value:
        return f"SELECT id FROM customer WHERE {active}", ()
    if kind == "tag" and value.strip():
        found = db.execute_sql(
            "SELECT id FROM tag WHERE name = ? COLLATE NOCASE", (value.strip(),)
        ).fetchone()
        if found is None:
            raise UserError(_("There is no tag called “{tag}”.").format(tag=value.strip()))
        return (
            f"SELECT id FROM customer WHERE {active} AND id IN "
            "(SELECT customer_id FROM customer_tag WHERE tag_id = ?)",
            (found[0],),
        )
    if kind == "segment" and value.strip():
        sql, params = segment_sql(db, value.strip())
        return f"SELECT id FROM customer WHERE {active} AND id IN ({sql})", tuple(params)
    if kind == "customers" and value.strip():
        try:
            ids = tuple(int(part) for part in value.split(",") if part.strip())
        except ValueError:
            ids = ()
        if ids:
            marks = ",".join("?" * len(ids))
            return f"SELECT id FROM customer WHERE {active} AND id IN ({marks})", ids
    raise UserError(
        _(
            "“{audience}” is not an audience. Use all, tag:NAME, segment:NAME or customers:1,2,3."
        ).format(audience=audience)
    )


def audience_ids(db: SqliteDatabase, audience: str) -> list[int]:
    sql, params = audience_sql(db, audience)
    return [row[0] for row in db.execute_sql(sql + " ORDER BY id", params)]


def counts(db: SqliteDatabase, campaign_id: int) -> dict[str, int]:
    found = dict.fromkeys(OUTBOX_STATES, 0)
    for state, count in db.execute_sql(
        "SELECT state, COUNT(*) FROM outbox_message WHERE campaign_id = ? GROUP BY state",
        (campaign_id,),
    ):
        found[state] = count
    return found


_CAMPAIGN_SQL = """
SELECT c.id, c.name, c.template_id, COALESCE(t.name, ''), c.account_id, COALESCE(a.name, ''),
    c.audience, CASE WHEN c.subject != '' THEN c.subject ELSE COALESCE(t.subject, '') END,
    c.state, c.pause_reason, c.marketing, c.created_at, c.queued_at, c.finished_at
FROM campaign c
LEFT JOIN mail_template t ON t.id = c.template_id
LEFT JOIN email_account a ON a.id = c.account_id
"""


def _campaigns(db: SqliteDatabase, where: str = "", params: tuple = ()) -> list[CampaignInfo]:
    """Campaigns with their names and counts in two queries, however many there are (the list
    in the window reads them every few seconds while one is sending)."""
    rows = db.execute_sql(f"{_CAMPAIGN_SQL} {where} ORDER BY c.created_at DESC", params).fetchall()
    if not rows:
        return []
    marks = ",".join("?" * len(rows))
    found: dict[int, dict[str, int]] = {row[0]: dict.fromkeys(OUTBOX_STATES, 0) for row in rows}
    for campaign_id, state, count in db.execute_sql(
        f"SELECT campaign_id, state, COUNT(*) FROM outbox_message "
        f"WHERE campaign_id IN ({marks}) GROUP BY campaign_id, state",
        [row[0] for row in rows],
    ):
        found[campaign_id][state] = count
    return [
        CampaignInfo(
            row_id, name, template_id, template_name, account_id, account_name, audience,
            subject, state, pause_reason, bool(marketing), _as_time(created),
            _as_time(queued), _as_time(finished), found[row_id],
        )  # fmt: skip
        for (row_id, name, template_id, template_name, account_id, account_name, audience,
             subject, state, pause_reason, marketing, created, queued, finished) in rows
    ]  # fmt: skip


def _as_time(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def campaign(db: SqliteDatabase, campaign_id: int) -> CampaignInfo:
    found = _campaigns(db, "WHERE c.id = ?", (campaign_id,))
    if not found:
        raise UserError(_("This campaign no longer exists."))
    return found[0]


def find_campaign(db: SqliteDatabase, name: str) -> CampaignInfo:
    found = _campaigns(db, "WHERE c.name = ? COLLATE NOCASE", (name.strip(),))
    if not found:
        raise UserError(_("There is no campaign called “{name}”.").format(name=name))
    return found[0]


def list_campaigns(db: SqliteDatabase) -> list[CampaignInfo]:
    return _campaigns(db)


def create_campaign(
    db: SqliteDatabase,
    name: str,
    *,
    template_id: int,
    account_id: int,
    audience: str,
    subject: str = "",
) -> CampaignInfo:
    name = " ".join(name.split())
    if not name or len(name) > NAME_LIMIT:
        raise UserError(
            _("A campaign name must be 1 to {limit} characters.").format(limit=NAME_LIMIT)
        )
    audience_sql(db, audience)
    load_account(db, account_id)
    template = MailTemplate.get_or_none(MailTemplate.id == template_id)
    if template is None:
        raise UserError(_("This template no longer exists."))
    if subject and any(ord(char) < 32 for char in subject):
        raise UserError(_("The subject must be on one line."))
    try:
        with db.atomic():
            campaign_id = Campaign.insert(
                name=name, template=template_id, account=account_id, audience=audience.strip(),
                subject=subject.strip(), marketing=template.marketing, created_at=utc_now(),
            ).execute()  # fmt: skip
    except IntegrityError as error:
        raise UserError(
            _("There is already a campaign called “{name}”.").format(name=name)
        ) from error
    return campaign(db, campaign_id)


def delete_campaign(db: SqliteDatabase, campaign_id: int) -> None:
    """Only a draft can go: a campaign that sent anything is part of customers' history."""
    info = campaign(db, campaign_id)
    if info.state != "draft":
        raise UserError(_("Only a draft can be deleted; cancel the campaign instead."))
    with db.atomic():
        Campaign.delete().where(Campaign.id == campaign_id).execute()


# ---------------------------------------------------------------------------------------------
# Who may receive a message now


class _Gate:
    """Decides, with the shop's current data, whether a recipient may get this campaign's mail."""

    def __init__(self, db: SqliteDatabase, marketing: bool, campaign_id: int | None) -> None:
        self.db = db
        self.marketing = marketing
        self.campaign_id = campaign_id
        self.weekly_cap = int(load_settings(db).get("marketing_emails_per_week", 2) or 0)
        self._suppressed = {
            row[0]: row[1] for row in db.execute_sql("SELECT email_hash, reason FROM suppression")
        }

    def reload_suppressed(self, emails: list[str]) -> None:
        """Read the do-not-mail list again for these addresses (a run of many hours must see a
        bounce or an unsubscribe recorded meanwhile)."""
        hashes = [email_hash(address) for address in emails if address]
        for hashed in hashes:
            self._suppressed.pop(hashed, None)
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for hashed, reason in self.db.execute_sql(
                f"SELECT email_hash, reason FROM suppression WHERE email_hash IN ({marks})", chunk
            ):
                self._suppressed[hashed] = reason

    def suppress(self, email: str, reason: str) -> None:
        self._suppressed[email_hash(email)] = reason

    def recent_marketing(self, customer_ids: list[int]) -> dict[int, int]:
        if not (self.marketing and self.weekly_cap and customer_ids):
            return {}
        marks = ",".join("?" * len(customer_ids))
        since = str(utc_now() - FREQUENCY_WINDOW)
        rows = self.db.execute_sql(
            f"SELECT o.customer_id, COUNT(*) FROM outbox_message o "
            f"JOIN campaign c ON c.id = o.campaign_id "
            f"WHERE o.customer_id IN ({marks}) AND o.state = 'sent' AND o.sent_at >= ? "
            f"AND c.marketing = 1 AND c.id != ? GROUP BY o.customer_id",
            (*customer_ids, since, self.campaign_id or -1),
        )
        return dict(rows.fetchall())

    def problem(self, recipient: Recipient, recent: int) -> str | None:
        if not recipient.email:
            return "no_email"
        reason = self._suppressed.get(email_hash(recipient.email))
        if reason is not None:
            return "bounced" if reason == "bounced" else "do_not_mail"
        if recipient.consent == "withdrawn":
            return "unsubscribed"
        if self.marketing and recipient.consent != "granted":
            return "no_consent"
        if self.marketing and self.weekly_cap and recent >= self.weekly_cap:
            return "frequency_cap"
        return None


def check_campaign(
    db: SqliteDatabase,
    campaign_id: int,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> CampaignCheck:
    """Render every recipient once and list what would go wrong; nothing is queued or sent."""
    row = Campaign.get_or_none(Campaign.id == campaign_id)
    if row is None:
        raise UserError(_("This campaign no longer exists."))
    subject, body = _text_of(row)
    renderer = RecipientRenderer(db, subject, body)
    gate = _Gate(db, bool(row.marketing), campaign_id)
    ids = audience_ids(db, row.audience)
    problems: list[RecipientProblem] = []
    tally: dict[str, int] = {}
    sendable = 0
    example: RenderedMail | None = None
    progress(0, len(ids), _("Checking every message…"))
    for done, (recipient, recent) in enumerate(_with_recent(renderer, gate, ids), start=1):
        kind = gate.problem(recipient, recent)
        detail = ""
        rendered = None
        if kind is None:
            try:
                rendered = renderer.render(recipient, with_text=False)
            except TemplateError as error:
                kind, detail = "template_error", str(error)
        if kind is None and rendered is not None:
            sendable += 1
            example = example or rendered
            if rendered.missing:
                kind = "missing_values"
                detail = _("Empty: {fields}").format(fields=", ".join(rendered.missing))
        if kind is not None:
            tally[kind] = tally.get(kind, 0) + 1
            problems.append(
                RecipientProblem(
                    recipient.customer_id, recipient.name, recipient.email or "", kind, detail
                )
            )
        if done % 500 == 0:
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(done, len(ids), _("Checking every message…"))
    return CampaignCheck(
        campaign_id, len(ids), sendable, tuple(problems), tally, example, tuple(ids)
    )


def _with_recent(
    renderer: RecipientRenderer, gate: _Gate, ids: list[int]
) -> Iterator[tuple[Recipient, int]]:
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        recent = gate.recent_marketing(chunk)
        for recipient in renderer.recipients(chunk):
            yield recipient, recent.get(recipient.customer_id, 0)


def _text_of(row: Campaign) -> tuple[str, str]:
    """The campaign's subject and body: its own copy once queued, else its template's."""
    if row.state != "draft":
        return row.subject, row.body_html
    template = MailTemplate.get_or_none(MailTemplate.id == row.template_id)
    if template is None:
        raise UserError(_("The template of this campaign was deleted. Choose another one."))
    return row.subject or template.subject, template.body_html


def queue_campaign(db: SqliteDatabase, check: CampaignCheck) -> CampaignInfo:
    """Put the checked messages in the outbox, as the owner confirmed them, in one transaction.

    Recipients with a blocking problem get a 'suppressed' (or, for a template error, 'failed')
    row with the reason, so the campaign's report and their timelines say why."""
    blocked = {p.customer_id: p for p in check.problems if p.kind not in WARNINGS}
    # The customers the owner saw checked, less any who left the audience since (a tag taken
    # off, a segment no longer matched, archived, erased, merged): nobody unchecked is added.
    still_there = set(audience_ids(db, campaign(db, check.campaign_id).audience))
    ids = [customer_id for customer_id in check.recipient_ids if customer_id in still_there]
    now = utc_now()
    with db.atomic():
        row = Campaign.get_or_none(Campaign.id == check.campaign_id)
        if row is None:
            raise UserError(_("This campaign no longer exists."))
        if row.state != "draft":
            raise UserError(_("This campaign is already in the outbox."))
        subject, body = _text_of(row)
        rows = []
        for customer_id in ids:
            problem = blocked.get(customer_id)
            if problem is None:
                rows.append((check.campaign_id, customer_id, "queued", "", now))
            else:
                state = "failed" if problem.kind == "template_error" else "suppressed"
                rows.append((check.campaign_id, customer_id, state, problem.text, now))
        db.connection().executemany(
            "INSERT OR IGNORE INTO outbox_message (campaign_id, customer_id, state, reason, "
            "updated_at) VALUES (?, ?, ?, ?, ?)",
            [(c, i, s, r, str(t)) for c, i, s, r, t in rows],
        )
        Campaign.update(
            subject=subject, body_html=body, state="queued", queued_at=now, pause_reason=""
        ).where(Campaign.id == check.campaign_id).execute()
    return campaign(db, check.campaign_id)


# ---------------------------------------------------------------------------------------------
# Owner's controls


def pause_campaign(db: SqliteDatabase, campaign_id: int, reason: str = "") -> None:
    with db.atomic():
        Campaign.update(state="paused", pause_reason=reason).where(
            (Campaign.id == campaign_id) & (Campaign.state == "queued")
        ).execute()


def resume_campaign(db: SqliteDatabase, campaign_id: int) -> None:
    """Back to sending. A hold with a time (the provider's daily quota) stays: sending goes on
    when it ends; a hold without one (a password the owner has now fixed) is lifted."""
    with db.atomic():
        row = Campaign.get_or_none(Campaign.id == campaign_id)
        if row is None:
            raise UserError(_("This campaign no longer exists."))
        if row.state == "paused":
            Campaign.update(state="queued", pause_reason="").where(
                Campaign.id == campaign_id
            ).execute()
            if row.account_id is not None:
                EmailAccount.update(hold_reason="").where(
                    (EmailAccount.id == row.account_id) & EmailAccount.held_until.is_null()
                ).execute()


def cancel_campaign(db: SqliteDatabase, campaign_id: int) -> None:
    """Stop for good: messages not yet sent are dropped; a sending campaign must stop first."""
    with _only_sender(db, campaign_id, busy=_("Pause the campaign first, then cancel it.")):
        recover_interrupted(db, campaign_id)
        with db.atomic():
            db.execute_sql(
                "DELETE FROM outbox_message WHERE campaign_id = ? "
                "AND state IN ('queued', 'deferred')",
                (campaign_id,),
            )
            db.execute_sql(
                "UPDATE outbox_message SET state = 'failed', reason = ?, updated_at = ? "
                "WHERE campaign_id = ? AND state = 'uncertain'",
                (_("Cancelled; it may have arrived before."), str(utc_now()), campaign_id),
            )
            Campaign.update(state="cancelled", finished_at=utc_now()).where(
                Campaign.id == campaign_id
            ).execute()


def resolve_uncertain(db: SqliteDatabase, campaign_id: int, *, resend: bool) -> int:
    """The owner's choice for messages that may have arrived: send again, or leave them."""
    with db.atomic():
        if resend:
            cursor = db.execute_sql(
                "UPDATE outbox_message SET state = 'queued', handed_over = 0, reason = '', "
                "updated_at = ? WHERE campaign_id = ? AND state = 'uncertain'",
                (str(utc_now()), campaign_id),
            )
        else:
            cursor = db.execute_sql(
                "UPDATE outbox_message SET state = 'failed', reason = ?, updated_at = ? "
                "WHERE campaign_id = ? AND state = 'uncertain'",
                (
                    _("Not sent again: it may already have arrived."),
                    str(utc_now()),
                    campaign_id,
                ),
            )
        _finish_if_done(db, campaign_id)
    return cursor.rowcount


def _finish_if_done(db: SqliteDatabase, campaign_id: int) -> bool:
    marks = ",".join(f"'{state}'" for state in FINAL_STATES)
    open_rows = db.execute_sql(
        f"SELECT COUNT(*) FROM outbox_message WHERE campaign_id = ? AND state NOT IN ({marks})",
        (campaign_id,),
    ).fetchone()[0]
    if open_rows:
        return False
    Campaign.update(state="finished", finished_at=utc_now()).where(
        (Campaign.id == campaign_id) & (Campaign.state.in_(("queued", "paused")))
    ).execute()
    return True


# ---------------------------------------------------------------------------------------------
# Crash recovery


def boot_identity() -> str:
    """Changes whenever the computer restarts (and, off Linux, sometimes after sleep: that
    only makes recovery more careful)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return str(round((time.time() - time.monotonic()) / 60))


def recover_interrupted(db: SqliteDatabase, campaign_id: int) -> int:
    """Settle rows a crash left 'sending'; returns how many became 'uncertain'."""
    boot = boot_identity()
    now = str(utc_now())
    with db.atomic():
        db.execute_sql(
            "UPDATE outbox_message SET state = CASE WHEN attempts > 1 THEN 'deferred' "
            "ELSE 'queued' END, attempts = attempts - 1, next_attempt_at = ?, updated_at = ? "
            "WHERE campaign_id = ? AND state = 'sending' AND handed_over = 0 "
            "AND claimed_boot = ?",
            (now, now, campaign_id, boot),
        )
        cursor = db.execute_sql(
            "UPDATE outbox_message SET state = 'uncertain', reason = ?, updated_at = ? "
            "WHERE campaign_id = ? AND state = 'sending'",
            (
                _(
                    "smbcrm stopped while this message was being sent: it may or may not "
                    "have arrived."
                ),
                now,
                campaign_id,
            ),
        )
    return cursor.rowcount


# ---------------------------------------------------------------------------------------------
# Provider limits


class SendingLimits:
    """The account's per-minute/hour/day limits, counted over every message it sent (shared
    with other campaigns and test sends through the account_send table)."""

    RESYNC = 200

    def __init__(self, db: SqliteDatabase, account: AccountInfo) -> None:
        self.db = db
        self.account_id = account.id
        self.windows = [
            (seconds, limit)
            for seconds, limit in (
                (60, account.per_minute),
                (3600, account.per_hour),
                (86400, account.per_day),
            )  # fmt: skip
            if limit
        ]
        self._times: list[float] = []
        self._since_sync = 0
        self.sync()

    def sync(self) -> None:
        if not self.windows:
            return
        since = utc_now() - timedelta(seconds=max(seconds for seconds, _ in self.windows))
        self._times = sorted(
            datetime.fromisoformat(str(at)).timestamp()
            for (at,) in self.db.execute_sql(
                "SELECT sent_at FROM account_send WHERE account_id = ? AND sent_at >= ?",
                (self.account_id, str(since)),
            )
        )
        self._since_sync = 0

    def allowance(self, now: datetime) -> int:
        """How many messages may go right now."""
        if not self.windows:
            return 1_000_000
        stamp = now.timestamp()
        return max(
            0,
            min(
                limit - (len(self._times) - bisect.bisect_right(self._times, stamp - seconds))
                for seconds, limit in self.windows
            ),
        )

    def next_free(self, now: datetime) -> datetime:
        """When the next message may go."""
        stamp = now.timestamp()
        wait = 0.0
        for seconds, limit in self.windows:
            start = bisect.bisect_right(self._times, stamp - seconds)
            inside = len(self._times) - start
            if inside >= limit:
                oldest_that_must_expire = self._times[start + inside - limit]
                wait = max(wait, oldest_that_must_expire + seconds - stamp + 0.001)
        return now + timedelta(seconds=wait)

    def record(self, now: datetime) -> None:
        if not self.windows:
            return
        self._times.append(now.timestamp())
        self._since_sync += 1
        if self._since_sync >= self.RESYNC:
            self.sync()


# ---------------------------------------------------------------------------------------------
# Sending


_RUNNING: set[tuple[str, int]] = set()
_RUNNING_LOCK = threading.Lock()


def _running_key(db: SqliteDatabase, campaign_id: int) -> tuple[str, int]:
    return (str(db.database), campaign_id)


def is_sending(db: SqliteDatabase, campaign_id: int) -> bool:
    return _running_key(db, campaign_id) in _RUNNING


@contextmanager
def _only_sender(db: SqliteDatabase, campaign_id: int, busy: str = "") -> Iterator[None]:
    key = _running_key(db, campaign_id)
    with _RUNNING_LOCK:
        if key in _RUNNING:
            raise UserError(busy or _("This campaign is already being sent."))
        _RUNNING.add(key)
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(key)


@contextmanager
def _quick(db: SqliteDatabase) -> Iterator[None]:
    """A transaction written to the operating system but not flushed to disk: it survives a
    crash of smbcrm, not of the computer. Used only where losing it is safe (see the module).
    synchronous=NORMAL, not OFF: in WAL mode NORMAL still flushes around checkpoints, so a
    power cut can lose the newest quick writes but never older durable ones, nor damage the
    file. Plain statements on the thread's connection: it runs once per message."""
    connection = db.connection()
    connection.execute("PRAGMA synchronous = NORMAL")
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    finally:
        if not connection.in_transaction:
            connection.execute("PRAGMA synchronous = FULL")


def _eta_text(done: int, total: int, started: float) -> str:
    elapsed = time.monotonic() - started
    if done <= 0 or elapsed <= 0:
        return ""
    seconds = (total - done) * elapsed / done
    if seconds < 90:
        return _("less than 2 minutes left")
    finish = _local_text(utc_now() + timedelta(seconds=seconds))
    if seconds < 5400:
        return _("about {minutes} minutes left, done about {time}").format(
            minutes=round(seconds / 60), time=finish
        )
    return _("about {hours} hours left, done about {time}").format(
        hours=round(seconds / 3600), time=finish
    )


class _Lookahead:
    """Messages of a batch prepared one ahead: the next one is rendered and composed while the
    server works on the current one (SmtpSession.send's while_waiting), in the same thread, so
    nothing waits for the interpreter lock."""

    def __init__(self, calls: list[tuple]) -> None:
        self.calls = calls
        self.ready: dict[int, object] = {}

    def prepare(self, position: int) -> None:
        if position < len(self.calls) and position not in self.ready:
            function, *arguments = self.calls[position]
            try:
                self.ready[position] = ("done", function(*arguments))
            except Exception as error:  # a bug: raised where the result is asked for
                self.ready[position] = ("raised", error)

    def result(self, position: int):
        self.prepare(position)
        outcome, value = self.ready.pop(position)
        if outcome == "raised":
            raise value
        return value


class _Sender:
    """One run of one campaign: claims batches, sends, records every outcome."""

    def __init__(
        self,
        db: SqliteDatabase,
        campaign_id: int,
        passwords: PasswordStore,
        ssl_context: ssl.SSLContext | None,
        progress: ProgressCallback,
        cancel: CancelToken | None,
        max_wait: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.db = db
        self.campaign_id = campaign_id
        self.progress = progress
        self.cancel = cancel
        self.max_wait = max_wait
        self.sleep = sleep
        row = Campaign.get_by_id(campaign_id)
        if row.account_id is None:
            raise UserError(_("The email account of this campaign was deleted. Choose another."))
        self.account = load_account(db, row.account_id)
        self.password = password_for(self.account, passwords)
        self.ssl_context = ssl_context
        self.renderer = RecipientRenderer(db, row.subject, row.body_html)
        self.gate = _Gate(db, bool(row.marketing), campaign_id)
        self.limits = SendingLimits(db, self.account)
        self.boot = boot_identity()
        self.unsubscribe = self.account.reply_to or self.account.from_address
        self.domain = self.account.from_address.rpartition("@")[2] or "localhost"
        self.marketing = bool(row.marketing)
        self.pending_sent: list[tuple[str, str, str, int]] = []
        self.session: SmtpSession | None = None
        start = counts(db, campaign_id)
        self.total = sum(start[state] for state in ("queued", "deferred", "sending"))
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()

    # Writing outcomes -------------------------------------------------------------------------

    @contextmanager
    def _write(self, *, durable: bool = True) -> Iterator[None]:
        """One transaction that also records the 'sent' marks waiting since the last one; they
        are forgotten only once it committed (a failed write keeps them for the next)."""
        pending = list(self.pending_sent)
        with self.db.atomic() if durable else _quick(self.db):
            if pending:
                connection = self.db.connection()
                connection.executemany(
                    "UPDATE outbox_message SET state = 'sent', server_reply = ?, message_id = ?, "
                    "sent_at = ?, updated_at = ?, reason = '' WHERE id = ?",
                    [(reply, mid, at, at, row_id) for reply, mid, at, row_id in pending],
                )
                connection.executemany(
                    "INSERT INTO account_send (account_id, sent_at) VALUES (?, ?)",
                    [(self.account.id, at) for _reply, _mid, at, _row in pending],
                )
            yield
        del self.pending_sent[: len(pending)]

    def _set(self, row_id: int, state: str, reason: str = "", **extra: object) -> None:
        assignments = "".join(f", {column} = ?" for column in extra)
        self.db.connection().execute(
            f"UPDATE outbox_message SET state = ?, reason = ?, updated_at = ?{assignments} "
            f"WHERE id = ?",
            (state, reason, str(utc_now()), *extra.values(), row_id),
        )

    def _release(self, rows: list[tuple[int, int, int]]) -> None:
        """Claimed rows that were not handed over go back to the queue (durably)."""
        with self._write():
            for row_id, _customer, attempts in rows:
                self._set(row_id, "queued" if attempts <= 1 else "deferred",
                          attempts=attempts - 1, handed_over=0)  # fmt: skip

    # The loop -------------------------------------------------------------------------------

    def run(self) -> SendOutcome:
        try:
            return self._loop()
        except OperationalError as error:
            if "locked" not in str(error).lower():
                raise
            # Another long write (an import) holds the shop file: try again in a minute.
            retry = utc_now() + timedelta(seconds=BACKOFF_SECONDS[0])
            message = _("The shop file is busy with other work; sending goes on in a minute.")
            return SendOutcome("waiting", counts(self.db, self.campaign_id), message, retry)
        finally:
            if self.pending_sent:
                try:
                    with self._write():
                        pass
                except OperationalError:
                    # Left 'sending' and handed over: shown as uncertain, never sent again.
                    log.exception("could not record %d sent messages", len(self.pending_sent))
            if self.session is not None:
                self.session.close()

    def _state(self) -> str:
        row = Campaign.get_or_none(Campaign.id == self.campaign_id)
        return row.state if row is not None else "cancelled"

    def _loop(self) -> SendOutcome:
        while True:
            if self.cancel is not None and self.cancel.cancelled:
                return self._outcome("stopped")
            if self._state() != "queued":
                return self._outcome("paused")
            hold = self._account_hold()
            if hold is not None:
                return hold
            now = utc_now()
            allowance = self.limits.allowance(now)
            if allowance <= 0:
                waiting = self._wait_until(self.limits.next_free(now), limit=True)
                if waiting is not None:
                    return waiting
                self.limits.sync()  # other sends (a test message) may have happened meanwhile
                continue
            claimed = self._claim(min(CLAIM_BATCH, allowance), now)
            if not claimed:
                idle = self._when_nothing_due()
                if idle is not None:
                    return idle
                continue
            stop = self._send_batch(claimed)
            if stop is not None:
                return stop

    def _account_hold(self) -> SendOutcome | None:
        row = EmailAccount.get_by_id(self.account.id)
        if row.held_until is None:
            return None
        until = datetime.fromisoformat(str(row.held_until))
        if until <= utc_now():
            with self.db.atomic():
                EmailAccount.update(held_until=None, hold_reason="").where(
                    EmailAccount.id == row.id
                ).execute()
            return None
        return self._wait_until(until, reason=row.hold_reason)

    def _wait_until(
        self, moment: datetime, *, limit: bool = False, reason: str = ""
    ) -> SendOutcome | None:
        """Sleep (cancellable) when the wait is short; otherwise stop and say when to resume."""
        seconds = (moment - utc_now()).total_seconds()
        if seconds <= self.max_wait:
            remaining = max(0.0, seconds)
            while remaining > 0:
                if self.cancel is not None and self.cancel.cancelled:
                    return self._outcome("stopped")
                step = min(0.2, remaining)
                self.sleep(step)
                remaining -= step
            return None
        if limit:
            reason = _(
                "The account's sending limit is reached. smbcrm goes on at {time}; the rest "
                "of the campaign is spread over the coming hours or days."
            ).format(time=_local_text(moment))
        return self._outcome("waiting", reason, resume_at=moment)

    def _claim(self, how_many: int, now: datetime) -> list[tuple[int, int, int]]:
        with self._write():  # durable: the claim must be on disk before anything leaves
            rows = self.db.execute_sql(
                "SELECT id, customer_id, attempts + 1 FROM outbox_message "
                "WHERE campaign_id = ? AND (state = 'queued' OR (state = 'deferred' "
                "AND COALESCE(next_attempt_at, '') <= ?)) ORDER BY id LIMIT ?",
                (self.campaign_id, str(now), how_many),
            ).fetchall()
            if rows:
                marks = ",".join(str(row[0]) for row in rows)
                self.db.execute_sql(
                    f"UPDATE outbox_message SET state = 'sending', handed_over = 0, "
                    f"claimed_boot = ?, attempts = attempts + 1, updated_at = ? "
                    f"WHERE id IN ({marks})",
                    (self.boot, str(now)),
                )
        return rows

    def _when_nothing_due(self) -> SendOutcome | None:
        now = counts(self.db, self.campaign_id)
        if now["deferred"]:
            (next_at,) = self.db.execute_sql(
                "SELECT MIN(next_attempt_at) FROM outbox_message "
                "WHERE campaign_id = ? AND state = 'deferred'",
                (self.campaign_id,),
            ).fetchone()
            moment = datetime.fromisoformat(str(next_at)) if next_at else utc_now()
            return self._wait_until(
                moment,
                reason=_(
                    "Some messages could not be delivered yet; smbcrm tries again at {time}."
                ).format(time=_local_text(moment)),
            )
        if now["uncertain"]:
            return self._outcome(
                "needs_decision",
                ngettext(
                    "{count} message may or may not have arrived. Choose whether to send it again.",
                    "{count} messages may or may not have arrived. Choose whether to send "
                    "them again.",
                    now["uncertain"],
                ).format(count=now["uncertain"]),
            )
        with self.db.atomic():
            _finish_if_done(self.db, self.campaign_id)
        return self._outcome("finished")

    def _connect(self, claimed: list[tuple[int, int, int]]) -> SendOutcome | None:
        """Open the connection before a message is handed over; a refusal here is about the
        account or the network, never about a recipient."""
        try:
            session = SmtpSession(self.account.server, self.password, ssl_context=self.ssl_context)
            session.open()
        except SendFailure as failure:
            self._release(claimed)
            if failure.kind is FailureKind.ACCOUNT:
                self._hold_account(failure)
                return self._outcome("paused", failure.explanation)
            retry = utc_now() + timedelta(seconds=BACKOFF_SECONDS[0])
            return self._outcome("waiting", failure.explanation, resume_at=retry)
        self.session = session
        return None

    def _prepare(self, recipient: Recipient | None, recent: int) -> tuple[str, object, str]:
        """What to do with one recipient, worked out ahead on the composing thread while the
        previous message travels: ('erased' | 'blocked' | 'error' | 'ready', detail, id)."""
        if recipient is None:
            return "erased", _("The customer was erased."), ""
        problem = self.gate.problem(recipient, recent)
        if problem is not None:
            return "blocked", _(PROBLEMS[problem]), ""
        try:
            rendered = self.renderer.render(recipient)
            message, message_id = compose_message(
                sender=self.account.sender,
                to_name=recipient.name,
                to_address=recipient.email or "",
                rendered=rendered,
                message_id_domain=self.domain,
                unsubscribe_mailto=self.unsubscribe if self.marketing else None,
            )
        except (TemplateError, HeaderInjectionError) as error:
            return "error", str(error), ""
        return "ready", message_bytes(message) or message, message_id

    def _send_batch(self, claimed: list[tuple[int, int, int]]) -> SendOutcome | None:
        recipients = {
            r.customer_id: r for r in self.renderer.recipients([c for _i, c, _a in claimed if c])
        }
        recent = self.gate.recent_marketing(list(recipients))
        self.gate.reload_suppressed([r.email for r in recipients.values() if r.email])
        prepared = _Lookahead(
            [
                (self._prepare, recipients.get(customer_id), recent.get(customer_id, 0))
                for _row, customer_id, _attempts in claimed
            ],
        )
        return self._send_prepared(claimed, recipients, prepared)

    def _send_prepared(self, claimed, recipients, prepared) -> SendOutcome | None:
        for position, (row_id, customer_id, attempts) in enumerate(claimed):
            if self.cancel is not None and self.cancel.cancelled:
                self._release(claimed[position:])
                return self._outcome("stopped")
            kind, detail, message_id = prepared.result(position)
            if kind in ("erased", "blocked"):
                with _quick(self.db):
                    self._set(row_id, "suppressed", str(detail))
                continue
            if kind == "error":
                with _quick(self.db):
                    self._set(row_id, "failed", str(detail))
                self.failed += 1
                continue
            recipient = recipients[customer_id]
            if self.session is None:
                stop = self._connect(claimed[position:])
                if stop is not None:
                    return stop

            def handing_over(row_id=row_id, email=recipient.email) -> None:
                # Written while the server answers DATA, before any of the message goes out.
                with self._write(durable=False):
                    self._set(row_id, "sending", handed_over=1, email=email)

            try:
                assert self.session is not None
                reply = self.session.send(
                    detail,
                    self.account.from_address,
                    recipient.email,
                    before_data=handing_over,
                    while_waiting=lambda ahead=position + 1: prepared.prepare(ahead),
                )
            except SendFailure as failure:
                stop = self._failed(row_id, attempts, recipient, failure, claimed[position + 1 :])
                if stop is not None:
                    return stop
                continue
            now = utc_now()
            self.pending_sent.append((reply, message_id, str(now), row_id))
            self.limits.record(now)
            self.done += 1
            if self.done % 10 == 0 or self.done == self.total:
                self._report()
        return None

    def _failed(
        self,
        row_id: int,
        attempts: int,
        recipient: Recipient,
        failure: SendFailure,
        rest: list[tuple[int, int, int]],
    ) -> SendOutcome | None:
        reason = failure.explanation
        if failure.reply:
            reason = f"{reason} ({failure.reply})"
        if failure.maybe_delivered:
            with self._write():
                self._set(row_id, "uncertain", reason)
            self._drop_session()
            return None
        if failure.kind is FailureKind.ACCOUNT:
            self._release([(row_id, 0, attempts), *rest])
            self._hold_account(failure)
            return self._outcome("paused", reason)
        if failure.kind is FailureKind.RECIPIENT:
            with self._write(durable=False):
                self._set(row_id, "failed", reason, server_reply=failure.reply)
                if _HARD_BOUNCE.search(failure.reply or "") and recipient.email:
                    Suppression.insert(
                        email_hash=email_hash(recipient.email), reason="bounced",
                        created_at=utc_now(),
                    ).on_conflict_ignore().execute()  # fmt: skip
                    self.gate.suppress(recipient.email, "bounced")
            self.failed += 1
            return None
        # Temporary: try again later, with growing pauses, then give up.
        self._drop_session()
        with self._write(durable=False):
            if attempts >= MAX_ATTEMPTS:
                self._set(row_id, "failed", reason, server_reply=failure.reply)
                self.failed += 1
            else:
                delay = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
                self._set(row_id, "deferred", reason, server_reply=failure.reply,
                          next_attempt_at=str(utc_now() + timedelta(seconds=delay)))  # fmt: skip
        return None

    def _drop_session(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def _hold_account(self, failure: SendFailure) -> None:
        until = utc_now() + failure.retry_after if failure.retry_after else None
        with self.db.atomic():
            EmailAccount.update(held_until=until, hold_reason=failure.explanation).where(
                EmailAccount.id == self.account.id
            ).execute()
            Campaign.update(state="paused", pause_reason=failure.explanation).where(
                Campaign.id == self.campaign_id
            ).execute()

    def _report(self) -> None:
        eta = _eta_text(self.done + self.failed, self.total, self.started)
        text = _("Sent {sent} of {total}").format(sent=self.done, total=self.total)
        if self.failed:
            text += " · " + ngettext("{count} failed", "{count} failed", self.failed).format(
                count=self.failed
            )
        remaining = self.total - self.done - self.failed
        if remaining > 0:
            text += " · " + _("{count} to go").format(count=remaining)
        if eta:
            text += " · " + eta
        self.progress(self.done + self.failed, self.total, text)

    def _outcome(
        self, state: str, message: str = "", resume_at: datetime | None = None
    ) -> SendOutcome:
        if self.pending_sent:
            with self._write():
                pass
        found = counts(self.db, self.campaign_id)
        if not message:
            message = {
                "finished": _("The campaign is finished."),
                "stopped": _("Sending stopped; it goes on from here when you resume."),
                "paused": _("The campaign is paused."),
            }.get(state, "")
        return SendOutcome(state, found, message, resume_at)


def _local_text(moment: datetime) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M")


def send_campaign(
    db: SqliteDatabase,
    campaign_id: int,
    *,
    passwords: PasswordStore,
    ssl_context: ssl.SSLContext | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    max_wait: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SendOutcome:
    """Send (or go on sending) a queued campaign until it is done, paused, or must wait.

    A paused campaign is resumed. Waits shorter than max_wait seconds (a per-minute limit, a
    retry) are slept through; longer ones end the run with the time to come back."""
    row = Campaign.get_or_none(Campaign.id == campaign_id)
    if row is None:
        raise UserError(_("This campaign no longer exists."))
    if row.state == "draft":
        raise UserError(_("Check the campaign and put it in the outbox first."))
    if row.state in ("finished", "cancelled"):
        message = (
            _("The campaign is finished.")
            if row.state == "finished"
            else _("The campaign was cancelled.")
        )
        return SendOutcome(row.state, counts(db, campaign_id), message)
    with _only_sender(db, campaign_id), _account_turn(db, row.account_id, cancel, sleep, progress):
        if cancel is not None and cancel.cancelled:
            return SendOutcome("stopped", counts(db, campaign_id), "")
        if row.state == "paused":
            resume_campaign(db, campaign_id)
        recover_interrupted(db, campaign_id)
        sender = _Sender(db, campaign_id, passwords, ssl_context, progress, cancel, max_wait, sleep)
        return sender.run()


@contextmanager
def _account_turn(
    db: SqliteDatabase,
    account_id: int | None,
    cancel: CancelToken | None,
    sleep: Callable[[float], None],
    progress: ProgressCallback,
) -> Iterator[None]:
    """One campaign at a time per account, so the provider's limits are counted by one sender;
    another campaign of the same account waits its turn (or stops when cancelled)."""
    key = (str(db.database), -(account_id or 0))
    while True:
        with _RUNNING_LOCK:
            if key not in _RUNNING:
                _RUNNING.add(key)
                break
        if cancel is not None and cancel.cancelled:
            yield
            return
        progress(0, 0, _("Waiting for another campaign of this account to finish…"))
        sleep(0.5)
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(key)
