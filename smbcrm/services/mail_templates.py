"""Email templates of the shop, the merge fields they may use, and rendering them per customer."""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel.dates import format_date
from peewee import IntegrityError, SqliteDatabase

from smbcrm.core.dates import to_local, utc_now
from smbcrm.core.errors import UserError
from smbcrm.core.i18n import N_, _
from smbcrm.core.money import format_money
from smbcrm.messaging.templates import MailTemplate, RenderedMail
from smbcrm.models.tables import Campaign
from smbcrm.models.tables import MailTemplate as MailTemplateRow
from smbcrm.services.custom_fields import list_fields
from smbcrm.services.customers import display_name
from smbcrm.services.recommendations import Recommender, shop_recommender
from smbcrm.services.settings import ShopProfile, shop_profile
from smbcrm.services.template_library import LIBRARY

NAME_LIMIT = 80
SUBJECT_LIMIT = 250
BODY_LIMIT = 200_000
CHUNK = 500

# Merge fields every template may use: key, label, example shown in the list.
STANDARD_FIELDS = (
    ("first_name", N_("First name"), "Ana"),
    ("last_name", N_("Last name"), "Gómez"),
    ("full_name", N_("Full name"), "Ana Gómez"),
    ("email", N_("Email"), "ana@example.com"),
    ("phone", N_("Phone"), "300 123 4567"),
    ("city", N_("City"), "Medellín"),
    ("region", N_("Region"), "Antioquia"),
    ("birthday", N_("Birthday"), "29 de febrero"),
    ("purchase_count", N_("Number of purchases"), "7"),
    ("total_spent | money", N_("Total spent"), "$425.000"),
    ("last_purchase.product", N_("Last purchase: product"), "Café especial"),
    ("last_purchase.category", N_("Last purchase: category"), "Despensa"),
    ("last_purchase.date", N_("Last purchase: date"), "24 de diciembre de 2025"),
    ("last_purchase.total | money", N_("Last purchase: amount"), "$42.500"),
    ("days_since_last_purchase", N_("Days since the last purchase"), "45"),
    ("favourite_category", N_("Favourite category"), "Despensa"),
    ("shop_name", N_("Shop name"), "Tienda La Esquina"),
)
SNIPPETS = (
    ('{{ first_name | default("amigo") }}', N_("First name, or a word when it is missing")),
    (
        "{% for p in recommended(3) %}<li>{{ p.name }}</li>{% endfor %}",
        N_("Three products this customer may like"),
    ),
)


@dataclass(frozen=True)
class MergeField:
    key: str  # what goes between {{ }}
    label: str
    example: str

    @property
    def placeholder(self) -> str:
        return "{{ " + self.key + " }}"


@dataclass(frozen=True)
class TemplateInfo:
    id: int
    name: str
    subject: str
    body_html: str
    marketing: bool
    builtin_key: str | None
    updated_at: datetime


def field_key(name: str) -> str:
    """A custom field's name as a merge field: 'Talla de zapato' -> talla_de_zapato."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_") or "field"
    if key[0].isdigit() or key in {f[0].split(" ")[0].split(".")[0] for f in STANDARD_FIELDS}:
        key = f"field_{key}"
    return key


def merge_fields(db: SqliteDatabase) -> list[MergeField]:
    fields = [MergeField(key, _(label), example) for key, label, example in STANDARD_FIELDS]
    fields += [MergeField(field_key(f.name), f.name, "") for f in list_fields(db)]
    return fields


def _info(row: MailTemplateRow) -> TemplateInfo:
    return TemplateInfo(
        row.id, row.name, row.subject, row.body_html, bool(row.marketing), row.builtin_key,
        row.updated_at,
    )  # fmt: skip


def list_templates(db: SqliteDatabase) -> list[TemplateInfo]:
    return [_info(row) for row in MailTemplateRow.select().order_by(MailTemplateRow.name)]


def template(db: SqliteDatabase, template_id: int) -> TemplateInfo:
    row = MailTemplateRow.get_or_none(MailTemplateRow.id == template_id)
    if row is None:
        raise UserError(_("This template no longer exists."))
    return _info(row)


def find_template(db: SqliteDatabase, name: str) -> TemplateInfo:
    row = MailTemplateRow.get_or_none(MailTemplateRow.name == name.strip())
    if row is None:
        raise UserError(_("There is no template called “{name}”.").format(name=name))
    return _info(row)


def check_template(subject: str, body_html: str) -> MailTemplate:
    """Compile a template, or raise TemplateError saying what is wrong and where."""
    if not subject.strip():
        raise UserError(_("Write a subject: it is the first thing your customer reads."))
    if len(subject) > SUBJECT_LIMIT:
        raise UserError(
            _("The subject is too long: at most {limit} characters.").format(limit=SUBJECT_LIMIT)
        )
    if len(body_html) > BODY_LIMIT:
        raise UserError(
            _("The message is too long: at most {limit} characters.").format(limit=BODY_LIMIT)
        )
    return MailTemplate(subject, body_html, filters={"money": lambda value: str(value)})


def save_template(
    db: SqliteDatabase,
    name: str,
    subject: str,
    body_html: str,
    *,
    marketing: bool = True,
    template_id: int | None = None,
) -> TemplateInfo:
    name = " ".join(name.split())
    if not name or len(name) > NAME_LIMIT:
        raise UserError(
            _("A template name must be 1 to {limit} characters.").format(limit=NAME_LIMIT)
        )
    check_template(subject, body_html)
    columns = {
        "name": name,
        "subject": subject.strip(),
        "body_html": body_html,
        "marketing": marketing,
        "updated_at": utc_now(),
    }
    try:
        with db.atomic():
            if template_id is None:
                template_id = MailTemplateRow.insert(created_at=utc_now(), **columns).execute()
            elif not (
                MailTemplateRow.update(**columns).where(MailTemplateRow.id == template_id).execute()
            ):
                raise UserError(_("This template no longer exists."))
    except IntegrityError as error:
        raise UserError(
            _("There is already a template called “{name}”.").format(name=name)
        ) from error
    return template(db, template_id)


def delete_template(db: SqliteDatabase, template_id: int) -> None:
    """Campaigns keep their own copy of the text, so deleting a template changes none of them."""
    with db.atomic():
        MailTemplateRow.delete().where(MailTemplateRow.id == template_id).execute()


def add_ready_templates(db: SqliteDatabase, language: str | None = None) -> int:
    """Copy the ready-made templates the shop does not have yet; returns how many were added."""
    language = language or shop_profile(db).language
    have = {key for (key,) in db.execute_sql("SELECT builtin_key FROM mail_template")}
    names = {name.lower() for (name,) in db.execute_sql("SELECT name FROM mail_template")}
    added = 0
    with db.atomic():
        for ready in LIBRARY.get(language, LIBRARY["en"]):
            if ready.key in have or ready.name.lower() in names:
                continue
            MailTemplateRow.insert(
                name=ready.name, subject=ready.subject, body_html=ready.body_html,
                marketing=ready.marketing, builtin_key=ready.key,
                created_at=utc_now(), updated_at=utc_now(),
            ).execute()  # fmt: skip
            added += 1
    return added


@dataclass(frozen=True)
class Recipient:
    customer_id: int
    name: str
    email: str | None
    consent: str
    context: dict[str, Any]


_RECIPIENT_SQL = """
SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.city, c.region, c.country,
    c.birthday, c.purchase_count, c.total_spent, c.last_purchase_at, c.email_consent{extra}
FROM customer c WHERE c.id IN ({marks})
"""
_LAST_PURCHASE = """,
    (SELECT json_object('product', COALESCE(pr.name, l.description), 'category', cat.name,
                        'total', p.total, 'at', p.purchased_at)
     FROM purchase p JOIN purchase_line l ON l.purchase_id = p.id
     LEFT JOIN product pr ON pr.id = l.product_id LEFT JOIN category cat ON cat.id = pr.category_id
     WHERE p.customer_id = c.id ORDER BY p.purchased_at DESC, l.amount DESC LIMIT 1)"""
_FAVOURITE_CATEGORY = """,
    (SELECT cat.name FROM purchase p JOIN purchase_line l ON l.purchase_id = p.id
     JOIN product pr ON pr.id = l.product_id JOIN category cat ON cat.id = pr.category_id
     WHERE p.customer_id = c.id GROUP BY cat.id ORDER BY SUM(l.amount) DESC LIMIT 1)"""


class RecipientRenderer:
    """Renders one template for many customers: their data is read in chunks, only the merge
    fields the template uses are computed, and recommendations are prepared once."""

    def __init__(
        self,
        db: SqliteDatabase,
        subject: str,
        body_html: str,
        profile: ShopProfile | None = None,
    ) -> None:
        self.db = db
        self.profile = profile or shop_profile(db)
        currency, locale = self.profile.currency, self.profile.locale
        self.template = MailTemplate(
            subject,
            body_html,
            filters={"money": lambda value: _money(value, currency, locale)},
        )
        self.used = self.template.fields_used()
        self._custom = {field_key(f.name): f.id for f in list_fields(db)}
        self._custom_used = {key: fid for key, fid in self._custom.items() if key in self.used}
        self._recommender: Recommender | None = None
        self._today = to_local(utc_now()).date()

    def _recommend(self, customer_id: int, history: list | None):
        def recommended(count: int = 3) -> list[dict[str, Any]]:
            return [
                {"name": r.name, "category": r.category, "price": r.price}
                for r in self._recommender_now().for_customer(customer_id, count, history)
            ]

        return recommended

    def _recommender_now(self) -> Recommender:
        if self._recommender is None:
            self._recommender = shop_recommender(self.db)
        return self._recommender

    def recipients(self, customer_ids: Iterable[int]) -> Iterator[Recipient]:
        ids = list(customer_ids)
        extra = ""
        if "last_purchase" in self.used:
            extra += _LAST_PURCHASE
        if "favourite_category" in self.used:
            extra += _FAVOURITE_CATEGORY
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = {
                row[0]: row
                for row in self.db.execute_sql(
                    _RECIPIENT_SQL.format(extra=extra, marks=marks), chunk
                )
            }
            custom = self._custom_values(chunk, marks)
            histories = (
                self._recommender_now().histories(chunk) if "recommended" in self.used else {}
            )
            for customer_id in chunk:
                row = rows.get(customer_id)
                if row is not None:
                    yield self._recipient(
                        row, custom.get(customer_id, {}), histories.get(customer_id)
                    )

    def _custom_values(self, chunk: list[int], marks: str) -> dict[int, dict[str, str]]:
        if not self._custom_used:
            return {}
        keys = {fid: key for key, fid in self._custom_used.items()}
        values: dict[int, dict[str, str]] = {}
        for customer_id, field_id, value in self.db.execute_sql(
            f"SELECT customer_id, field_id, value FROM customer_field_value "
            f"WHERE customer_id IN ({marks}) AND field_id IN ({','.join(map(str, keys))})",
            chunk,
        ):
            values.setdefault(customer_id, {})[keys[field_id]] = value
        return values

    def _recipient(self, row: tuple, custom: dict[str, str], history: list | None) -> Recipient:
        (customer_id, first, last, email, phone, city, region, country, birthday, count, spent,
         last_at, consent, *extra) = row  # fmt: skip
        language = self.profile.language
        context: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "full_name": f"{first} {last}".strip(),
            "email": email,
            "phone": phone,
            "city": city,
            "region": region,
            "country": country,
            "purchase_count": count,
            "total_spent": spent,
            "shop_name": self.profile.shop_name,
        }
        if birthday and "birthday" in self.used:
            context["birthday"] = _date_text(str(birthday), "d MMMM", language)
        if last_at and "days_since_last_purchase" in self.used:
            moment = datetime.fromisoformat(str(last_at))
            context["days_since_last_purchase"] = (self._today - to_local(moment).date()).days
        position = 0
        if "last_purchase" in self.used:
            if extra[position]:
                context["last_purchase"] = _last_purchase(extra[position], language)
            position += 1
        if "favourite_category" in self.used:
            context["favourite_category"] = extra[position]
        context.update(custom)
        # Absent values are left out, so the template sees them as missing (and default() works).
        context = {key: value for key, value in context.items() if value not in (None, "")}
        if "recommended" in self.used:
            context["recommended"] = self._recommend(customer_id, history)
        return Recipient(customer_id, display_name(first, last, email), email, consent, context)

    def render(self, recipient: Recipient, *, with_text: bool = True) -> RenderedMail:
        return self.template.render(recipient.context, with_text=with_text)


def _money(value: Any, currency: str, locale: str) -> str:
    try:
        return format_money(int(value), currency, locale)
    except (TypeError, ValueError):
        return ""


@functools.lru_cache(maxsize=4096)
def _date_text(iso_date: str, pattern: str, language: str) -> str:
    return format_date(date.fromisoformat(iso_date[:10]), pattern, locale=language)


def _last_purchase(data: str, language: str) -> dict[str, Any]:
    values = json.loads(data)
    moment = datetime.fromisoformat(values.pop("at"))
    values["date"] = _date_text(to_local(moment).date().isoformat(), "long", language)
    return {key: value for key, value in values.items() if value not in (None, "")}


def preview(
    db: SqliteDatabase, subject: str, body_html: str, customer_id: int
) -> tuple[Recipient, RenderedMail]:
    """The message exactly as one customer would receive it (before the unsubscribe line)."""
    renderer = RecipientRenderer(db, subject, body_html)
    for recipient in renderer.recipients([customer_id]):
        return recipient, renderer.render(recipient)
    raise UserError(_("This customer no longer exists."))


def templates_in_use(db: SqliteDatabase, template_id: int) -> int:
    return Campaign.select().where(Campaign.template == template_id).count()
