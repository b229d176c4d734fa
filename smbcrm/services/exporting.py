"""Taking data out: the customer list (or a search, filter or segment) to .xlsx/.csv/.vcf,
purchases, and the whole shop to one workbook that re-imports into an empty shop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from peewee import SqliteDatabase

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import N_, _
from smbcrm.core.money import from_minor
from smbcrm.core.phones import phone_search_text
from smbcrm.core.progress import CancelToken, ProgressCallback, no_progress
from smbcrm.services.custom_fields import list_fields
from smbcrm.services.customers import FIELD_LABELS, CustomerQuery, customer_ids
from smbcrm.services.settings import shop_profile
from smbcrm.transfer.spreadsheet_writer import write_table, write_workbook
from smbcrm.transfer.tables import open_table
from smbcrm.transfer.vcard import Contact, write_vcards

EXPORT_FIELDS = ("code", "first_name", "last_name", "email", "phone", "city", "region",
                 "country", "birthday", "tags", "consent", "notes")  # fmt: skip
EXTRA_LABELS = {
    "tags": N_("Tags"),
    "consent": N_("Accepts marketing email"),
    "total_spent": N_("Total spent"),
    "purchase_count": N_("Purchases"),
    "last_purchase_at": N_("Last purchase"),
}
_PAGE = 1_000
# The whole-shop workbook: tables in an order that satisfies their references; columns that the
# shop computes itself (totals, search digits) are left out and rebuilt on import.
SHOP_TABLES = ("setting", "tag", "category", "product", "custom_field", "customer",
               "customer_tag", "customer_field_value", "consent_event", "purchase",
               "purchase_line", "activity", "suppression")  # fmt: skip
DERIVED = {"customer": {"purchase_count", "total_spent", "last_purchase_at", "phone_digits"}}


def field_header(name: str) -> str:
    return _(FIELD_LABELS.get(name) or EXTRA_LABELS[name])


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv", ".vcf"):
        raise UserError(_("Export to a file ending in .xlsx, .csv or .vcf."))
    return suffix[1:]


def _customer_rows(db: SqliteDatabase, ids: list[int], fields) -> Iterator[list[Any]]:
    currency = shop_profile(db).currency
    for start in range(0, len(ids), _PAGE):
        chunk = ids[start : start + _PAGE]
        marks = ",".join("?" * len(chunk))
        values: dict[int, dict[int, str]] = {}
        for customer_id, field_id, value in db.execute_sql(
            f"SELECT customer_id, field_id, value FROM customer_field_value WHERE customer_id IN ({marks})",
            chunk,
        ):
            values.setdefault(customer_id, {})[field_id] = value
        rows = {}
        sql = (
            "SELECT c.id, c.code, c.first_name, c.last_name, c.email, c.phone, c.city, c.region, "
            "c.country, c.birthday, (SELECT group_concat(t.name, ', ') FROM customer_tag ct "
            "JOIN tag t ON t.id = ct.tag_id WHERE ct.customer_id = c.id), c.email_consent, c.notes, "
            f"c.total_spent, c.purchase_count, c.last_purchase_at FROM customer c WHERE c.id IN ({marks})"
        )
        for row in db.execute_sql(sql, chunk):
            (cid, code, first, last, email, phone, city, region, country, birthday, tags,
             consent, notes, spent, count, last_at) = row  # fmt: skip
            consent_text = {"granted": _("yes"), "withdrawn": _("no")}.get(consent, "")
            rows[cid] = [
                code or "", first, last, email or "", phone, city, region, country,
                date.fromisoformat(birthday) if birthday else None, tags or "", consent_text,
                notes, from_minor(spent, currency), count,
                datetime.fromisoformat(str(last_at)) if last_at else None,
                *[values.get(cid, {}).get(f.id, "") for f in fields],
            ]  # fmt: skip
        for customer_id in chunk:
            if customer_id in rows:
                yield rows[customer_id]


def export_customers(
    db: SqliteDatabase,
    path: Path,
    *,
    query: CustomerQuery | None = None,
    ids: list[int] | None = None,
    delimiter: str = ",",
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> int:
    """The customers of a query (all by default) or the given ids; returns how many."""
    path = Path(path)
    kind = _kind(path)
    chosen = ids if ids is not None else customer_ids(db, query or CustomerQuery())
    fields = list_fields(db)
    rows = _customer_rows(db, chosen, fields)

    def counted() -> Iterator[list[Any]]:
        for number, row in enumerate(rows, start=1):
            if number % 1000 == 0:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                progress(number, len(chosen), _("Writing customers…"))
            yield row

    if kind == "vcf":
        contacts = (
            Contact(
                first_name=r[1],
                last_name=r[2],
                full_name=f"{r[1]} {r[2]}".strip(),
                emails=(r[3],) if r[3] else (),
                phones=(r[4],) if r[4] else (),
                city=r[5],
                region=r[6],
                country=r[7],
                birthday=r[8],
                notes=r[11],
                categories=tuple(t.strip() for t in r[9].split(",") if t.strip()),
            )  # fmt: skip
            for r in counted()
        )
        return write_vcards(path, contacts)
    headers = [field_header(name) for name in EXPORT_FIELDS]
    headers += [
        field_header("total_spent"),
        field_header("purchase_count"),
        field_header("last_purchase_at"),
    ]
    headers += [f.name for f in fields]
    return write_table(
        path, headers, counted(), kind=kind, delimiter=delimiter, sheet_name=_("Customers")
    )


def export_purchases(db: SqliteDatabase, path: Path, *, delimiter: str = ",") -> int:
    """Every purchase line with its customer, date, receipt, product, category and amounts."""
    path = Path(path)
    if _kind(path) == "vcf":
        raise UserError(_("Purchases can be exported to .xlsx or .csv."))
    currency = shop_profile(db).currency
    headers = [_("Customer code"), _("Email"), _("Phone"), _("Date"), _("Receipt"), _("Product"),
               _("SKU"), _("Category"), _("Quantity"), _("Unit price"), _("Amount")]  # fmt: skip
    sql = (
        "SELECT c.code, c.email, c.phone, p.purchased_at, p.reference, COALESCE(pr.name, l.description), "
        "pr.sku, cat.name, l.quantity, l.unit_price, l.amount FROM purchase_line l "
        "JOIN purchase p ON p.id = l.purchase_id LEFT JOIN customer c ON c.id = p.customer_id "
        "LEFT JOIN product pr ON pr.id = l.product_id LEFT JOIN category cat ON cat.id = pr.category_id "
        "ORDER BY p.purchased_at, l.id"
    )

    def rows() -> Iterator[list[Any]]:
        for (
            code,
            email,
            phone,
            at,
            ref,
            product,
            sku,
            category,
            qty,
            unit,
            amount,
        ) in db.execute_sql(sql):
            yield [code or "", email or "", phone or "", datetime.fromisoformat(str(at)), ref or "",
                   product or "", sku or "", category or "", qty, from_minor(unit, currency),
                   from_minor(amount, currency)]  # fmt: skip

    return write_table(path, headers, rows(), kind=path.suffix[1:].lower(), delimiter=delimiter,
                       sheet_name=_("Purchases"))  # fmt: skip


def _table_columns(db: SqliteDatabase, table: str) -> list[str]:
    skip = DERIVED.get(table, set())
    return [row[1] for row in db.execute_sql(f"PRAGMA table_info({table})") if row[1] not in skip]


def primary_key_order(db: SqliteDatabase, table: str) -> str:
    """ORDER BY text for a table's primary key (tables WITHOUT ROWID have no rowid)."""
    keys = sorted(
        (pk, name)
        for _cid, name, _t, _n, _d, pk in db.execute_sql(f"PRAGMA table_info({table})")
        if pk
    )
    return ", ".join(name for _pk, name in keys) or "rowid"


def export_shop(db: SqliteDatabase, path: Path) -> None:
    """Every table of the shop, a sheet each, in one .xlsx (re-imports with import_shop)."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise UserError(_("The whole shop is exported to one .xlsx workbook."))
    sheets = []
    for table in SHOP_TABLES:
        columns = _table_columns(db, table)
        cursor = db.execute_sql(
            f"SELECT {', '.join(columns)} FROM {table} ORDER BY {primary_key_order(db, table)}"
        )
        sheets.append((table, columns, (list(row) for row in cursor)))
    write_workbook(path, sheets)


def import_shop(db: SqliteDatabase, path: Path) -> dict[str, int]:
    """Load a whole-shop workbook into an empty shop, in one transaction; rows per table."""
    if db.execute_sql(
        "SELECT EXISTS (SELECT 1 FROM customer) OR EXISTS (SELECT 1 FROM purchase)"
    ).fetchone()[0]:
        raise UserError(_("A whole-shop workbook can only be loaded into an empty shop."))
    counts = {}
    with db.atomic():
        db.execute_sql("DELETE FROM setting")
        for table in SHOP_TABLES:
            columns = _table_columns(db, table)
            try:
                source = open_table(Path(path), sheet=table)
            except UserError:
                counts[table] = 0
                continue
            with source:
                headers = list(source.info.headers)
                unknown = set(headers) - set(columns)
                if unknown:
                    raise UserError(_("The sheet {sheet} has unknown columns: {names}").format(
                        sheet=table, names=", ".join(sorted(unknown))))  # fmt: skip
                marks = ",".join("?" * len(headers))
                sql = f"INSERT INTO {table} ({', '.join(headers)}) VALUES ({marks})"
                defaults = _empty_defaults(db, table)
                batch, total = [], 0
                for _number, cells in source.rows():
                    batch.append(
                        [
                            _stored(value, defaults.get(name))
                            for name, value in zip(headers, cells, strict=False)
                        ]
                    )
                    if len(batch) >= _PAGE:
                        db.connection().executemany(sql, batch)
                        total += len(batch)
                        batch = []
                db.connection().executemany(sql, batch)
                counts[table] = total + len(batch)
        rows = db.execute_sql(
            "SELECT id, phone, phone_e164 FROM customer WHERE phone != ''"
        ).fetchall()
        db.connection().executemany(
            "UPDATE customer SET phone_digits = ? WHERE id = ?",
            [(phone_search_text(phone, e164), cid) for cid, phone, e164 in rows],
        )
    return counts


def _empty_defaults(db: SqliteDatabase, table: str) -> dict[str, Any]:
    """What an empty cell stands for in each NOT NULL column (a spreadsheet keeps no '')."""
    defaults = {}
    for _cid, name, _type, notnull, default, _pk in db.execute_sql(f"PRAGMA table_info({table})"):
        if notnull and default is not None:
            defaults[name] = int(default) if default.lstrip("-").isdigit() else default.strip("'")
    return defaults


def _stored(value: Any, empty: Any = None) -> Any:
    if value is None:
        return empty
    if isinstance(value, datetime):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
