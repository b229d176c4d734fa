"""Finding customers entered twice, and merging them with their whole history (undoable)."""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from peewee import SqliteDatabase
from rapidfuzz import fuzz

from smbcrm.core.dates import utc_now
from smbcrm.core.errors import UserError
from smbcrm.core.i18n import N_, _
from smbcrm.models.tables import (
    Activity,
    ConsentEvent,
    Customer,
    CustomerFieldValue,
    CustomerMerge,
    CustomerTag,
    DuplicateDismissal,
    Purchase,
)
from smbcrm.services.customers import CustomerRow, customer_rows, display_name

NAME_SIMILARITY = 90  # rapidfuzz ratio on normalised names, 0-100
NEIGHBOURS = 5
MERGE_FIELDS = (
    "first_name", "last_name", "email", "phone", "phone_e164", "phone_digits", "city", "region",
    "country", "birthday", "notes", "code", "email_consent",
)  # fmt: skip
REASONS = {
    "email": N_("same email"),
    "phone": N_("same phone"),
    "name": N_("similar name in the same city"),
}


@dataclass(frozen=True)
class DuplicatePair:
    first: CustomerRow
    second: CustomerRow
    reason: str
    score: int

    @property
    def reason_text(self) -> str:
        return _(REASONS[self.reason])


def normalise_name(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(sorted(plain.split()))


def find_duplicates(db: SqliteDatabase, limit: int = 500) -> list[DuplicatePair]:
    """Candidate pairs, surest first: same email, same phone, then similar names per city."""
    dismissed = set(
        db.execute_sql("SELECT first_id, second_id FROM duplicate_dismissal").fetchall()
    )
    found: dict[tuple[int, int], tuple[str, int]] = {}

    def add(a: int, b: int, reason: str, score: int) -> None:
        key = (min(a, b), max(a, b))
        if key not in dismissed and key not in found:
            found[key] = (reason, score)

    for reason, column in (("email", "email"), ("phone", "phone_e164")):
        sql = (
            f"SELECT group_concat(id) FROM customer WHERE {column} IS NOT NULL "
            f"AND merged_into_id IS NULL GROUP BY {column} HAVING COUNT(*) > 1"
        )
        for (ids,) in db.execute_sql(sql):
            members = sorted(int(i) for i in ids.split(","))
            for other in members[1:]:
                add(members[0], other, reason, 100)
    by_city: dict[str, list[tuple[str, int]]] = defaultdict(list)
    sql = (
        "SELECT id, first_name, last_name, city FROM customer "
        "WHERE merged_into_id IS NULL AND archived = 0 AND city != ''"
    )
    for customer_id, first, last, city in db.execute_sql(sql):
        name = normalise_name(f"{first} {last}")
        if name:
            by_city[normalise_name(city)].append((name, customer_id))
    for people in by_city.values():
        people.sort()
        for index, (name, customer_id) in enumerate(people):
            for other_name, other_id in people[index + 1 : index + 1 + NEIGHBOURS]:
                score = int(fuzz.ratio(name, other_name))
                if score >= NAME_SIMILARITY:
                    add(customer_id, other_id, "name", score)
    ranked = sorted(found.items(), key=lambda item: (-item[1][1], item[0]))[:limit]
    rows = {r.id: r for r in customer_rows(db, sorted({i for key, _v in ranked for i in key}))}
    return [
        DuplicatePair(rows[a], rows[b], reason, score)
        for (a, b), (reason, score) in ranked
        if a in rows and b in rows
    ]


def dismiss_duplicate(db: SqliteDatabase, first_id: int, second_id: int) -> None:
    """Remember that these two are different people."""
    with db.atomic():
        DuplicateDismissal.insert(
            first=min(first_id, second_id), second=max(first_id, second_id)
        ).on_conflict_ignore().execute()


def _values(customer: Customer) -> dict[str, object]:
    values = {name: getattr(customer, name) for name in MERGE_FIELDS}
    if values["birthday"] is not None:
        values["birthday"] = values["birthday"].isoformat()
    return values


def merge_customers(
    db: SqliteDatabase, keep_id: int, merge_id: int, take_from_other: tuple[str, ...] = ()
) -> int:
    """Merge customer merge_id into keep_id; fields listed in take_from_other come from merge_id.

    Every purchase, note, message, consent record, tag and custom value moves to the kept
    customer; the other is hidden, not deleted, so the merge can be undone. Returns the merge id.
    """
    if keep_id == merge_id:
        raise UserError(_("A customer cannot be merged with itself."))
    unknown = set(take_from_other) - set(MERGE_FIELDS)
    if unknown:
        raise UserError(_("Unknown fields: {names}").format(names=", ".join(sorted(unknown))))
    with db.atomic():
        keep = Customer.get_or_none(Customer.id == keep_id)
        other = Customer.get_or_none(Customer.id == merge_id)
        if keep is None or other is None or keep.merged_into_id or other.merged_into_id:
            raise UserError(_("One of these customers no longer exists or was already merged."))
        undo = {
            "kept_values": _values(keep),
            "other_code": other.code,
            "other_archived": other.archived,
            "purchases": [p.id for p in Purchase.select(Purchase.id).where(Purchase.customer == merge_id)],
            "activities": [a.id for a in Activity.select(Activity.id).where(Activity.customer == merge_id)],
            "consents": [c.id for c in ConsentEvent.select(ConsentEvent.id).where(ConsentEvent.customer == merge_id)],
            "other_tags": [t.tag_id for t in CustomerTag.select().where(CustomerTag.customer == merge_id)],
            "kept_tags": [t.tag_id for t in CustomerTag.select().where(CustomerTag.customer == keep_id)],
            "other_values": {
                str(v.field_id): v.value
                for v in CustomerFieldValue.select().where(CustomerFieldValue.customer == merge_id)
            },
            "kept_values_custom": {
                str(v.field_id): v.value
                for v in CustomerFieldValue.select().where(CustomerFieldValue.customer == keep_id)
            },
        }  # fmt: skip
        chosen = {name: getattr(other, name) for name in take_from_other}
        if "code" in chosen:
            Customer.update(code=None).where(Customer.id == merge_id).execute()
        Purchase.update(customer=keep_id).where(Purchase.customer == merge_id).execute()
        Activity.update(customer=keep_id).where(Activity.customer == merge_id).execute()
        ConsentEvent.update(customer=keep_id).where(ConsentEvent.customer == merge_id).execute()
        for tag in set(undo["other_tags"]) - set(undo["kept_tags"]):
            CustomerTag.create(customer=keep_id, tag=tag)
        CustomerTag.delete().where(CustomerTag.customer == merge_id).execute()
        for field_id, value in undo["other_values"].items():
            if field_id not in undo["kept_values_custom"]:
                CustomerFieldValue.create(customer=keep_id, field=int(field_id), value=value)
        CustomerFieldValue.delete().where(CustomerFieldValue.customer == merge_id).execute()
        if chosen:
            Customer.update(updated_at=utc_now(), **chosen).where(Customer.id == keep_id).execute()
        Customer.update(merged_into=keep_id, archived=True).where(Customer.id == merge_id).execute()
        merge = CustomerMerge.create(kept=keep_id, merged=merge_id, undo=json.dumps(undo))
        Activity.create(
            customer=keep_id,
            kind="merge",
            ref_id=merge.id,
            summary=display_name(other.first_name, other.last_name, other.email),
        )
    return merge.id


def undo_merge(db: SqliteDatabase, merge_id: int) -> int:
    """Put both customers back as they were before the merge; returns the restored customer's id.

    What was added to the kept customer after the merge stays with it."""
    with db.atomic():
        merge = CustomerMerge.get_or_none(CustomerMerge.id == merge_id)
        if merge is None or merge.undone_at is not None:
            raise UserError(_("This merge was already undone."))
        undo = json.loads(merge.undo)
        keep_id, other_id = merge.kept_id, merge.merged_id
        Purchase.update(customer=other_id).where(Purchase.id.in_(undo["purchases"])).execute()
        Activity.update(customer=other_id).where(Activity.id.in_(undo["activities"])).execute()
        ConsentEvent.update(customer=other_id).where(
            ConsentEvent.id.in_(undo["consents"])
        ).execute()
        added_tags = set(undo["other_tags"]) - set(undo["kept_tags"])
        CustomerTag.delete().where(
            (CustomerTag.customer == keep_id) & CustomerTag.tag.in_(list(added_tags))
        ).execute()
        for tag in undo["other_tags"]:
            CustomerTag.insert(customer=other_id, tag=tag).on_conflict_ignore().execute()
        for field_id, value in undo["other_values"].items():
            if field_id not in undo["kept_values_custom"]:
                CustomerFieldValue.delete().where(
                    (CustomerFieldValue.customer == keep_id)
                    & (CustomerFieldValue.field == int(field_id))
                ).execute()
            CustomerFieldValue.insert(
                customer=other_id, field=int(field_id), value=value
            ).on_conflict_replace().execute()
        Customer.update(**undo["kept_values"]).where(Customer.id == keep_id).execute()
        Customer.update(
            merged_into=None, archived=undo["other_archived"], code=undo["other_code"]
        ).where(Customer.id == other_id).execute()
        CustomerMerge.update(undone_at=utc_now()).where(CustomerMerge.id == merge_id).execute()
        Activity.create(customer=keep_id, kind="merge_undone", summary="")
    return other_id
