"""A customer's timeline: purchases, notes, consent, merges and everything else, newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from peewee import SqliteDatabase

from smbcrm.core.i18n import N_, _
from smbcrm.models.tables import CustomerMerge
from smbcrm.services.customers import CONSENT_LABELS, CONSENT_METHODS

PAGE = 50
KIND_TITLES = {
    "purchase": N_("Purchase"),
    "note": N_("Note"),
    "consent": N_("Email consent"),
    "created": N_("Customer added"),
    "archived": N_("Archived"),
    "unarchived": N_("Back from the archive"),
    "merge": N_("Merged with another customer"),
    "merge_undone": N_("Merge undone"),
    "email": N_("Email"),
}
EMAIL_STATES = {
    "queued": N_("waiting to be sent"),
    "sending": N_("being sent"),
    "sent": N_("sent"),
    "deferred": N_("will be tried again"),
    "failed": N_("not delivered"),
    "uncertain": N_("may or may not have arrived"),
    "suppressed": N_("not sent"),
}


@dataclass(frozen=True)
class TimelineEvent:
    source: str  # activity | purchase | consent | email
    id: int
    occurred_at: datetime
    kind: str
    title: str
    detail: str
    amount: int | None = None  # minor units, for purchases
    undo_merge_id: int | None = None


_SQL = """
SELECT 'activity', a.id, a.occurred_at, a.kind, a.summary, a.ref_id, a.data
FROM activity a WHERE a.customer_id = :id
UNION ALL
SELECT 'purchase', p.id, p.purchased_at, 'purchase',
    (SELECT group_concat(COALESCE(pr.name, l.description), ', ') FROM purchase_line l
     LEFT JOIN product pr ON pr.id = l.product_id WHERE l.purchase_id = p.id),
    p.total, p.currency
FROM purchase p WHERE p.customer_id = :id
UNION ALL
SELECT 'consent', e.id, e.recorded_at, 'consent', e.state, NULL,
    json_object('method', e.method, 'source', e.source)
FROM consent_event e WHERE e.customer_id = :id
UNION ALL
SELECT 'email', o.id, COALESCE(o.sent_at, o.updated_at), 'email', c.name, NULL,
    json_object('state', o.state, 'reason', o.reason, 'subject', c.subject)
FROM outbox_message o JOIN campaign c ON c.id = o.campaign_id WHERE o.customer_id = :id
ORDER BY 3 DESC, 1, 2 DESC
LIMIT :limit OFFSET :offset
"""


def timeline(
    db: SqliteDatabase, customer_id: int, offset: int = 0, limit: int = PAGE
) -> list[TimelineEvent]:
    rows = db.execute_sql(_SQL, {"id": customer_id, "limit": limit, "offset": offset})
    return [_event(*row) for row in rows]


def _event(source, row_id, at, kind, text, ref, data) -> TimelineEvent:
    moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    title = _(KIND_TITLES.get(kind, kind))
    if source == "purchase":
        return TimelineEvent(source, row_id, moment, kind, title, text or "", amount=ref)
    if source == "consent":
        extra = json.loads(data or "{}")
        method = _(CONSENT_METHODS.get(extra.get("method", ""), extra.get("method", "")))
        detail = f"{_(CONSENT_LABELS.get(text, text))} — {method}"
        if extra.get("source"):
            detail += f" ({extra['source']})"
        return TimelineEvent(source, row_id, moment, kind, title, detail)
    if source == "email":
        extra = json.loads(data or "{}")
        state = _(EMAIL_STATES.get(extra.get("state", ""), extra.get("state", "")))
        detail = _("“{subject}” ({campaign}): {state}").format(
            subject=extra.get("subject", ""), campaign=text, state=state
        )
        if extra.get("reason"):
            detail += f" — {extra['reason']}"
        return TimelineEvent(source, row_id, moment, kind, title, detail)
    undo = ref if kind == "merge" and _merge_undoable(ref) else None
    detail = text or ""
    if kind == "merge":
        detail = _("{name} was merged into this customer.").format(name=text)
    return TimelineEvent(source, row_id, moment, kind, title, detail, undo_merge_id=undo)


def _merge_undoable(merge_id: int | None) -> bool:
    if merge_id is None:
        return False
    merge = CustomerMerge.get_or_none(CustomerMerge.id == merge_id)
    return merge is not None and merge.undone_at is None
