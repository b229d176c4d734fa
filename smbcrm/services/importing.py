"""Bringing customers and purchases in from spreadsheets and vCards: preview, dry run, upsert,
one transaction per import, and undo of a whole import."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import operator
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.numbers import get_decimal_symbol
from peewee import IntegrityError, SqliteDatabase

from smbcrm.core.compact_keys import CompactKeys
from smbcrm.core.dates import utc_now
from smbcrm.core.errors import UserError
from smbcrm.core.i18n import N_, _, format_count
from smbcrm.core.money import MAX_AMOUNT, minor_digits
from smbcrm.core.phones import parse_phone, phone_search_text, quick_phone, quick_phones
from smbcrm.core.progress import CancelToken, ProgressCallback, no_progress
from smbcrm.core.worker_process import batches
from smbcrm.models.database import indexes_suspended, triggers_suspended
from smbcrm.models.tables import (
    Category,
    Customer,
    CustomerTag,
    ImportBatch,
    ImportChange,
    Product,
    SavedMapping,
)
from smbcrm.services.customers import (
    LIMITS,
    CleanCustomer,
    CustomerInput,
    ValidationError,
    clean_customer,
    normalise_email,
    parse_birthday,
    simple_emails,
    tag_id,
)
from smbcrm.services.settings import shop_profile
from smbcrm.transfer.cells import cell_number, cell_text
from smbcrm.transfer.dates import DateOrder, infer_date_order, parse_date
from smbcrm.transfer.headers import CUSTOMER_FIELDS, PURCHASE_FIELDS, guess_mapping
from smbcrm.transfer.tables import RowBlock, Table, TableInfo, open_table, rows_of
from smbcrm.transfer.vcard import read_vcards_with_errors

MODES = {
    "both": N_("create new customers and update existing ones"),
    "create": N_("only create new customers"),
    "update": N_("only update existing customers"),
}
PREVIEW_ROWS = 20
DATE_SAMPLE = 500
_CHUNK = 2_000
YES = {"si", "sí", "yes", "y", "x", "1", "true", "verdadero", "acepta", "granted"}
NO = {"no", "n", "0", "false", "falso", "withdrawn"}
UPDATABLE = ("first_name", "last_name", "email", "phone", "phone_e164", "phone_digits", "city",
             "region", "country", "birthday", "notes", "code")  # fmt: skip


@dataclass(frozen=True)
class ImportOptions:
    mode: str = "both"  # both | create | update
    blank_overwrites: bool = False  # may an empty cell blank an existing value?
    create_missing_customers: bool = False  # purchases: create customers not found
    date_order: str | None = None  # None: inferred from the column


@dataclass(frozen=True, slots=True)  # a file may have a million of them: 56 bytes less each
class RowError:
    row: int
    message: str


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: int
    updated: int
    skipped: int
    errors: tuple[RowError, ...]
    batch_id: int | None
    dry_run: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "errors": [{"row": e.row, "message": e.message} for e in self.errors],
        }


@dataclass(frozen=True)
class PreviewRow:
    row: int
    values: dict[str, str]  # field -> value as it will be stored
    error: str = ""
    warning: str = ""


@dataclass(frozen=True)
class Preview:
    info: TableInfo
    mapping: dict[int, str]
    date_order: DateOrder | None
    rows: tuple[PreviewRow, ...] = field(default_factory=tuple)


# Triggers that keep the search index in step row by row; bulk imports rebuild it once instead.
SEARCH_TRIGGERS = ("customer_search_insert", "customer_search_update", "customer_search_tag_added")


def reindex_customers(db: SqliteDatabase, customer_ids: list[int]) -> None:
    """Rebuild the search entries of these customers in a few set-based statements."""
    unique = sorted(set(customer_ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ",".join("?" * len(chunk))
        db.execute_sql(f"DELETE FROM customer_search WHERE rowid IN ({marks})", chunk)
        db.execute_sql(
            "INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes) "
            f"SELECT * FROM customer_search_source WHERE id IN ({marks})",
            chunk,
        )


class _Rejected(Exception):
    """A dry run rolls its transaction back on purpose."""


# ---- reading rows as customer input --------------------------------------------------------------


def _split_name(full: str) -> tuple[str, str]:
    words = full.split()
    if len(words) >= 4:
        return " ".join(words[:2]), " ".join(words[2:])
    if len(words) == 3:
        return words[0], " ".join(words[1:])
    if len(words) == 2:
        return words[0], words[1]
    return full.strip(), ""


def _consent(value: Any) -> str | None:
    text = cell_text(value).strip().lower()
    if not text:
        return None
    if text in YES:
        return "granted"
    if text in NO:
        return "withdrawn"
    raise ValueError(text)


def _birthday(value: Any, order: DateOrder | None, epoch_1904: bool) -> date | None:
    if value is None or value == "":
        return None
    if value.__class__ is str:  # 100,000 customers share about 20,000 birthdays
        return _cached_date(value, order.order if order else "DMY", epoch_1904)
    return parse_date(value, order.order if order else "DMY", epoch_1904=epoch_1904)


@functools.lru_cache(maxsize=40_000)  # about every day of birth a shop's customers have
def _cached_date(text: str, order: str, epoch_1904: bool) -> date | None:
    return parse_date(text, order, epoch_1904=epoch_1904)


@dataclass
class _RowData:
    values: dict[str, Any]

    def text(self, name: str) -> str:
        return cell_text(self.values.get(name))


def _row_values(mapping: dict[int, str], cells: list[Any]) -> _RowData:
    return _RowData({name: cells[index] for index, name in mapping.items() if index < len(cells)})


def _customer_input(data: _RowData, order: DateOrder | None, epoch_1904: bool) -> CustomerInput:
    values = data.values
    # cell_text for every mapped cell, with text cells (nearly all of them) done inline.
    text = {name: value.strip() if value.__class__ is str else cell_text(value)
            for name, value in values.items()}  # fmt: skip
    first, last = text.get("first_name", ""), text.get("last_name", "")
    if not (first or last) and values.get("full_name") is not None:
        first, last = _split_name(text["full_name"])
    try:
        birthday = _birthday(values.get("birthday"), order, epoch_1904)
    except ValueError:
        birthday = text["birthday"]  # clean_customer explains it
    return CustomerInput(
        first_name=first, last_name=last, email=text.get("email", ""),
        phone=text.get("phone", ""), city=text.get("city", ""), region=text.get("region", ""),
        country=text.get("country", "")[:2], birthday=birthday, notes=text.get("notes", ""),
        code=text.get("code", ""),
    )  # fmt: skip


def _tags(data: _RowData) -> list[str]:
    return _split_tags(data.text("tags"))


def _split_tags(text: str) -> list[str]:
    raw = text.replace(";", ",").replace("|", ",")
    return [tag.strip() for tag in raw.split(",") if tag.strip()]


@dataclass(frozen=True)
class _Source:
    """Where the rows come from: the file and how to read it."""

    path: Path
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None

    def check_exists(self) -> None:
        if not self.path.is_file():
            raise UserError(_("The file {path} does not exist.").format(path=self.path))

    def open(self) -> Table:
        self.check_exists()
        return open_table(
            self.path, sheet=self.sheet, encoding=self.encoding, delimiter=self.delimiter
        )


def _date_order(
    table: Table, mapping: dict[int, str], column: str, forced: str | None
) -> tuple[DateOrder | None, Iterator[RowBlock]]:
    """A date column's day/month order from its unambiguous values, and the table's rows (in
    blocks). The blocks read to decide are kept and handed back first, so the file is read
    once."""
    blocks = table.blocks()
    index = next((i for i, name in mapping.items() if name == column), None)
    if forced:
        return DateOrder(forced, False), blocks
    if index is None:
        return None, blocks
    head: list[RowBlock] = []
    samples: list[Any] = []
    rows = 0  # the first DATE_SAMPLE values of the column's first DATE_SAMPLE * 10 rows
    for block in blocks:
        head.append(block)
        if index < len(block.columns):
            cells = block.columns[index][: DATE_SAMPLE * 10 - rows]
            samples += (cell for cell in cells if cell not in (None, ""))
        rows += len(block.numbers)
        if len(samples) >= DATE_SAMPLE or rows >= DATE_SAMPLE * 10:
            break
    return infer_date_order(samples[:DATE_SAMPLE], default="DMY"), itertools.chain(head, blocks)


def _epoch_1904(info: TableInfo) -> bool:
    return bool(getattr(info, "epoch_1904", False))


def _resolve_mapping(info: TableInfo, mapping: dict[int, str] | None, fields) -> dict[int, str]:
    chosen = dict(mapping) if mapping is not None else guess_mapping(info.headers, fields)
    unknown = set(chosen.values()) - set(fields)
    if unknown:
        raise UserError(
            _("Unknown fields in the mapping: {names}").format(names=", ".join(sorted(unknown)))
        )
    return {index: name for index, name in chosen.items() if name}


def preview_customers(
    db: SqliteDatabase,
    path: Path,
    *,
    sheet: str | None = None,
    mapping: dict[int, str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    options: ImportOptions = ImportOptions(),  # noqa: B008
) -> Preview:
    """The first rows as they will be stored, with what would be refused and why."""
    region = shop_profile(db).country
    source = _Source(Path(path), sheet, encoding, delimiter)
    with source.open() as table:
        chosen = _resolve_mapping(table.info, mapping, CUSTOMER_FIELDS)
        order, blocks = _date_order(table, chosen, "birthday", options.date_order)
        rows = []
        for number, cells in rows_of(blocks):
            data = _row_values(chosen, cells)
            try:
                clean = clean_customer(
                    _customer_input(data, order, _epoch_1904(table.info)), region
                )
                _consent(data.values.get("consent"))
            except ValidationError as error:
                rows.append(PreviewRow(number, _shown(data), error=error.message))
            except ValueError:
                rows.append(PreviewRow(number, _shown(data), error=_consent_problem(data)))
            else:
                values = _stored(clean)
                values["tags"] = ", ".join(_tags(data))
                rows.append(PreviewRow(number, values, warning=" ".join(clean.warnings)))
            if len(rows) >= PREVIEW_ROWS:
                break
        return Preview(table.info, chosen, order, tuple(rows))


def preview_purchases(
    db: SqliteDatabase,
    path: Path,
    *,
    sheet: str | None = None,
    mapping: dict[int, str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    options: ImportOptions = ImportOptions(),  # noqa: B008
) -> Preview:
    """The first rows of a purchases file as mapped (the dry run checks every row in full)."""
    source = _Source(Path(path), sheet, encoding, delimiter)
    with source.open() as table:
        chosen = _resolve_mapping(table.info, mapping, PURCHASE_FIELDS)
        order, blocks = _date_order(table, chosen, "date", options.date_order)
        rows = []
        for number, cells in rows_of(blocks):
            data = _row_values(chosen, cells)
            values = _shown(data)
            error = ""
            try:
                when = parse_date(data.values.get("date"), order.order if order else "DMY",
                                  epoch_1904=_epoch_1904(table.info))  # fmt: skip
                values["date"] = when.isoformat() if when else ""
            except ValueError:
                error = _("“{value}” is not a date.").format(value=data.text("date")[:40])
            rows.append(PreviewRow(number, values, error=error))
            if len(rows) >= PREVIEW_ROWS:
                break
        return Preview(table.info, chosen, order, tuple(rows))


def _consent_problem(data: _RowData) -> str:
    return _("“{value}” is not a consent answer: use yes or no.").format(
        value=data.text("consent")[:40]
    )


def _shown(data: _RowData) -> dict[str, str]:
    return {name: data.text(name) for name in data.values}


def _stored(clean: CleanCustomer) -> dict[str, str]:
    return {
        "first_name": clean.first_name,
        "last_name": clean.last_name,
        "email": clean.email or "",
        "phone": clean.phone_e164 or clean.phone,
        "city": clean.city,
        "region": clean.region,
        "country": clean.country,
        "birthday": clean.birthday.isoformat() if clean.birthday else "",
        "notes": clean.notes,
        "code": clean.code or "",
    }


# ---- customers ------------------------------------------------------------------------------------


class _Index:
    """Existing customers by email, phone and code, to match rows against (one read).

    Each of the three maps is a plain dict until it holds COMPACT_AFTER keys, then moves to a
    CompactKeys table: a dict of a million email addresses costs about 120 MB, the table about
    45 MB (measured: the three dicts alone took 333 MB for 1,000,000 customers)."""

    COMPACT_AFTER = 200_000

    def __init__(self, db: SqliteDatabase) -> None:
        self.email: dict[str, int] = {}
        self.phone: dict[str, int] = {}
        self.code: dict[str, int] = {}
        self.memo: dict[tuple[str, str, str], int] = {}
        sql = "SELECT id, email, phone_e164, code FROM customer WHERE merged_into_id IS NULL"
        for count, row in enumerate(db.execute_sql(sql)):
            self._put(*row)
            if count % 4096 == 0:
                self._compact()
        self._compact()
        # A merged customer is matched by nobody but keeps its code, which stays taken (a new
        # customer given it failed the whole import on the unique code).
        sql = "SELECT code FROM customer WHERE merged_into_id IS NOT NULL AND code IS NOT NULL"
        self.merged_codes = {row[0] for row in db.execute_sql(sql)}

    def code_taken(self, code: str | None) -> bool:
        return bool(code) and (code in self.code or code in self.merged_codes)

    def _put(self, customer_id: int, email: str | None, phone: str | None, code: str | None):
        if email:
            self.email.setdefault(email, customer_id)
        if phone:
            self.phone.setdefault(phone, customer_id)
        if code:
            self.code[code] = customer_id

    def _compact(self) -> None:
        for name in ("email", "phone", "code"):
            keys = getattr(self, name)
            if type(keys) is dict and len(keys) >= self.COMPACT_AFTER:
                setattr(self, name, CompactKeys(keys.items()))
                keys.clear()

    def find(self, fields: tuple) -> int | None:
        email, phone, code = fields[_EMAIL], fields[_PHONE_E164], fields[_CODE]
        found = None
        if email:
            found = self.email.get(email)
        if found is None and phone:
            found = self.phone.get(phone)
        if found is None and code:
            found = self.code.get(code)
        return found

    def add(self, customer_id: int, fields: tuple) -> None:
        self._put(customer_id, fields[_EMAIL], fields[_PHONE_E164], fields[_CODE])
        if customer_id % 1024 == 0:
            self._compact()

    def all_new(self, columns: tuple[tuple, ...]) -> bool:
        """Whether no row of these (columns of a "new" part, _packed) can match a customer
        already here or another of these rows: no email, phone or code is known or repeated.
        Set operations on whole columns, no Python step per row."""
        for name, column in (("email", _EMAIL), ("phone", _PHONE_E164), ("code", _CODE)):
            given = list(filter(None, columns[column]))
            unique = set(given)
            if len(unique) != len(given):
                return False
            if name == "code" and not unique.isdisjoint(self.merged_codes):
                return False
            keys = getattr(self, name)
            if type(keys) is dict:
                if not keys.keys().isdisjoint(unique):
                    return False
            elif any(map(keys.__contains__, unique)):
                return False
        return True

    def add_new(self, ids: range, columns: tuple[tuple, ...]) -> None:
        """Index rows that all_new said are new, as add would one by one."""
        for name, column in (("email", _EMAIL), ("phone", _PHONE_E164), ("code", _CODE)):
            keys = getattr(self, name)
            if type(keys) is dict:
                keys.update(zip(columns[column], ids, strict=True))  # in one C call, then
                keys.pop(None, None)  # the rows without one taken out again
                keys.pop("", None)
                continue
            for key, customer in zip(columns[column], ids, strict=True):
                if key:
                    keys[key] = customer
        self._compact()


# A checked customer as an import handles it: a plain tuple of the customer table's columns in
# UPDATABLE's order, the birthday as ISO text. It is what a child process sends (four times
# quicker to pickle than CleanCustomer with its date) and what the insert takes as it is.
_EMAIL, _PHONE_E164, _NOTES, _CODE = (
    UPDATABLE.index(name) for name in ("email", "phone_e164", "notes", "code")
)


def _plain_fields(clean: CleanCustomer) -> tuple:
    birthday = clean.birthday.isoformat() if clean.birthday else None
    return (*clean[:9], birthday, clean.notes, clean.code)


def _columns(fields: tuple) -> dict[str, Any]:
    return dict(zip(UPDATABLE, fields, strict=True))


def _mapped_columns(mapping: dict[int, str]) -> set[str]:
    fields = set(mapping.values())
    columns = set()
    for name in fields:
        if name == "full_name":
            columns |= {"first_name", "last_name"}
        elif name == "phone":
            columns |= {"phone", "phone_e164", "phone_digits"}
        elif name in UPDATABLE:
            columns.add(name)
    return columns


_INSERT_NEW = (
    "INSERT INTO customer (id, first_name, last_name, email, phone, phone_e164, phone_digits, "
    "city, region, country, birthday, notes, code, email_consent, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SEARCH = (
    "INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_FLUSH_EVERY = 1_000
# Tags one row may give its customer: each new one is created with queries of its own (20,000
# in one vCard's CATEGORIES took 5.6 s), and no shop labels a customer with hundreds.
MAX_TAGS_A_ROW = 50
# Search entries wait longer. FTS5 writes the entries it holds in memory to the file, as a new
# segment, as soon as another statement starts in the transaction: written with every flush,
# 100,000 customers made a hundred small segments, merged again and again (measured: 1.26 s
# for their search entries, against 0.77 s twenty thousand at a time; ten thousand measure the
# same and hold 5 MB less).
_SEARCH_EVERY = 10_000


class _Upserter:
    """Creates or updates customers inside an import's transaction.

    New customers are written a thousand at a time with executemany (ids given here: the
    import holds the write lock), which is several times faster than a statement per row."""

    def __init__(self, db: SqliteDatabase, run: _Run, options: ImportOptions, source: str,
                 updatable: set[str] | None = None) -> None:  # fmt: skip
        self.db, self.batch_id, self.options = db, run.batch_id, options
        self.source = source
        self.updatable = updatable or set()  # the columns an update may change: those mapped
        self.index = _Index(db)
        self.tags = _Tags(db)
        self.counts = run.counts
        self.touched: list[int] = []  # updated customers whose search entry must be rebuilt
        self.next_id = db.execute_sql("SELECT COALESCE(MAX(id), 0) + 1 FROM customer").fetchone()[0]
        self.now = str(utc_now())
        self._new: list[tuple[Any, ...]] = []
        self._new_search: list[tuple[Any, ...]] = []
        self._new_tags: list[tuple[int, int]] = []
        self._new_consents: list[tuple[Any, ...]] = []

    def __call__(
        self, number: int, fields: tuple, tags: list[str], consent: str | None
    ) -> int | None:
        """Create or update the customer of one row; fields as _plain_fields gives them."""
        if len(tags) > MAX_TAGS_A_ROW:
            raise UserError(
                _("The row names {count} tags; an import gives a customer at most {limit}.").format(
                    count=format_count(len(tags)), limit=MAX_TAGS_A_ROW
                )
            )
        existing = self.index.find(fields)
        if (existing is None and self.options.mode == "update") or (
            existing is not None and self.options.mode == "create"
        ):
            self.counts["skipped"] += 1
            return None
        tag_ids, tag_text = self.tags.for_row(tags)
        evidence = (
            _("import {file} row {row}").format(file=self.source, row=number) if consent else ""
        )
        if existing is None:
            code = fields[_CODE]
            if self.index.code_taken(code):
                raise UserError(
                    _("Another customer already has the code {code}.").format(code=code)
                )
            customer_id = self.next_id
            self.next_id += 1
            self._new.append((customer_id, *fields, consent or "unknown", self.now, self.now))
            # The entry customer_search_source would give, built here instead of by the view's
            # subqueries after the fact (a new customer has no notes in its history yet).
            first, last, email, _phone, _e164, digits, city, region = fields[:8]
            self._new_search.append((customer_id, f"{first} {last}", email or "", digits,
                                     f"{city} {region}", tag_text, f"{fields[_NOTES]} "))  # fmt: skip
            if tag_ids:
                self._new_tags += [(customer_id, tag) for tag in tag_ids]
            if consent is not None:
                self._new_consents.append(
                    (customer_id, consent, self.now, evidence[:200], self.batch_id)
                )
            self.index.add(customer_id, fields)
            self.counts["created"] += 1
            if len(self._new) >= _FLUSH_EVERY:
                self.flush()
            return customer_id
        self.flush()  # the row to update may be one this import just created
        try:
            with self.db.atomic():  # a savepoint: a refused row leaves nothing behind
                changed = _update(self.db, self.batch_id, existing, fields, self.updatable,
                                  tag_ids, self.options.blank_overwrites)  # fmt: skip
                if consent is not None:
                    _import_consent(self.db, self.batch_id, existing, consent, evidence)
        except (IntegrityError, sqlite3.IntegrityError) as error:
            if "code" not in str(error):
                raise
            raise UserError(
                _("Another customer already has the code {code}.").format(code=fields[_CODE])
            ) from error
        self.counts["updated" if changed else "skipped"] += 1
        if changed:
            self.touched.append(existing)
            # Its email, phone or code may be new: later rows must find it by them (a later
            # row with the code it was given was taken for a new customer, and the whole
            # import failed on the code being taken).
            self.index.add(existing, fields)
        return existing

    def add_new(self, columns: tuple[tuple, ...], tags: list[tuple[str, ...]]) -> bool:
        """Create the customers of rows that are all new (columns and tags of a "new" part,
        _packed: no consent given, no more tags than a row may name), a batch at a time: True,
        or False with nothing done when any row may match a customer (then they go row by row).

        The same rows and search entries __call__ makes one row at a time: a big import into a
        new shop spent a third of its writing time in that Python step (and more unpacking each
        row's tuple from the child), which here is a few operations on whole columns."""
        if self.options.mode == "update" or not self.index.all_new(columns):
            return False
        try:
            tagged = self.tags.for_rows(tags)
        except UserError:
            return False  # a tag that cannot be one: its row fails alone, row by row
        count = len(tags)
        ids = range(self.next_id, self.next_id + count)
        self.next_id += count
        firsts, lasts, emails, _phones, _e164, digits, cities, regions = columns[:8]
        repeated = (itertools.repeat(value, count) for value in ("unknown", self.now, self.now))
        self._new += zip(ids, *columns, *repeated, strict=True)
        space = itertools.repeat(" ")
        self._new_search += zip(
            ids, map(" ".join, zip(firsts, lasts, strict=True)), [email or "" for email in emails], digits,
            map(" ".join, zip(cities, regions, strict=True)), [text for _ids, text in tagged],
            map(operator.add, columns[_NOTES], space), strict=True,
        )  # fmt: skip
        self._new_tags += [
            (customer, tag)
            for customer, (tag_ids, _text) in zip(ids, tagged, strict=True)
            for tag in tag_ids
        ]
        self.index.add_new(ids, columns)
        self.counts["created"] += count
        if len(self._new) >= _FLUSH_EVERY:
            self.flush()
        return True

    def flush(self) -> None:
        if not self._new:
            return
        connection = self.db.connection()
        connection.executemany(_INSERT_NEW, self._new)
        if len(self._new_search) >= _SEARCH_EVERY:
            self._write_search()
        connection.executemany(
            "INSERT OR IGNORE INTO customer_tag (customer_id, tag_id) VALUES (?, ?)", self._new_tags
        )
        # The ids of one flush are consecutive (given out by this import, which holds the write
        # lock): their undo records and timeline entries are made by SQLite from the id range,
        # with no Python row per customer.
        first, last = self._new[0][0], self._new[-1][0]
        connection.execute(
            "INSERT INTO import_change (batch_id, customer_id, action) "
            "SELECT ?, id, 'created' FROM customer WHERE id BETWEEN ? AND ?",
            (self.batch_id, first, last),
        )
        connection.execute(
            "INSERT INTO activity (customer_id, occurred_at, kind, summary) "
            "SELECT id, ?, 'created', '' FROM customer WHERE id BETWEEN ? AND ?",
            (self.now, first, last),
        )
        connection.executemany(
            "INSERT INTO consent_event (customer_id, state, recorded_at, method, source, "
            "import_batch_id) VALUES (?, ?, ?, 'import', ?, ?)",
            self._new_consents,
        )
        self._new, self._new_tags, self._new_consents = [], [], []

    def _write_search(self) -> None:
        self.db.connection().executemany(_INSERT_SEARCH, self._new_search)
        self._new_search = []

    def finish(self) -> None:
        """Write what is still held, search entries included, then rebuild the search entries
        of the customers this import updated."""
        self.flush()
        self._write_search()
        reindex_customers(self.db, self.touched)


@dataclass
class _Run:
    """One import as it goes: its batch, the rows read, what happened to them."""

    batch_id: int | None
    dry_run: bool
    rows: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "skipped": 0}
    )
    errors: list[RowError] = field(default_factory=list)

    def result(self) -> ImportResult:
        return ImportResult(self.rows, batch_id=self.batch_id, dry_run=self.dry_run,
                            errors=tuple(self.errors), **self.counts)  # fmt: skip

    def tick(
        self, number: int, progress: ProgressCallback, cancel: CancelToken | None, rows: int = 1
    ) -> None:
        """Count rows read up to the one numbered number; every 500 rows, report and heed
        Cancel."""
        passed = self.rows // 500
        self.rows += rows
        if self.rows // 500 != passed:
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(self.rows, 0, _("Importing row {row}…").format(row=number))


# Page cache (KiB) while an import runs. A big import touches indexes larger than the usual
# 32 MB (1,000,000 purchase lines: the import_key index alone is over 50 MB, written in random
# order), and pages that do not fit are written out and read back again and again. Measured on
# 1,000,000 lines: each 100,000 took 2.5 s at first and 3.8 s at the end with 32 MB, 2.4 to 2.7 s
# with more (27 s against 33 s in all), for about 100 MB more peak memory. A customer import
# takes less: its big files are read by a child process with memory of its own (a 1,000,000-row
# workbook as Excel writes it peaked at 513 MB for both with 128 MB here, 479 MB with 64 MB and
# 450 MB with 48 MB), and 100,000 customers import as fast with 48 MB as with 64 MB.
IMPORT_CACHE_KIB = {"purchases": 128_000, "customers": 48_000, "vcard": 48_000}


@contextmanager
def _larger_page_cache(db: SqliteDatabase, kib: int) -> Iterator[None]:
    usual = db.execute_sql("PRAGMA cache_size").fetchone()[0]
    db.execute_sql(f"PRAGMA cache_size = {-kib}")
    try:
        yield
    finally:
        db.execute_sql(f"PRAGMA cache_size = {int(usual)}")


@contextmanager
def _import_run(db: SqliteDatabase, kind: str, file_name: str, dry_run: bool) -> Iterator[_Run]:
    """One transaction per import, recorded as a batch; a dry run rolls it all back."""
    run = None
    try:
        with _larger_page_cache(db, IMPORT_CACHE_KIB.get(kind, 64_000)), db.atomic():
            run = _Run(ImportBatch.create(kind=kind, file_name=file_name).id, dry_run)
            yield run
            ImportBatch.update(rows=run.rows, errors=len(run.errors), **run.counts).where(
                ImportBatch.id == run.batch_id
            ).execute()
            if dry_run:
                raise _Rejected()
    except _Rejected:
        run.batch_id = None


# Files from this size on are read and checked in a child process while this one writes (both
# cores at work: smbcrm.core.worker_process). Below it, starting the child (about 0.3 s) would
# cost more than it saves. Tests set it to 0 to take the child's path with small files.
WORKER_FILE_BYTES = 1 << 20
# A file that big (10,000 rows or more) imported into a shop of fewer customers than this: the
# customer indexes whose keys come in random order (email, phone, the list's name order, city)
# are dropped while the rows go in and built again, sorted, at the end of the same transaction.
# Measured on 100,000 new customers: adding them to the indexes one by one took 0.65 s on its
# own and more while the child reads, because both processes share the cores and their caches;
# building them again takes 0.33-0.37 s, after the child has finished (the whole import: medians
# of eight, 4.39 s against 4.68 s). In a bigger shop, rebuilding indexes over the customers
# already there would cost more than it saves.
REBUILD_INDEXES_BELOW = 10_000
# Indexes that stay: every customer an import creates has the same key in them (no purchase
# yet, not merged: NULL or 0), so each is added at the end of that key's run, in order, and
# customer_rfm (customers who bought) takes none of them. Building one again scans the whole
# table (0.03 to 0.1 s each, at the end, where nothing else runs).
_KEPT_INDEXES = (
    "customer_last_purchase", "customer_total_spent", "customer_merged_into", "customer_rfm",
)  # fmt: skip
_BATCH_ROWS = 500


def _in_child(path: Path) -> bool:
    try:
        return path.stat().st_size >= WORKER_FILE_BYTES
    except OSError:
        return False  # the reader says in plain words what is wrong with the file


def _prepared_customers(
    source: _Source, mapping: dict[int, str] | None, forced_order: str | None, region: str
) -> Iterator[list]:
    """A customer file read and checked without the database (so it can run in a child): first
    [the mapping], then batches of rows in parts (_packed)."""
    with source.open() as table:
        chosen = _resolve_mapping(table.info, mapping, CUSTOMER_FIELDS)
        if not chosen:
            raise UserError(_("No column of this file could be matched to a customer field."))
        order, blocks = _date_order(table, chosen, "birthday", forced_order)
        epoch_1904 = _epoch_1904(table.info)
        yield [chosen]
        quick = _QuickRows(chosen, order, epoch_1904, region)
        for numbers, columns in blocks:
            for start in range(0, len(numbers), _BATCH_ROWS):
                stop = start + _BATCH_ROWS
                parts = quick.parts(numbers[start:stop], [column[start:stop] for column in columns])
                yield [_joined_texts(part) for part in parts]


# The text columns of a "new" part cross from the child as one string each, cut again by the
# writer: pickling 100,000 rows' strings one by one took 0.057 s in the child and 0.075 s in
# the writer, joined 0.033 s and 0.045 s. The unit separator is no printable text, and a column
# holding it anyway is sent as it is.
_UNIT = "\x1f"


def _joined_texts(part: tuple) -> tuple:
    if part[0] != "new":
        return part
    kind, numbers, columns, tags = part
    return kind, numbers, tuple(map(_joined_column, columns)), tags


def _joined_column(column: Sequence) -> Sequence | str:
    try:
        text = _UNIT.join(column)
    except TypeError:  # None in it, no text
        return column
    return text if text.count(_UNIT) == len(column) - 1 else column


def _cut_texts(columns: tuple) -> tuple:
    """The columns of a part _joined_texts gave, as they were."""
    return tuple(column.split(_UNIT) if column.__class__ is str else column for column in columns)


def _packed(batch: list[tuple]) -> list[tuple]:
    """A batch of checked rows in parts, as import_customers takes them, in the file's order:
    ("new", numbers, columns, tags) for each run of rows that may all be new customers (no
    consent given, not too many tags), each field a column of the run, and ("rows", items)
    for the other rows, refused ones included.

    Columns also cross from the child three times faster: unpickling a tuple a row took 0.5 s
    of the writing process's time for 100,000 rows, columns 0.2 s. Equal lists of tags are
    sent as one object."""
    parts: list[tuple] = []
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}
    for new, run in itertools.groupby(batch, key=_may_be_new):
        items = list(run)
        if not new:
            parts.append(("rows", items))
            continue
        tags = [shared.setdefault(names, names) for names in (tuple(item[2]) for item in items)]
        columns = tuple(zip(*[item[1] for item in items], strict=True))
        parts.append(("new", [item[0] for item in items], columns, tags))
    return parts


def _may_be_new(item: tuple) -> bool:
    """Whether _Upserter.add_new may take this row: it was read and checked, gives no consent
    and names no more tags than a row may."""
    return len(item) == 4 and item[3] is None and len(item[2]) <= MAX_TAGS_A_ROW


def _checked_row(
    number: int,
    cells: list,
    mapping: dict[int, str],
    order: DateOrder | None,
    epoch_1904: bool,
    region: str,
) -> tuple:
    """One row through clean_customer: (row, _plain_fields, tags, consent) or (row, why not)."""
    data = _row_values(mapping, cells)
    try:
        clean = clean_customer(_customer_input(data, order, epoch_1904), region)
        consent = _consent(data.values.get("consent"))
        return (number, _plain_fields(clean), _tags(data), consent)
    except ValidationError as error:
        return (number, error.message.replace("\n", " "))
    except ValueError:
        return (number, _consent_problem(data))


# The text fields _QuickRows checks, in CustomerInput's order, and their length limits.
_QUICK_FIELDS = ("first_name", "last_name", "email", "phone", "city", "region", "country",
                 "notes", "code")  # fmt: skip
_QUICK_LIMITS = tuple(LIMITS[name] for name in _QUICK_FIELDS)
# Birthdays are looked up as typed: 100,000 customers share about 20,000 of them.
_QUICK_DATES = 40_000
# So are lists of tags: a file repeats a few ("VIP", "VIP, Vecino"). Long ones are not kept
# (ten thousand cells of 50 KB would hold 2 GB).
_QUICK_TAG_LISTS = 10_000
_QUICK_TAG_TEXT = 200


class _QuickRows:
    """Rows checked as _checked_row checks them, a batch at a time (parts): the common row's
    stored fields are built straight from its cells, with the same functions for emails,
    phones, dates and consent, and only what needs clean_customer itself goes through
    _checked_row: text to tidy (control characters, doubled spaces, too long), a wrong email,
    date or consent, no name at all, a full name to split.

    Half of a big import's checking went into the dictionaries and tuples between the cell and
    the stored row (and into reading the fields back out of them).
    tests/services/test_importing.py checks parts gives what _checked_row gives on thousands
    of odd rows."""

    def __init__(
        self, mapping: dict[int, str], order: DateOrder | None, epoch_1904: bool, region: str
    ) -> None:
        index = {name: column for column, name in mapping.items()}
        self.mapping = mapping
        self.columns = tuple(index.get(name) for name in _QUICK_FIELDS)
        self.birthday, self.consent, self.tags = (
            index.get(name) for name in ("birthday", "consent", "tags")
        )
        self.full_name = "full_name" in index
        self.order, self.epoch_1904, self.region = order, epoch_1904, region
        self.today = date.today()
        # Birthdays as typed (_KEPT_DATES) -> as stored; an empty cell is None: no birthday.
        self.dates: dict[Any, str | None] = {None: None}
        # Tags as typed -> split; an empty cell is None: no tags.
        self.tag_lists: dict[str | None, tuple[str, ...]] = {None: ()}

    def parts(self, numbers: list[int], by_column: list[Sequence]) -> list[tuple]:
        """A batch of rows (their numbers and their cells by column, as a Table's blocks give
        them) checked as _checked_row checks each row, in parts as _packed gives them. Each
        check runs on a whole column, most often on its texts joined and scanned once; only
        the rows a check refuses go through _checked_row, and those that give consent or too
        many tags go as single rows. The benchmark's 100,000 rows take about 0.3 s so, against
        0.82 s one by one (with _packed), in the reading child."""
        width = len(by_column)
        empty = (None,) * len(numbers)

        def column(index: int | None) -> Sequence:
            return empty if index is None or index >= width else by_column[index]

        def cells(row: int) -> list:
            return [values[row] for values in by_column]

        texts = [_texts(column(at)) for at in self.columns]
        if self.columns[6] is not None:  # the country, as _text tidies it
            texts[6] = [text[:2].rstrip(" ") for text in texts[6]]
        first, last, email, phone, city, region, country, notes, code = texts
        refused = self._untidy(texts)
        if "" in first or "" in last:
            refused.update(
                at
                for at, row in enumerate(zip(first, last, email, phone, strict=True))
                if not (row[0] or row[1]) and (self.full_name or not (row[2] or row[3]))
            )
        emails = self._emails(email, refused)
        births = self._births(column(self.birthday), refused)
        consents = self._consents(column(self.consent), refused)
        countries = (
            [self.region] * len(numbers)
            if self.columns[6] is None
            else [text.upper() or self.region for text in country]
        )
        e164, digits = self._phones(phone, countries, refused)
        tags = self._tag_column(column(self.tags))
        alone = set()
        if consents.count(None) != len(consents):
            alone.update(at for at, state in enumerate(consents) if state is not None)
        if max(map(len, tags)) > MAX_TAGS_A_ROW:
            alone.update(at for at, names in enumerate(tags) if len(names) > MAX_TAGS_A_ROW)
        fields = (first, last, emails, phone, e164, digits, city, region, countries, births,
                  notes, [text or None for text in code])  # fmt: skip
        if not refused and not alone:
            return [("new", numbers, fields, tags)]

        def way(at: int) -> int:  # 2: through _checked_row, 1: a single row, 0: a column run
            return 2 if at in refused else 1 if at in alone else 0

        parts: list[tuple] = []
        for kind, run in itertools.groupby(range(len(numbers)), key=way):
            at = list(run)
            if kind == 2:
                parts += _packed([self._checked(numbers[row], cells(row)) for row in at])
            elif kind == 1:
                parts.append(("rows", [(numbers[row], tuple(values[row] for values in fields),
                                        list(tags[row]), consents[row]) for row in at]))  # fmt: skip
            else:
                start, stop = at[0], at[-1] + 1
                parts.append(("new", numbers[start:stop],
                              tuple(values[start:stop] for values in fields), tags[start:stop]))  # fmt: skip
        return parts

    def _untidy(self, texts: list[list[str]]) -> set[int]:
        """The rows with text to tidy, as __call__ tests it, on all the texts at once first."""
        joined = "|".join(itertools.chain.from_iterable(texts))
        if (
            joined.isprintable()
            and "  " not in joined
            and all(
                max(map(len, values)) <= limit
                for values, limit in zip(texts, _QUICK_LIMITS, strict=True)
            )
        ):
            return set()
        return {at for at, row in enumerate(zip(*texts, strict=True)) if not self._each_tidy(row)}

    @staticmethod
    def _emails(typed: list[str], refused: set[int]) -> list[str | None]:
        lowered = [text.lower() for text in typed]
        if simple_emails(lowered):
            return [text or None for text in lowered]
        emails: list[str | None] = []
        for at, text in enumerate(typed):
            try:
                emails.append(normalise_email(text) if text and at not in refused else None)
            except ValueError:  # EmailNotValidError
                refused.add(at)
                emails.append(None)
        return emails

    def _births(self, values: Sequence, refused: set[int]) -> list[str | None]:
        births = list(map(self.dates.get, values, itertools.repeat(_UNSEEN)))
        if _UNSEEN not in births:  # every birthday looked up as typed: most batches
            return births
        for value in set(values).difference(self.dates):
            if value.__class__ in _KEPT_DATES:
                with contextlib.suppress(ValueError):  # its rows go one by one, below
                    self._birthday_of(value)  # kept for the rows that follow
        births = list(map(self.dates.get, values, itertools.repeat(_UNSEEN)))
        if _UNSEEN not in births:
            return births
        births = []
        for at, value in enumerate(values):
            try:
                births.append(None if at in refused else self._birthday_of(value))
            except ValueError:
                refused.add(at)
                births.append(None)
        return births

    @staticmethod
    def _consents(values: Sequence, refused: set[int]) -> list[str | None]:
        """_consent of each cell; a cell it cannot read refuses its row."""
        if values.count(None) == len(values):
            return [None] * len(values)
        states: list[str | None] = []
        for at, value in enumerate(values):
            try:
                states.append(None if value is None else _consent(value))
            except ValueError:
                refused.add(at)
                states.append(None)
        return states

    @staticmethod
    def _phones(
        typed: list[str], countries: list[str], refused: set[int]
    ) -> tuple[list[str | None], list[str]]:
        quick = quick_phones(typed) if countries.count("CO") == len(countries) else None
        if quick is not None:
            return quick
        pairs = [(None, "") if at in refused else _phone_fields(number, place)
                 for at, (number, place) in enumerate(zip(typed, countries, strict=True))]  # fmt: skip
        return [pair[0] for pair in pairs], [pair[1] for pair in pairs]

    def _checked(self, number: int, cells: list) -> tuple:
        return _checked_row(number, cells, self.mapping, self.order, self.epoch_1904, self.region)

    @staticmethod
    def _each_tidy(texts) -> bool:
        return all(
            text.isprintable() and "  " not in text and len(text) <= limit
            for text, limit in zip(texts, _QUICK_LIMITS, strict=True)
        )

    def _tag_column(self, values: tuple) -> list[tuple[str, ...]]:
        known = list(map(self.tag_lists.get, values))
        if None in known:
            known = [self._tag_names(value) if names is None else names
                     for value, names in zip(values, known, strict=True)]  # fmt: skip
        return known

    def _tag_names(self, value: Any) -> tuple[str, ...]:
        """A cell's tags, split once for each way a file writes them ("VIP, Vecino")."""
        text = value if value.__class__ is str else cell_text(value)
        split = self.tag_lists.get(text)
        if split is None:
            split = tuple(_split_tags(text))
            if len(self.tag_lists) < _QUICK_TAG_LISTS and len(text) <= _QUICK_TAG_TEXT:
                self.tag_lists[text] = split
        return split

    def _birthday_of(self, value: Any) -> str | None:
        kept = value.__class__ in _KEPT_DATES
        if kept and value in self.dates:
            return self.dates[value]
        parsed = _birthday(value, self.order, self.epoch_1904)
        birthday = None if parsed is None else parse_birthday(parsed, self.today).isoformat()
        if kept and len(self.dates) < _QUICK_DATES:
            self.dates[value] = birthday
        return birthday


# The cells whose birthday is looked up as typed: text, and dates as a workbook stores them.
# Not numbers: 1 and True are one key to a dictionary, not one birthday.
_KEPT_DATES = (str, date, datetime)
_UNSEEN = object()  # a birthday not looked up yet


def _texts(values: Sequence) -> list[str]:
    """cell_text of each cell of a column: a column of text only in one C-level pass."""
    missing = values.count(None)
    if missing == len(values):  # an empty column, or one not mapped
        return [""] * len(values)
    if not missing:
        with contextlib.suppress(TypeError):  # a number, a date...
            return list(map(str.strip, values))
    return ["" if value is None else value.strip() if value.__class__ is str else cell_text(value)
            for value in values]  # fmt: skip


def _phone_fields(phone: str, region: str) -> tuple[str | None, str]:
    """A typed phone's E.164 form and search text (the customer table's phone_e164 and
    phone_digits)."""
    if not phone:
        return None, ""
    quick = quick_phone(phone, region)
    if quick is not None:
        return quick[0], quick[2]
    typed = parse_phone(phone, region)
    return typed.e164, phone_search_text(typed.typed, typed.e164, typed.national)


def import_customers(
    db: SqliteDatabase,
    path: Path,
    *,
    sheet: str | None = None,
    mapping: dict[int, str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    options: ImportOptions = ImportOptions(),  # noqa: B008
    dry_run: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> ImportResult:
    """Import customers in one transaction: rows match existing customers by email, then phone,
    then the shop's code. A dry run does everything and rolls it back, reporting every error.
    Big files are read and checked in a child process while this one writes."""
    if options.mode not in MODES:
        raise UserError(_("“{mode}” is not an import mode.").format(mode=options.mode))
    source = _Source(Path(path), sheet, encoding, delimiter)
    source.check_exists()
    region = shop_profile(db).country
    with _import_run(db, "customers", source.path.name, dry_run) as run:
        big = _in_child(source.path)
        prepared = batches(_prepared_customers, source, mapping, options.date_order, region,
                           in_child=big)  # fmt: skip
        try:
            upsert = _Upserter(db, run, options, source.path.name)  # while the file opens
            [chosen] = next(prepared)
            upsert.updatable = _mapped_columns(chosen)
            rebuild = big and upsert.next_id <= REBUILD_INDEXES_BELOW
            with (
                triggers_suspended(db, *SEARCH_TRIGGERS),
                indexes_suspended(db, "customer", _KEPT_INDEXES) if rebuild else nullcontext(),
            ):
                for parts in prepared:
                    for part in parts:
                        _write_part(part, upsert, run, progress, cancel)
                # What is left (search entries, indexes, the commit) takes a while for a big
                # file, about a second for 100,000 rows, with no row to count.
                progress(run.rows, 0, _("Saving the imported customers…"))
                upsert.finish()
        finally:
            prepared.close()
    return run.result()


def _write_part(
    part: tuple,
    upsert: _Upserter,
    run: _Run,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> None:
    """One part of a batch (_packed): new customers a batch at a time when they all are,
    otherwise row by row."""
    if part[0] == "new":
        _kind, numbers, columns, tags = part
        columns = _cut_texts(columns)
        run.tick(numbers[-1], progress, cancel, len(numbers))
        if upsert.add_new(columns, tags):
            return
        rows = zip(numbers, zip(*columns, strict=True), tags, strict=True)
        items = [(number, fields, list(names), None) for number, fields, names in rows]
    else:
        items = part[1]
        run.tick(items[-1][0], progress, cancel, len(items))
    for item in items:
        if len(item) == 2:
            run.errors.append(RowError(*item))
            continue
        number, fields, tags, consent = item
        try:
            upsert(number, fields, tags, consent)
        except UserError as error:
            run.errors.append(RowError(number, error.message))


def import_vcards(
    db: SqliteDatabase,
    path: Path,
    *,
    options: ImportOptions = ImportOptions(),  # noqa: B008
    dry_run: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> ImportResult:
    """Contacts from a .vcf file (a phone's or Google's export) as customers; same matching."""
    path = Path(path)
    if not path.is_file():
        raise UserError(_("The file {path} does not exist.").format(path=path))
    region = shop_profile(db).country
    with _import_run(db, "vcard", path.name, dry_run) as run:
        upsert = _Upserter(db, run, options, path.name, set(UPDATABLE) - {"code"})
        with triggers_suspended(db, *SEARCH_TRIGGERS):
            for number, contact, problem in read_vcards_with_errors(path):
                run.tick(number, progress, cancel)
                if contact is None:
                    run.errors.append(RowError(number, problem or _("This card cannot be read.")))
                    continue
                first, last = contact.first_name, contact.last_name
                if not (first or last) and contact.full_name:
                    first, last = _split_name(contact.full_name)
                data = CustomerInput(
                    first_name=first, last_name=last,
                    email=contact.emails[0] if contact.emails else "",
                    phone=contact.phones[0] if contact.phones else "",
                    city=contact.city, region=contact.region, country=contact.country[:2],
                    birthday=contact.birthday, notes=contact.notes,
                )  # fmt: skip
                try:
                    clean = clean_customer(data, region)
                    upsert(number, _plain_fields(clean), list(contact.categories), None)
                except UserError as error:
                    run.errors.append(RowError(number, error.message.replace("\n", " ")))
            upsert.finish()
    return run.result()


_INSERT_CUSTOMER = (
    "INSERT INTO customer (first_name, last_name, email, phone, phone_e164, phone_digits, city, "
    "region, country, birthday, notes, code, created_at, updated_at) "
    "VALUES (:first_name, :last_name, :email, :phone, :phone_e164, :phone_digits, :city, :region, "
    ":country, :birthday, :notes, :code, :now, :now)"
)


class _Tags:
    """Tag ids by name, created on first use (one query per new tag, not per row)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        self.names = dict(db.execute_sql("SELECT id, name FROM tag").fetchall())
        self.ids = {name.casefold(): tid for tid, name in self.names.items()}
        self._rows: dict[tuple[str, ...], tuple[frozenset[int], str]] = {}

    def for_row(self, names: list[str]) -> tuple[frozenset[int], str]:
        """The tag ids of one row and their names as the search entry holds them, remembered
        for the few lists of tags a file repeats (one look-up a row instead of one a tag)."""
        key = tuple(names)
        found = self._rows.get(key)
        if found is None:
            ids = frozenset(self.ids_for(names))
            found = (ids, " ".join([self.names[tag] for tag in ids]))
            if len(self._rows) < 10_000:
                self._rows[key] = found
        return found

    def for_rows(self, rows: list[tuple[str, ...]]) -> list[tuple[frozenset[int], str]]:
        """for_row of each row's tags: a look-up a row, in one map, for the lists seen before."""
        found = list(map(self._rows.get, rows))
        if None in found:
            found = [self.for_row(names) if known is None else known
                     for names, known in zip(rows, found, strict=True)]  # fmt: skip
        return found

    def ids_for(self, names: list[str]) -> set[int]:
        found = set()
        for name in names:
            key = " ".join(name.split()).casefold()
            if key not in self.ids:
                self.ids[key] = tag_id(name)
                self.names[self.ids[key]] = self.db.execute_sql(
                    "SELECT name FROM tag WHERE id = ?", (self.ids[key],)
                ).fetchone()[0]
            found.add(self.ids[key])
        return found


def _create(db: SqliteDatabase, batch_id: int, fields: tuple, tags: set[int]) -> int:
    """Raw SQL on the hot path: peewee's query building cost more than SQLite itself here."""
    connection = db.connection()
    now = str(utc_now())
    customer = connection.execute(_INSERT_CUSTOMER, {**_columns(fields), "now": now}).lastrowid
    connection.executemany(
        "INSERT OR IGNORE INTO customer_tag (customer_id, tag_id) VALUES (?, ?)",
        [(customer, tag) for tag in tags],
    )
    connection.execute(
        "INSERT INTO import_change (batch_id, customer_id, action) VALUES (?, ?, 'created')",
        (batch_id, customer),
    )
    connection.execute(
        "INSERT INTO activity (customer_id, occurred_at, kind, summary) VALUES (?, ?, 'created', '')",
        (customer, now),
    )
    return customer


_CURRENT = "SELECT " + ", ".join(UPDATABLE) + " FROM customer WHERE id = ?"


def _update(
    db: SqliteDatabase,
    batch_id: int,
    customer_id: int,
    fields: tuple,
    updatable: set[str],
    tags: frozenset[int],
    blank_overwrites: bool,
) -> bool:
    connection = db.connection()
    current = dict(
        zip(UPDATABLE, connection.execute(_CURRENT, (customer_id,)).fetchone(), strict=True)
    )
    new = _columns(fields)
    changes = {}
    for column in updatable:
        value = new[column]
        if value in (None, "") and not blank_overwrites:
            continue
        if (current[column] or None) != (value or None):
            changes[column] = value
    current_tags = {
        row[0]
        for row in connection.execute(
            "SELECT tag_id FROM customer_tag WHERE customer_id = ?", (customer_id,)
        )
    }
    new_tags = tags - current_tags
    if not changes and not new_tags:
        return False
    previous = {column: current[column] for column in changes}
    connection.execute(
        "INSERT INTO import_change (batch_id, customer_id, action, previous) VALUES (?, ?, 'updated', ?)",
        (batch_id, customer_id, json.dumps({"columns": previous, "tags_added": sorted(new_tags)})),
    )
    if changes:
        assignments = ", ".join(f"{column} = :{column}" for column in changes)
        connection.execute(
            f"UPDATE customer SET {assignments}, updated_at = :now WHERE id = :id",
            {**changes, "now": str(utc_now()), "id": customer_id},
        )
    connection.executemany(
        "INSERT INTO customer_tag (customer_id, tag_id) VALUES (?, ?)",
        [(customer_id, tag) for tag in new_tags],
    )
    return True


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _import_consent(db, batch_id: int, customer_id: int, state: str, evidence: str) -> None:
    connection = db.connection()
    current = connection.execute(
        "SELECT email_consent FROM customer WHERE id = ?", (customer_id,)
    ).fetchone()[0]
    if current == state:
        return
    connection.execute(
        "INSERT INTO consent_event (customer_id, state, recorded_at, method, source, import_batch_id) "
        "VALUES (?, ?, ?, 'import', ?, ?)",
        (customer_id, state, str(utc_now()), evidence[:200], batch_id),
    )
    connection.execute("UPDATE customer SET email_consent = ? WHERE id = ?", (state, customer_id))


# ---- history and undo -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportInfo:
    id: int
    kind: str
    file_name: str
    imported_at: datetime
    rows: int
    created: int
    updated: int
    skipped: int
    errors: int
    undone_at: datetime | None


def list_imports(db: SqliteDatabase) -> list[ImportInfo]:
    return [
        ImportInfo(
            b.id,
            b.kind,
            b.file_name,
            b.imported_at,
            b.rows,
            b.created,
            b.updated,
            b.skipped,
            b.errors,
            b.undone_at,
        )  # fmt: skip
        for b in ImportBatch.select().order_by(ImportBatch.id.desc())
    ]


def undo_import(db: SqliteDatabase, batch_id: int) -> None:
    """Take a whole import back: customers it created go, customers it changed get their
    previous values, its purchases and consent records go. One transaction."""
    with db.atomic():
        batch = ImportBatch.get_or_none(ImportBatch.id == batch_id)
        if batch is None or batch.undone_at is not None:
            raise UserError(_("This import was already undone."))
        changes = list(
            ImportChange.select()
            .where(ImportChange.batch == batch_id)
            .order_by(ImportChange.id.desc())
        )
        db.execute_sql("DELETE FROM purchase WHERE import_batch_id = ?", (batch_id,))
        db.execute_sql("DELETE FROM consent_event WHERE import_batch_id = ?", (batch_id,))
        created = [c.customer_id for c in changes if c.action == "created"]
        for change in changes:
            if change.action != "updated":
                continue
            previous = json.loads(change.previous or "{}")
            if previous.get("columns"):
                Customer.update(**previous["columns"]).where(
                    Customer.id == change.customer_id
                ).execute()
            for tag in previous.get("tags_added", []):
                CustomerTag.delete().where(
                    (CustomerTag.customer == change.customer_id) & (CustomerTag.tag == tag)
                ).execute()
        for start in range(0, len(created), 500):
            chunk = created[start : start + 500]
            marks = ",".join("?" * len(chunk))
            db.execute_sql(f"DELETE FROM customer WHERE id IN ({marks})", chunk)
        _refresh_consent_state(db, [c.customer_id for c in changes if c.action == "updated"])
        ImportBatch.update(undone_at=utc_now()).where(ImportBatch.id == batch_id).execute()


def _refresh_consent_state(db: SqliteDatabase, customer_ids: list[int]) -> None:
    for customer_id in customer_ids:
        latest = db.execute_sql(
            "SELECT state FROM consent_event WHERE customer_id = ? ORDER BY recorded_at DESC, id DESC LIMIT 1",
            (customer_id,),
        ).fetchone()
        Customer.update(email_consent=latest[0] if latest else "unknown").where(
            Customer.id == customer_id
        ).execute()


# ---- saved mappings -------------------------------------------------------------------------------


def save_mapping(
    db: SqliteDatabase, kind: str, name: str, headers: tuple[str, ...], mapping: dict[int, str]
) -> None:
    by_header = {headers[index]: field for index, field in mapping.items() if index < len(headers)}
    with db.atomic():
        SavedMapping.replace(kind=kind, name=name.strip()[:80] or "mapping",
                             mapping=json.dumps(by_header, ensure_ascii=False), saved_at=utc_now()).execute()  # fmt: skip


def saved_mapping(
    db: SqliteDatabase, kind: str, name: str, headers: tuple[str, ...]
) -> dict[int, str]:
    found = SavedMapping.get_or_none((SavedMapping.kind == kind) & (SavedMapping.name == name))
    if found is None:
        raise UserError(_("There is no saved mapping called “{name}”.").format(name=name))
    by_header = json.loads(found.mapping)
    return {index: by_header[header] for index, header in enumerate(headers) if header in by_header}


def load_mapping_file(path: Path, headers: tuple[str, ...]) -> dict[int, str]:
    """A mapping file for the command line: JSON {"Header in the file": "field", ...}."""
    try:
        by_header = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(
            _("The mapping file {path} cannot be read: {reason}").format(path=path, reason=error)
        ) from error
    if not isinstance(by_header, dict):
        raise UserError(_("The mapping file must be a JSON object of header names and fields."))
    return {
        index: str(by_header[header]) for index, header in enumerate(headers) if header in by_header
    }


# ---- purchases ------------------------------------------------------------------------------------


class _Catalogue:
    """Products and categories by name and SKU; unknown ones are created as rows need them."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.categories = {
            name.casefold(): cid for cid, name in db.execute_sql("SELECT id, name FROM category")
        }
        self.by_sku: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        for pid, sku, name in db.execute_sql("SELECT id, sku, name FROM product"):
            if sku:
                self.by_sku[sku.casefold()] = pid
            self.by_name.setdefault(name.casefold(), pid)

    def category(self, name: str) -> int | None:
        name = " ".join(name.split())[:100]
        if not name:
            return None
        key = name.casefold()
        if key not in self.categories:
            self.categories[key] = Category.insert(name=name).execute()
        return self.categories[key]

    def product(self, name: str, sku: str, category: str, price: int) -> int | None:
        name, sku = " ".join(name.split())[:200], sku.strip()[:100]
        found = (sku and self.by_sku.get(sku.casefold())) or (
            name and self.by_name.get(name.casefold())
        )
        if found:
            return found
        if not (name or sku):
            return None
        pid = Product.insert(
            name=name or sku, sku=sku or None, category=self.category(category), price=price
        ).execute()
        if sku:
            self.by_sku[sku.casefold()] = pid
        self.by_name.setdefault((name or sku).casefold(), pid)
        return pid


@dataclass(slots=True)
class _Line:
    row: int
    key: str
    customer_id: int
    when_iso: str  # in the import key and the receipt grouping
    when_text: str  # purchase.purchased_at
    reference: str | None
    product_id: int | None
    description: str
    quantity: float
    unit_price: int
    amount: int


@functools.lru_cache(maxsize=4096)
def _cached_number(value: Any, decimal_comma: bool) -> Decimal | None:
    return cell_number(value, decimal_comma)


def _number(value: Any, decimal_comma: bool) -> Decimal | None:
    """Sales files repeat the same prices and quantities: parse each text once."""
    if isinstance(value, str | int):
        return _cached_number(value, decimal_comma)
    return cell_number(value, decimal_comma)


@dataclass(frozen=True)
class _Moment:
    """A sale's time (noon when the file gives only the day) in the two forms stored."""

    iso: str  # in the import key and the receipt grouping
    text: str  # purchase.purchased_at


def _moment(when: date | datetime | None) -> _Moment | None:
    if when is None:
        return None
    moment = when if isinstance(when, datetime) else datetime.combine(when, time(12))
    return _Moment(moment.isoformat(), str(moment))


@functools.lru_cache(maxsize=4096)
def _cached_moment(value: Any, order: str, epoch_1904: bool) -> _Moment | None:
    return _moment(parse_date(value, order, epoch_1904=epoch_1904))


def _money(value: Any, digits: int, decimal_comma: bool) -> int | None:
    if value.__class__ is str or value.__class__ is int:
        return _cached_money(value, digits, decimal_comma)  # prices repeat: work each out once
    return _minor_units(cell_number(value, decimal_comma), digits)


@functools.lru_cache(maxsize=4096)
def _cached_money(value: str | int, digits: int, decimal_comma: bool) -> int | None:
    return _minor_units(cell_number(value, decimal_comma), digits)


def _minor_units(number: Decimal | None, digits: int) -> int | None:
    if number is None:
        return None
    return int((number * (Decimal(10) ** digits)).to_integral_value())


MAX_QUANTITY = Decimal(10) ** 9
_LONGEST_NUMBER = 40  # characters of a quantity, price or total as typed


class _TooLarge(Exception):
    pass


def _too_large(name: str, data: _RowData) -> str:
    return _(_TOO_LARGE[name]).format(value=data.text(name)[:40])


_TOO_LARGE = {
    "quantity": N_("The quantity “{value}” is too large for a sale."),
    "unit_price": N_("The unit price “{value}” is too large for a sale."),
    "amount": N_("The amount “{value}” is too large for a sale."),
}
_NUMBER_PROBLEMS = {
    "quantity": N_("The quantity “{value}” is not a number."),
    "unit_price": N_("The unit price “{value}” is not a number."),
    "amount": N_("The amount “{value}” is not a number."),
}


def _parsed_sale(
    data: _RowData, order: str, epoch_1904: bool, digits: int, decimal_comma: bool
) -> tuple[tuple | None, str | None]:
    """(sale, problem) for one row, without the database: (None, why) when the row has no
    date; otherwise the sale's plain fields, and a problem to report once its customer is
    known (as before, "no customer matches" is said first)."""
    values = data.values
    raw_date = values.get("date")
    try:
        if isinstance(raw_date, str | int):  # a day's sales share their date: parse it once
            moment = _cached_moment(raw_date, order, epoch_1904)
        else:
            moment = _moment(parse_date(raw_date, order, epoch_1904=epoch_1904))
    except ValueError:
        moment = None
    if moment is None:
        return None, _("“{value}” is not a date.").format(value=data.text("date")[:40])
    problem = None
    try:
        for name in _TOO_LARGE:  # a number as long as this is too large for any sale, and
            value = values.get(name)  # 100,000 digits took a second
            if value is not None and len(_text_of(value)) > _LONGEST_NUMBER:
                raise _TooLarge
        name = "quantity"
        quantity = _number(values.get(name), decimal_comma) or Decimal(1)
        name = "unit_price"
        unit = _money(values.get(name), digits, decimal_comma)
        name = "amount"
        amount = _money(values.get(name), digits, decimal_comma)
    except _TooLarge:
        problem, quantity, unit, amount = _too_large(name, data), Decimal(1), 0, 0
    except ValueError:
        problem = _(_NUMBER_PROBLEMS[name]).format(value=data.text(name)[:40])
        quantity, unit, amount = Decimal(1), 0, 0
    if amount is None and unit is None:
        problem, unit, amount = _("The row has no amount."), 0, 0
    if not abs(quantity) < MAX_QUANTITY:
        problem, quantity, unit, amount = _too_large("quantity", data), Decimal(1), 0, 0
    if amount is None:
        amount = int(unit * quantity)
    if unit is None:
        unit = int(amount / quantity) if quantity else amount
    limit = MAX_AMOUNT * 10**digits
    if abs(amount) >= limit or abs(unit) >= limit:
        # More than any sale (and than SQLite's integers hold: a 20-digit invoice number
        # mapped to the total stopped the whole import). Named by what was typed too large:
        # the total, else the unit price, else the quantity that multiplied it.
        given = values.get("amount") is not None
        name = "amount" if given else "unit_price" if abs(unit) >= limit else "quantity"
        problem, unit, amount = _too_large(name, data), 0, 0
    email, phone, code, customer, product, sku, category, reference = (
        "" if value is None else _text_of(value) for value in map(values.get, _SALE_TEXTS)
    )
    sale = (moment.iso, moment.text, email, phone, code, customer, str(quantity), float(quantity),
            unit, amount, product, sku, category, reference or None)  # fmt: skip
    return sale, problem


def _text_of(value: Any) -> str:
    """cell_text, with text (nearly every cell of a sales file) done inline."""
    return value.strip() if value.__class__ is str else cell_text(value)


_SALE_TEXTS = ("customer_email", "customer_phone", "customer_code", "customer_name", "product",
               "sku", "category", "reference")  # fmt: skip


def _prepared_purchases(
    source: _Source,
    mapping: dict[int, str] | None,
    forced_order: str | None,
    digits: int,
    decimal_comma: bool,
) -> Iterator[list]:
    """A sales file read and parsed without the database (so it can run in a child): first
    [the mapping], then batches of (row, sale, problem) as _parsed_sale gives them."""
    with source.open() as table:
        chosen = _resolve_mapping(table.info, mapping, PURCHASE_FIELDS)
        names = set(chosen.values())
        if "date" not in names or not names & {"customer_email", "customer_phone", "customer_code"}:
            raise UserError(
                _("A purchases file needs a date column and a customer column (email, phone or customer code).")
            )  # fmt: skip
        if not names & {"amount", "unit_price"}:
            raise UserError(_("A purchases file needs an amount or a unit price column."))
        order, blocks = _date_order(table, chosen, "date", forced_order)
        order_name = order.order if order else "DMY"
        epoch_1904 = _epoch_1904(table.info)
        yield [chosen]
        batch: list[tuple] = []
        for numbers, columns in blocks:
            # The mapped columns of the block, zipped into rows: no Python step per cell (a
            # mapping may name a column past the file's last one, as _row_values leaves out).
            mapped = [(name, columns[at]) for at, name in chosen.items() if at < len(columns)]
            names = tuple(name for name, _column in mapped)
            rows = (
                zip(*(column for _name, column in mapped), strict=True)
                if mapped
                else [()] * len(numbers)
            )
            for number, values in zip(numbers, rows, strict=True):
                data = _RowData(dict(zip(names, values, strict=True)))
                batch.append((number, *_parsed_sale(data, order_name, epoch_1904, digits,
                                                    decimal_comma)))  # fmt: skip
                if len(batch) >= _BATCH_ROWS:
                    yield batch
                    batch = []
        if batch:
            yield batch


def import_purchases(
    db: SqliteDatabase,
    path: Path,
    *,
    sheet: str | None = None,
    mapping: dict[int, str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    options: ImportOptions = ImportOptions(),  # noqa: B008
    dry_run: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> ImportResult:
    """Import sales (a row per sale or per sale line) in one transaction. Lines with the same
    customer and receipt reference (or date, without one) make one purchase. A line imported
    before (same file row content) is skipped, so importing a file twice adds nothing twice."""
    source = _Source(Path(path), sheet, encoding, delimiter)
    source.check_exists()
    profile = shop_profile(db)
    digits = minor_digits(profile.currency)
    decimal_comma = get_decimal_symbol(profile.locale) == ","
    with _import_run(db, "purchases", source.path.name, dry_run) as run:
        # Read here, not in a child: this process writes most of the time, so a child saved
        # little (20.6-25.1 s against 24.5-24.8 s for 1,000,000 lines) and its memory took the
        # peak over 500 MB (527 MB with the 128 MB page cache these imports need).
        prepared = _prepared_purchases(source, mapping, options.date_order, digits, decimal_comma)
        try:
            customers = _Index(db)  # while the file opens
            catalogue = _Catalogue(db)
            next(prepared)  # the mapping: checked in the reader
            seen: dict[bytes, int] = {}
            pending: list[_Line] = []
            purchases: dict[tuple[int, str], int] = {}
            purchase_ids = itertools.count(
                db.execute_sql("SELECT COALESCE(MAX(id), 0) + 1 FROM purchase").fetchone()[0]
            )
            customers_touched: set[int] = set()
            # Lines of this file never repeat a key (occurrences are counted into it), so only
            # lines of earlier imports can be skipped: with none, no chunk needs looking up.
            earlier = db.execute_sql(
                "SELECT EXISTS (SELECT 1 FROM purchase_line WHERE import_key IS NOT NULL)"
            ).fetchone()[0]
            write = functools.partial(_write_lines, db, purchases=purchases,
                                      purchase_ids=purchase_ids, batch_id=run.batch_id,
                                      currency=profile.currency, counts=run.counts,
                                      look_up=bool(earlier))  # fmt: skip
            with triggers_suspended(db, "purchase_totals_insert"):
                for batch in prepared:
                    for number, sale, problem in batch:
                        run.tick(number, progress, cancel)
                        try:
                            line = _purchase_line(db, number, sale, problem, customers,
                                                  catalogue, profile.country, options,
                                                  run.batch_id, seen)  # fmt: skip
                        except UserError as error:
                            run.errors.append(RowError(number, error.message))
                            continue
                        pending.append(line)
                        customers_touched.add(line.customer_id)
                        if len(pending) >= _CHUNK:
                            write(pending)
                            pending = []
                write(pending)
                recount_purchases(db, customers_touched)
        finally:
            prepared.close()
    return run.result()


def _purchase_line(db, number: int, sale: tuple | None, problem: str | None, customers: _Index,
                   catalogue: _Catalogue, region: str, options: ImportOptions, batch_id: int,
                   seen: dict[bytes, int]) -> _Line:  # fmt: skip
    if sale is None:
        raise UserError(problem)
    (when_iso, when_text, email, phone, code, name, quantity_text, quantity, unit, amount,
     product, sku, category, reference) = sale  # fmt: skip
    reference_key = (email if "@" in email else "", phone, code)
    customer_id = customers.memo.get(reference_key)
    if customer_id is None and reference_key[0]:
        # A stored address typed as stored (the common case) matches first, as find() would.
        customer_id = customers.email.get(email.lower())
    if customer_id is None:
        probe = CustomerInput(first_name="x", email=reference_key[0], phone=phone, code=code)
        try:
            clean = clean_customer(probe, region)
        except ValidationError:
            clean = None
        customer_id = customers.find(_plain_fields(clean)) if clean else None
        if customer_id is not None:
            customers.memo[reference_key] = customer_id  # a file names the same customer often
    if customer_id is None:
        if not options.create_missing_customers:
            raise UserError(
                _("No customer matches {who}.").format(who=email or phone or code or _("(empty)"))
            )
        first, last = _split_name(name or email or phone or code)
        new = clean_customer(CustomerInput(first_name=first, last_name=last,
                                           email=reference_key[0], phone=phone, code=code),
                             region)  # fmt: skip
        fields = _plain_fields(new)
        customer_id = _create(db, batch_id, fields, set())
        customers.add(customer_id, fields)
    if problem is not None:
        raise UserError(problem)
    product_id = catalogue.product(product, sku, category, unit)
    content = f"{customer_id}|{when_iso}|{reference}|{product}|{sku}|{quantity_text}|{amount}"
    # Lines are counted by the digest of their first occurrence's key, not by their text: the
    # same keys as before, for about 60 MB less on a 1,000,000-line file.
    first = hashlib.sha1(f"{content}#0".encode())
    digest = first.digest()
    occurrence = seen.get(digest, 0)
    seen[digest] = occurrence + 1
    key = (
        first if occurrence == 0 else hashlib.sha1(f"{content}#{occurrence}".encode())
    ).hexdigest()
    return _Line(number, key, customer_id, when_iso, when_text, reference, product_id,
                 product[:200], quantity, unit, amount)  # fmt: skip


def recount_purchases(db: SqliteDatabase, customer_ids: set[int]) -> None:
    """Purchase count, total and last date of these customers, set-based (after bulk work)."""
    unique = sorted(customer_ids)
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ",".join("?" * len(chunk))
        db.execute_sql(
            "UPDATE customer SET "
            "purchase_count = (SELECT COUNT(*) FROM purchase WHERE customer_id = customer.id), "
            "total_spent = (SELECT COALESCE(SUM(total), 0) FROM purchase WHERE customer_id = customer.id), "
            "last_purchase_at = (SELECT MAX(purchased_at) FROM purchase WHERE customer_id = customer.id) "
            f"WHERE id IN ({marks})",
            chunk,
        )


def _write_lines(
    db, lines: list[_Line], *, purchases: dict, purchase_ids, batch_id: int, currency: str,
    counts, look_up: bool,
) -> None:  # fmt: skip
    """Insert a chunk of lines with raw executemany (16x faster than insert_many here), after
    dropping lines an earlier import already brought in (looked up when there may be some)."""
    if not lines:
        return
    connection = db.connection()
    fresh = lines
    if look_up:
        marks = ",".join("?" * len(lines))
        known = {
            row[0]
            for row in connection.execute(
                f"SELECT import_key FROM purchase_line WHERE import_key IN ({marks})",
                [line.key for line in lines],
            )
        }
        fresh = [line for line in lines if line.key not in known]
    counts["skipped"] += len(lines) - len(fresh)
    groups: dict[tuple[int, str], list[_Line]] = {}
    for line in fresh:
        groups.setdefault((line.customer_id, line.reference or line.when_iso), []).append(line)
    line_rows, new_purchases, added_to = [], [], []
    for group, members in groups.items():
        total = sum(line.amount for line in members)
        purchase_id = purchases.get(group)
        if purchase_id is None:
            # Ids given here (the import holds the write lock), so the purchases go in with one
            # executemany instead of a statement each: 500,000 receipts in a 1,000,000-line file.
            first = members[0]
            purchase_id = purchases[group] = next(purchase_ids)
            new_purchases.append((purchase_id, first.customer_id, first.when_text, total,
                                  currency, first.reference, batch_id))  # fmt: skip
        else:  # the same receipt went on in an earlier chunk of the file
            added_to.append((total, purchase_id))
        line_rows.extend(
            (purchase_id, line.product_id, line.description, line.quantity, line.unit_price,
             line.amount, line.key)
            for line in members
        )  # fmt: skip
    connection.executemany(
        "INSERT INTO purchase (id, customer_id, purchased_at, total, currency, reference, source, "
        "import_batch_id) VALUES (?, ?, ?, ?, ?, ?, 'import', ?)",
        new_purchases,
    )
    connection.executemany("UPDATE purchase SET total = total + ? WHERE id = ?", added_to)
    connection.executemany(
        "INSERT INTO purchase_line (purchase_id, product_id, description, quantity, unit_price, "
        "amount, import_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
        line_rows,
    )
    counts["created"] += len(fresh)
