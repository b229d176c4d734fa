"""Privacy requests: everything we hold about a customer, and erasing it without a trace."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from peewee import SqliteDatabase

from smbcrm.core.dates import utc_now
from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _
from smbcrm.models.tables import Customer, Suppression

# Every table that holds something about one customer, and the column that says whose it is.
PERSONAL_TABLES = (
    ("customer", "id"),
    ("customer_tag", "customer_id"),
    ("customer_field_value", "customer_id"),
    ("consent_event", "customer_id"),
    ("activity", "customer_id"),
    ("purchase", "customer_id"),
    ("customer_merge", "kept_id"),
    ("outbox_message", "customer_id"),
)


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def is_suppressed(db: SqliteDatabase, email: str) -> bool:
    return Suppression.select().where(Suppression.email_hash == email_hash(email)).exists()


def _family(db: SqliteDatabase, customer_id: int) -> list[int]:
    """The customer and every record merged into it (the same person)."""
    ids, frontier = [customer_id], [customer_id]
    while frontier:
        marks = ",".join("?" * len(frontier))
        frontier = [
            row[0]
            for row in db.execute_sql(
                f"SELECT id FROM customer WHERE merged_into_id IN ({marks})", frontier
            )
        ]
        ids.extend(frontier)
    return ids


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def customer_data(db: SqliteDatabase, customer_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row about the customer in every table (tag and field names spelled out)."""
    if not Customer.select().where(Customer.id == customer_id).exists():
        raise UserError(_("This customer no longer exists."))
    ids = _family(db, customer_id)
    marks = ",".join("?" * len(ids))
    data: dict[str, list[dict[str, Any]]] = {}
    queries = {
        "customer": f"SELECT * FROM customer WHERE id IN ({marks})",
        "tags": "SELECT ct.customer_id, t.name AS tag FROM customer_tag ct JOIN tag t "
        f"ON t.id = ct.tag_id WHERE ct.customer_id IN ({marks})",
        "custom_fields": "SELECT v.customer_id, f.name AS field, v.value FROM customer_field_value v "
        f"JOIN custom_field f ON f.id = v.field_id WHERE v.customer_id IN ({marks})",
        "consent": f"SELECT * FROM consent_event WHERE customer_id IN ({marks})",
        "timeline": f"SELECT * FROM activity WHERE customer_id IN ({marks})",
        "purchases": f"SELECT * FROM purchase WHERE customer_id IN ({marks})",
        "purchase_lines": "SELECT l.*, pr.name AS product FROM purchase_line l "
        "JOIN purchase p ON p.id = l.purchase_id LEFT JOIN product pr ON pr.id = l.product_id "
        f"WHERE p.customer_id IN ({marks})",
        "emails": "SELECT o.customer_id, c.name AS campaign, c.subject, o.state, o.email, "
        "o.sent_at, o.reason FROM outbox_message o JOIN campaign c ON c.id = o.campaign_id "
        f"WHERE o.customer_id IN ({marks})",
        "merges": f"SELECT * FROM customer_merge WHERE kept_id IN ({marks}) OR merged_id IN ({marks})",
    }
    for name, sql in queries.items():
        params = ids * sql.count(f"({marks})")
        cursor = db.execute_sql(sql, params)
        columns = [c[0] for c in cursor.description]
        data[name] = [{k: _plain(v) for k, v in zip(columns, row, strict=True)} for row in cursor]
    return data


@dataclass(frozen=True)
class ExportedData:
    json_path: Path
    csv_path: Path


def export_customer_data(db: SqliteDatabase, customer_id: int, folder: Path) -> ExportedData:
    """Write the customer's data to a JSON file and a CSV file (section, row, field, value)."""
    data = customer_data(db, customer_id)
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(_("The folder {folder} does not exist.").format(folder=folder))
    stem = f"customer-{customer_id}-{datetime.now():%Y%m%d-%H%M%S}"
    json_path, csv_path = folder / f"{stem}.json", folder / f"{stem}.csv"
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["section", "row", "field", "value"])
        for section, rows in data.items():
            for number, row in enumerate(rows, start=1):
                for key, value in row.items():
                    text = "" if value is None else str(value)
                    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        text = "'" + text  # a spreadsheet must not run it as a formula
                    writer.writerow([section, number, key, text])
    return ExportedData(json_path, csv_path)


def erase_customer(db: SqliteDatabase, customer_id: int) -> int:
    """Erase a customer for good; returns how many customer records went (merged ones too).

    Sales stay as anonymous totals; the email survives only as a hash in the suppression list
    so the address is never mailed again. The search index is rebuilt and freed space is
    overwritten (secure_delete), so no readable trace stays in the shop file."""
    with db.atomic():
        ids = _family(db, customer_id)
        marks = ",".join("?" * len(ids))
        emails = [
            row[0]
            for row in db.execute_sql(
                f"SELECT email FROM customer WHERE id IN ({marks}) AND email IS NOT NULL", ids
            )
        ]
        for email in emails:
            Suppression.insert(
                email_hash=email_hash(email), reason="erased", created_at=utc_now()
            ).on_conflict_ignore().execute()
        db.execute_sql(
            f"DELETE FROM customer_merge WHERE kept_id IN ({marks}) OR merged_id IN ({marks})",
            ids + ids,
        )
        db.execute_sql(f"UPDATE customer SET merged_into_id = NULL WHERE id IN ({marks})", ids)
        # Campaign reports keep their counts; the address the message went to does not stay.
        db.execute_sql(
            f"UPDATE outbox_message SET email = '', server_reply = '', message_id = NULL "
            f"WHERE customer_id IN ({marks})",
            ids,
        )
        deleted = db.execute_sql(f"DELETE FROM customer WHERE id IN ({marks})", ids).rowcount
        if not deleted:
            raise UserError(_("This customer no longer exists."))
    # Old index segments still hold the words; merging them all drops the erased ones.
    db.execute_sql("INSERT INTO customer_search (customer_search) VALUES ('optimize')")
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return deleted
