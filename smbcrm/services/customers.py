"""Customers: validation, create and edit, tags, notes, consent, archive, search and listing."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, NamedTuple

from peewee import SqliteDatabase

from smbcrm.core.dates import utc_now
from smbcrm.core.errors import UserError
from smbcrm.core.i18n import N_, _
from smbcrm.core.phones import parse_phone, phone_search_text
from smbcrm.models.tables import (
    Activity,
    ConsentEvent,
    Customer,
    CustomerTag,
    Tag,
)
from smbcrm.services.custom_fields import set_custom_values

LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "phone": 40,
    "city": 100,
    "region": 100,
    "country": 2,
    "code": 50,
    "notes": 10_000,
}
NOTE_LIMIT = 10_000
TAG_LIMIT = 50
CONSENT_STATES = ("unknown", "granted", "withdrawn")
CONSENT_LABELS = {
    "unknown": N_("not asked"),
    "granted": N_("accepts marketing email"),
    "withdrawn": N_("does not want marketing email"),
}
CONSENT_METHODS = {
    "counter": N_("entered at the counter"),
    "form": N_("signed form"),
    "whatsapp": N_("by WhatsApp"),
    "phone": N_("by phone"),
    "import": N_("imported"),
    "unsubscribe": N_("unsubscribed"),
    "merge": N_("merge of two customers"),
}
# Control characters (line breaks included) are refused in one-line fields; notes allow
# line breaks and tabs only.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_CONTROL_IN_NOTES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ValidationError(UserError):
    """One message per field that is wrong, plus a summary."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("\n".join(problems.values()))
        self.problems = problems


class CustomerInput(NamedTuple):
    """What a person typed (or an import read) for one customer.

    A named tuple rather than a frozen dataclass, like CleanCustomer: an import makes two of
    these per row, and a frozen dataclass takes 2 µs to build against 0.7 µs."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    city: str = ""
    region: str = ""
    country: str = ""
    birthday: date | str | None = None
    notes: str = ""
    code: str = ""


class CleanCustomer(NamedTuple):
    first_name: str
    last_name: str
    email: str | None
    phone: str
    phone_e164: str | None
    phone_digits: str
    city: str
    region: str
    country: str
    birthday: date | None
    notes: str
    code: str | None
    warnings: tuple[str, ...] = ()


FIELD_LABELS = {
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "city": N_("City"),
    "region": N_("Region"),
    "country": N_("Country"),
    "birthday": N_("Birthday"),
    "notes": N_("Notes"),
    "code": N_("Customer code"),
}


def _text(problems: dict[str, str], name: str, value: str) -> str:
    if not value:
        return ""  # most optional fields of an imported row are empty
    value = value if isinstance(value, str) else str(value)
    # The common case, checked without the regular expression (imports call this nine times a
    # row): str.isprintable() is False for every control character and every whitespace but
    # the plain space, so printable text with no space at an end or twice is already clean.
    tidy = value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " "
    if not tidy:
        pattern = _CONTROL_IN_NOTES if name == "notes" else _CONTROL
        if pattern.search(value):
            problems[name] = (
                _("{field}: line breaks and control characters are not allowed.")
                if name != "notes"
                else _("{field}: control characters are not allowed.")
            ).format(field=_(FIELD_LABELS[name]))
            return ""
        value = value.strip() if name == "notes" else " ".join(value.split())
    if len(value) > LIMITS[name]:
        problems[name] = _("{field} is too long: at most {limit} characters.").format(
            field=_(FIELD_LABELS[name]), limit=LIMITS[name]
        )
    return value


# Plain ASCII addresses, the common case, checked without the library (about 1 µs instead of
# 17 µs); anything else goes through email-validator. tests/services/test_customers.py checks
# that both agree on many addresses.
_SIMPLE_EMAIL = re.compile(
    r"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
)
_SPECIAL_TLDS = {"arpa", "invalid", "local", "localhost", "onion", "test", "example", "lan",
                 "home", "internal", "corp", "intranet", "private"}  # fmt: skip


def normalise_email(typed: str) -> str:
    """A valid address in lower case, or email_validator's EmailNotValidError (a ValueError)
    saying why not."""
    lowered = typed.strip().lower()
    if (
        len(lowered) <= 254
        and _SIMPLE_EMAIL.fullmatch(lowered)
        and len(lowered.split("@")[0]) <= 64
        and lowered.rsplit(".", 1)[1] not in _SPECIAL_TLDS
    ):
        return lowered
    # The library, for what the fast path cannot take (30 ms to import: the reading child of a
    # big import starts that much sooner without it). Its errors are ValueErrors.
    from email_validator import validate_email

    return validate_email(typed, check_deliverability=False).normalized.lower()


# _SIMPLE_EMAIL on each line of a column of addresses (an empty line is no address), and the
# top-level domain at the end of each.
_SIMPLE_EMAIL_LINES = re.compile(f"(?:(?:{_SIMPLE_EMAIL.pattern})?\n)*")
_LAST_LABEL = re.compile(r"\.([a-z]{2,24})\n")


def simple_emails(lowered: list[str]) -> bool:
    """Whether normalise_email takes every one of these addresses (in lower case, stripped, or
    empty) as it is, without the library: its common case for a whole column of an import in
    a few scans, instead of a call for each (0.27 ms against 0.72 ms for 500 addresses).
    Addresses over 64 characters make it answer False: ask normalise_email for each."""
    if max(map(len, lowered), default=0) > 64:  # the part before @ is at most 64 long
        return False
    text = "\n".join(lowered) + "\n"
    return (
        text.count("\n") == len(lowered)  # no address holds a line break
        and _SIMPLE_EMAIL_LINES.fullmatch(text) is not None
        and _SPECIAL_TLDS.isdisjoint(_LAST_LABEL.findall(text))
    )


_EARLIEST_BIRTHDAY = date(1900, 1, 1)


def parse_birthday(value: date | str | None, today: date | None = None) -> date | None:
    """A date of birth: ISO (1988-02-29) or day/month/year (29/02/1988) as written in LatAm."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        text = value.strip()
        parsed = None
        for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
            try:
                parsed = datetime.strptime(text, pattern).date()
                break
            except ValueError:
                continue
        if parsed is None:
            raise ValueError(text)
        value = parsed
    today = today or date.today()
    if not _EARLIEST_BIRTHDAY <= value <= today:
        raise ValueError(str(value))
    return value


def clean_customer(data: CustomerInput, region: str) -> CleanCustomer:
    """Check and normalise one customer; raises ValidationError naming every wrong field."""
    problems: dict[str, str] = {}
    warnings: list[str] = []
    first = _text(problems, "first_name", data.first_name)
    last = _text(problems, "last_name", data.last_name)
    email_typed = _text(problems, "email", data.email)
    phone_typed = _text(problems, "phone", data.phone)
    city = _text(problems, "city", data.city)
    region_name = _text(problems, "region", data.region)
    country = _text(problems, "country", data.country).upper()
    notes = _text(problems, "notes", data.notes)
    code = _text(problems, "code", data.code) or None
    if not (first or last or email_typed or phone_typed) and not problems:
        problems["first_name"] = _("Give at least a name, an email or a phone.")
    email = None
    if email_typed and "email" not in problems:
        try:
            email = normalise_email(email_typed)
        except ValueError:  # EmailNotValidError
            # The library's reason is English only; the address itself says enough.
            problems["email"] = _("“{email}” is not a valid email address.").format(
                email=email_typed
            )
    phone = parse_phone(phone_typed, country or region)
    if phone.flagged:
        warnings.append(
            _("The phone “{phone}” could not be recognised; it is kept as typed.").format(
                phone=phone_typed
            )
        )
    birthday = None
    try:
        birthday = parse_birthday(data.birthday)
    except ValueError:
        problems["birthday"] = _(
            "“{value}” is not a date of birth: write it as day/month/year, e.g. 29/02/1988."
        ).format(value=data.birthday)
    if problems:
        raise ValidationError(problems)
    return CleanCustomer(
        first_name=first,
        last_name=last,
        email=email,
        phone=phone.typed,
        phone_e164=phone.e164,
        phone_digits=phone_search_text(phone.typed, phone.e164, phone.national),
        city=city,
        region=region_name,
        country=country or region,
        birthday=birthday,
        notes=notes,
        code=code,
        warnings=tuple(warnings),
    )


def display_name(first_name: str, last_name: str, email: str | None = None) -> str:
    name = f"{first_name} {last_name}".strip()
    return name or (email or "") or _("(no name)")


@dataclass(frozen=True)
class DuplicateHint:
    customer_id: int
    name: str
    reason: str  # "email" | "phone"


def duplicate_hints(
    db: SqliteDatabase, clean: CleanCustomer, exclude_id: int | None = None
) -> list[DuplicateHint]:
    """Other customers with the same email or phone, to warn about before saving."""
    hints = []
    checks = (
        ("email", Customer.email, clean.email),
        ("phone", Customer.phone_e164, clean.phone_e164),
    )
    for reason, column, value in checks:
        if not value:
            continue
        query = Customer.select().where((column == value) & Customer.merged_into.is_null())
        if exclude_id is not None:
            query = query.where(Customer.id != exclude_id)
        for other in query.limit(3):
            hints.append(
                DuplicateHint(other.id, display_name(other.first_name, other.last_name), reason)
            )
    return hints


def _search_refresh(db: SqliteDatabase, customer_id: int) -> None:
    """Rebuild one customer's row in the search index (the triggers cover the usual paths)."""
    db.execute_sql("DELETE FROM customer_search WHERE rowid = ?", (customer_id,))
    db.execute_sql(
        "INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes) "
        "SELECT * FROM customer_search_source WHERE id = ?",
        (customer_id,),
    )


def _consent_change(
    customer_id: int, state: str, method: str, source: str, when: datetime | None = None
) -> None:
    if state not in CONSENT_STATES:
        raise UserError(_("“{state}” is not a consent state.").format(state=state))
    ConsentEvent.create(
        customer=customer_id,
        state=state,
        method=method,
        source=source[:200],
        recorded_at=when or utc_now(),
    )
    Customer.update(email_consent=state, updated_at=utc_now()).where(
        Customer.id == customer_id
    ).execute()


def create_customer(
    db: SqliteDatabase,
    data: CustomerInput,
    *,
    region: str,
    tags: list[str] | None = None,
    consent: str | None = None,
    consent_method: str = "counter",
    consent_source: str = "",
) -> int:
    """Create a customer (with tags and consent evidence) in one transaction; returns its id."""
    clean = clean_customer(data, region)
    with db.atomic():
        if clean.code and Customer.select().where(Customer.code == clean.code).exists():
            raise ValidationError(
                {"code": _("Another customer already has the code {code}.").format(code=clean.code)}
            )
        customer = Customer.create(**_columns(clean))
        if tags:
            set_tags(db, customer.id, tags)
        if consent and consent != "unknown":
            _consent_change(customer.id, consent, consent_method, consent_source)
        Activity.create(customer=customer.id, kind="created", summary="")
    return customer.id


def _columns(clean: CleanCustomer) -> dict[str, Any]:
    return {
        "first_name": clean.first_name,
        "last_name": clean.last_name,
        "email": clean.email,
        "phone": clean.phone,
        "phone_e164": clean.phone_e164,
        "phone_digits": clean.phone_digits,
        "city": clean.city,
        "region": clean.region,
        "country": clean.country,
        "birthday": clean.birthday,
        "notes": clean.notes,
        "code": clean.code,
    }


def update_customer(
    db: SqliteDatabase, customer_id: int, data: CustomerInput, *, region: str
) -> None:
    clean = clean_customer(data, region)
    with db.atomic():
        if (
            clean.code
            and Customer.select()
            .where((Customer.code == clean.code) & (Customer.id != customer_id))
            .exists()
        ):
            raise ValidationError(
                {"code": _("Another customer already has the code {code}.").format(code=clean.code)}
            )
        updated = (
            Customer.update(updated_at=utc_now(), **_columns(clean))
            .where(Customer.id == customer_id)
            .execute()
        )
        if not updated:
            raise UserError(_("This customer no longer exists."))


def save_customer(
    db: SqliteDatabase,
    customer_id: int | None,
    data: CustomerInput,
    *,
    region: str,
    tags: list[str],
    custom_values: dict[int, object],
    consent: str | None = None,
    consent_method: str = "counter",
    consent_source: str = "",
) -> int:
    """Everything the profile form holds, saved in one transaction; returns the customer's id.

    A consent state different from the current one is appended as new evidence."""
    with db.atomic():
        if customer_id is None:
            customer_id = create_customer(db, data, region=region)
        else:
            update_customer(db, customer_id, data, region=region)
        set_tags(db, customer_id, tags)
        set_custom_values(db, customer_id, custom_values)
        current = Customer.get_by_id(customer_id).email_consent
        if consent is not None and consent != current:
            _consent_change(customer_id, consent, consent_method, consent_source)
    return customer_id


def _clean_tag(raw: str) -> str:
    name = " ".join(str(raw).split())
    if not name or _CONTROL.search(str(raw)) or len(name) > TAG_LIMIT:
        raise UserError(
            _("“{tag}” cannot be a tag: use 1 to {limit} characters on one line.").format(
                tag=name[:60], limit=TAG_LIMIT
            )
        )
    return name


def tag_id(name: str) -> int:
    name = _clean_tag(name)
    existing = Tag.get_or_none(Tag.name == name)
    if existing is not None:
        return existing.id
    found = Tag.select().where(Tag.name.collate("NOCASE") == name).first()
    return found.id if found else Tag.create(name=name).id


def set_tags(db: SqliteDatabase, customer_id: int, names: list[str]) -> None:
    """Make the customer's tags exactly these (created as needed)."""
    with db.atomic():
        wanted = {tag_id(name) for name in names if str(name).strip()}
        current = {
            row.tag_id for row in CustomerTag.select().where(CustomerTag.customer == customer_id)
        }
        for removed in current - wanted:
            CustomerTag.delete().where(
                (CustomerTag.customer == customer_id) & (CustomerTag.tag == removed)
            ).execute()
        for added in wanted - current:
            CustomerTag.create(customer=customer_id, tag=added)


def add_note(db: SqliteDatabase, customer_id: int, text: str) -> int:
    text = text.strip()
    if not text:
        raise UserError(_("The note is empty."))
    if len(text) > NOTE_LIMIT or _CONTROL_IN_NOTES.search(text):
        raise UserError(
            _("A note has at most {limit} characters and no control characters.").format(
                limit=NOTE_LIMIT
            )
        )
    with db.atomic():
        return Activity.create(customer=customer_id, kind="note", summary=text).id


def record_consent(
    db: SqliteDatabase, customer_id: int, state: str, *, method: str, source: str = ""
) -> None:
    """Append consent evidence and make it the customer's current state."""
    with db.atomic():
        _consent_change(customer_id, state, method, source)


def unsubscribe(db: SqliteDatabase, customer_id: int, source: str = "") -> None:
    record_consent(db, customer_id, "withdrawn", method="unsubscribe", source=source)


def set_archived(db: SqliteDatabase, customer_id: int, archived: bool) -> None:
    with db.atomic():
        Customer.update(archived=archived, updated_at=utc_now()).where(
            Customer.id == customer_id
        ).execute()
        Activity.create(customer=customer_id, kind="archived" if archived else "unarchived")


# ---- finding customers -------------------------------------------------------------------------

SORTS = {
    "name": "c.first_name COLLATE NOCASE {dir}, c.last_name COLLATE NOCASE {dir}",
    "email": "c.email IS NULL, c.email {dir}",
    "phone": "c.phone = '', c.phone {dir}",
    "city": "c.city = '', c.city COLLATE NOCASE {dir}",
    "last_purchase": "c.last_purchase_at IS NULL, c.last_purchase_at {dir}",
    "total_spent": "c.total_spent {dir}",
}


@dataclass(frozen=True)
class CustomerQuery:
    text: str = ""
    tag_ids: tuple[int, ...] = ()
    has_email: bool = False
    has_phone: bool = False
    archived: bool = False  # False: hide archived; True: only archived
    field_id: int | None = None
    field_value: str = ""
    sort: str = ""  # "" = best match when searching, else name
    descending: bool = False
    segment: str = ""  # a segment's key or name (services.segments); "" = any


MIN_PHONE_DIGITS = 3


def fts_query(text: str) -> str:
    """Turn what someone types into an FTS5 query: every word a prefix, all words required.

    Digits typed with spaces, dashes or parentheses (a phone) become one number; after a
    leading + the country code is dropped, since it matches nearly everyone's number. A phone
    query starts to search at three digits."""
    text = text.strip()
    if not text:
        return ""
    if re.fullmatch(r"[\d\s\-().+]+", text):
        digits = re.sub(r"\D", "", text)
        if text.startswith("+"):
            digits = _without_country_code(digits)
        return f'phone : "{digits}"*' if len(digits) >= MIN_PHONE_DIGITS else ""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    return " ".join(f'"{word}"*' for word in words)


def _without_country_code(digits: str) -> str:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE  # see parse_phone

    for length in (1, 2, 3):
        if int(digits[:length] or 0) in COUNTRY_CODE_TO_REGION_CODE:
            return digits[length:]
    return digits


MIN_SEARCH = 2  # one letter matches half the shop: searching starts at two
RANKED_LIMIT = 1_000  # up to this many matches are ordered best first, more by the list order


def matching_ids(db: SqliteDatabase, text: str) -> list[int]:
    """Ids of the customers whose indexed text matches, in no particular order (fast)."""
    match = fts_query(text) if len(text.strip()) >= MIN_SEARCH else ""
    if not match:
        return []
    sql = "SELECT rowid FROM customer_search WHERE customer_search MATCH ?"
    return [row[0] for row in db.execute_sql(sql, (match,))]


class CustomerLister:
    """Answers the customer list's queries while someone types.

    The order of the whole list for the current sort and filters is read once and kept; a
    search then asks the search index which customers match and keeps their place in that
    order, or ranks them best first when there are few. Call invalidate() after changes."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._base: tuple[CustomerQuery, list[int]] | None = None
        self._position_of: tuple[list[int], dict[int, int]] | None = None

    def invalidate(self) -> None:
        with self._lock:
            self._base = None
            self._position_of = None

    def _base_ids(self, query: CustomerQuery) -> list[int]:
        with self._lock:
            if self._base is not None and self._base[0] == query:
                return self._base[1]
        ids = customer_ids(self.db, query)
        with self._lock:
            self._base = (query, ids)
        return ids

    def ids(self, query: CustomerQuery) -> list[int]:
        base_query = replace(query, text="", sort=query.sort or "name")
        matched = matching_ids(self.db, query.text)
        if not matched and not fts_query(
            query.text if len(query.text.strip()) >= MIN_SEARCH else ""
        ):
            return self._base_ids(base_query)  # nothing to search for yet
        if len(matched) <= RANKED_LIMIT and not query.sort:
            return customer_ids(self.db, query)
        base = self._base_ids(base_query)
        if len(matched) * 4 < len(base):
            position = self._positions(base)
            return sorted((i for i in matched if i in position), key=position.__getitem__)
        wanted = set(matched)
        return [i for i in base if i in wanted]

    def _positions(self, base: list[int]) -> dict[int, int]:
        with self._lock:
            if self._position_of is None or self._position_of[0] is not base:
                self._position_of = (base, {customer: index for index, customer in enumerate(base)})
            return self._position_of[1]


def customer_ids(db: SqliteDatabase, query: CustomerQuery) -> list[int]:
    """The ids of matching customers in display order (cheap: ids only, no rows)."""
    where = ["c.merged_into_id IS NULL", "c.archived = ?"]
    params: list[Any] = [1 if query.archived else 0]
    joins = ""
    order = ""
    match = fts_query(query.text)
    if match:
        joins = " JOIN customer_search s ON s.rowid = c.id"
        where.append("customer_search MATCH ?")
        params.append(match)
        if not query.sort:
            order = "s.rank"
    if query.has_email:
        where.append("c.email IS NOT NULL")
    if query.has_phone:
        where.append("c.phone != ''")
    for tag in query.tag_ids:
        where.append(
            "EXISTS (SELECT 1 FROM customer_tag ct WHERE ct.customer_id = c.id AND ct.tag_id = ?)"
        )
        params.append(tag)
    if query.field_id is not None:
        where.append(
            "EXISTS (SELECT 1 FROM customer_field_value v WHERE v.customer_id = c.id "
            "AND v.field_id = ? AND v.value = ?)"
        )
        params.extend((query.field_id, query.field_value))
    if query.segment:
        # Imported here: segments builds on this module (names, tags).
        from smbcrm.services.segments import segment_sql

        sql, segment_params = segment_sql(db, query.segment)
        where.append(f"c.id IN ({sql})")
        params.extend(segment_params)
    if not order:
        order = SORTS.get(query.sort or "name", SORTS["name"]).format(
            dir="DESC" if query.descending else "ASC"
        )
    sql = f"SELECT c.id FROM customer c{joins} WHERE {' AND '.join(where)} ORDER BY {order}, c.id"
    return [row[0] for row in db.execute_sql(sql, params)]


@dataclass(frozen=True)
class CustomerRow:
    id: int
    name: str
    email: str
    phone: str
    phone_flagged: bool
    city: str
    tags: str
    last_purchase_at: datetime | None
    total_spent: int
    purchase_count: int
    archived: bool


def customer_rows(db: SqliteDatabase, ids: list[int]) -> list[CustomerRow]:
    """Rows for a page of ids, in the order given."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    sql = (
        "SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.phone_e164, c.city, "
        "(SELECT group_concat(t.name, ', ') FROM customer_tag ct JOIN tag t ON t.id = ct.tag_id "
        " WHERE ct.customer_id = c.id), c.last_purchase_at, c.total_spent, c.purchase_count, "
        f"c.archived FROM customer c WHERE c.id IN ({marks})"
    )
    found = {}
    for row in db.execute_sql(sql, ids):
        (cid, first, last, email, phone, e164, city, tags, last_at, spent, count, archived) = row
        found[cid] = CustomerRow(
            id=cid,
            name=display_name(first, last, email),
            email=email or "",
            phone=phone,
            phone_flagged=bool(phone) and not e164,
            city=city,
            tags=tags or "",
            last_purchase_at=_as_datetime(last_at),
            total_spent=spent,
            purchase_count=count,
            archived=bool(archived),
        )
    return [found[i] for i in ids if i in found]


def _as_datetime(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class SearchResult:
    id: int
    name: str
    email: str
    phone: str


def search(db: SqliteDatabase, text: str, limit: int = 20) -> list[SearchResult]:
    """Customers matching text, best first (the command line's `search`)."""
    ids = customer_ids(db, CustomerQuery(text=text))[: max(1, limit)]
    return [SearchResult(r.id, r.name, r.email, r.phone) for r in customer_rows(db, ids)]


@dataclass(frozen=True)
class TagInfo:
    id: int
    name: str
    customers: int


def list_tags(db: SqliteDatabase) -> list[TagInfo]:
    sql = (
        "SELECT t.id, t.name, COUNT(ct.customer_id) FROM tag t "
        "LEFT JOIN customer_tag ct ON ct.tag_id = t.id GROUP BY t.id ORDER BY t.name COLLATE NOCASE"
    )
    return [TagInfo(*row) for row in db.execute_sql(sql)]


def rename_tag(db: SqliteDatabase, tag: int, new_name: str) -> None:
    new_name = _clean_tag(new_name)
    with db.atomic():
        clash = (
            Tag.select().where((Tag.name.collate("NOCASE") == new_name) & (Tag.id != tag)).first()
        )
        if clash:
            raise UserError(_("There is already a tag called “{tag}”.").format(tag=clash.name))
        Tag.update(name=new_name).where(Tag.id == tag).execute()


def delete_tag(db: SqliteDatabase, tag: int) -> None:
    with db.atomic():
        Tag.delete().where(Tag.id == tag).execute()


@dataclass(frozen=True)
class ConsentRecord:
    state: str
    recorded_at: datetime
    method: str
    source: str


@dataclass(frozen=True)
class CustomerDetail:
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    phone_flagged: bool
    city: str
    region: str
    country: str
    birthday: date | None
    notes: str
    code: str
    email_consent: str
    archived: bool
    created_at: datetime
    purchase_count: int
    total_spent: int
    last_purchase_at: datetime | None
    tags: tuple[str, ...]
    custom_values: dict[int, str] = field(default_factory=dict)
    consent_history: tuple[ConsentRecord, ...] = ()
    merged_into_id: int | None = None

    @property
    def name(self) -> str:
        return display_name(self.first_name, self.last_name, self.email)


def customer_detail(db: SqliteDatabase, customer_id: int) -> CustomerDetail:
    customer = Customer.get_or_none(Customer.id == customer_id)
    if customer is None:
        raise UserError(_("This customer no longer exists."))
    tags = tuple(
        name
        for (name,) in db.execute_sql(
            "SELECT t.name FROM customer_tag ct JOIN tag t ON t.id = ct.tag_id "
            "WHERE ct.customer_id = ? ORDER BY t.name COLLATE NOCASE",
            (customer_id,),
        )
    )
    values = dict(
        db.execute_sql(
            "SELECT field_id, value FROM customer_field_value WHERE customer_id = ?", (customer_id,)
        ).fetchall()
    )
    history = tuple(
        ConsentRecord(e.state, e.recorded_at, e.method, e.source)
        for e in ConsentEvent.select()
        .where(ConsentEvent.customer == customer_id)
        .order_by(ConsentEvent.recorded_at.desc(), ConsentEvent.id.desc())
    )
    return CustomerDetail(
        id=customer.id,
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email or "",
        phone=customer.phone,
        phone_flagged=bool(customer.phone) and not customer.phone_e164,
        city=customer.city,
        region=customer.region,
        country=customer.country,
        birthday=customer.birthday,
        notes=customer.notes,
        code=customer.code or "",
        email_consent=customer.email_consent,
        archived=customer.archived,
        created_at=customer.created_at,
        purchase_count=customer.purchase_count,
        total_spent=customer.total_spent,
        last_purchase_at=_as_datetime(customer.last_purchase_at),
        tags=tags,
        custom_values=values,
        consent_history=history,
        merged_into_id=customer.merged_into_id,
    )
