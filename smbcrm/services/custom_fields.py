"""Custom fields the owner defines (text, number, date, yes/no, choice) and their values."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from peewee import SqliteDatabase, fn

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import N_, _
from smbcrm.models.tables import CustomerFieldValue, CustomField

KINDS = {
    "text": N_("Text"),
    "number": N_("Number"),
    "date": N_("Date"),
    "yesno": N_("Yes/no"),
    "choice": N_("Choice from a list"),
}
NAME_LIMIT = 60
VALUE_LIMIT = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class FieldInfo:
    id: int
    name: str
    kind: str
    choices: tuple[str, ...]

    @property
    def kind_text(self) -> str:
        return _(KINDS[self.kind])


def _one_line(raw: str, limit: int, what: str) -> str:
    text = " ".join(str(raw).split())
    if not text or _CONTROL.search(str(raw)) or len(text) > limit:
        raise UserError(
            _("{what} must be 1 to {limit} characters on one line.").format(what=what, limit=limit)
        )
    return text


def list_fields(db: SqliteDatabase) -> list[FieldInfo]:
    return [
        FieldInfo(f.id, f.name, f.kind, tuple(json.loads(f.choices)))
        for f in CustomField.select().order_by(CustomField.position, CustomField.id)
    ]


def add_field(db: SqliteDatabase, name: str, kind: str, choices: list[str] | None = None) -> int:
    name = _one_line(name, NAME_LIMIT, _("A field name"))
    if kind not in KINDS:
        raise UserError(_("“{kind}” is not a kind of field.").format(kind=kind))
    cleaned = [_one_line(c, VALUE_LIMIT, _("A choice")) for c in (choices or []) if str(c).strip()]
    if kind == "choice" and not cleaned:
        raise UserError(_("A choice field needs at least one choice."))
    with db.atomic():
        if CustomField.select().where(CustomField.name.collate("NOCASE") == name).exists():
            raise UserError(_("There is already a field called “{name}”.").format(name=name))
        position = (CustomField.select(fn.MAX(CustomField.position)).scalar() or 0) + 1
        return CustomField.create(
            name=name, kind=kind, choices=json.dumps(cleaned, ensure_ascii=False), position=position
        ).id


def delete_field(db: SqliteDatabase, field_id: int) -> None:
    with db.atomic():
        CustomField.delete().where(CustomField.id == field_id).execute()


def clean_value(info: FieldInfo, raw: object) -> str | None:
    """A value as stored (text), or None for empty; UserError explains a wrong one."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if info.kind == "yesno":
        if isinstance(raw, bool):
            return "yes" if raw else "no"
        text = str(raw).strip().lower()
        if text in ("yes", "sí", "si", "true", "1", "x"):
            return "yes"
        if text in ("no", "false", "0"):
            return "no"
    elif info.kind == "number":
        try:
            number = Decimal(str(raw).strip().replace(",", "."))
            if number.is_finite():
                return format(number.normalize(), "f")
        except InvalidOperation:
            pass
    elif info.kind == "date":
        if isinstance(raw, datetime):
            return raw.date().isoformat()
        if isinstance(raw, date):
            return raw.isoformat()
        for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return datetime.strptime(str(raw).strip(), pattern).date().isoformat()
            except ValueError:
                continue
    elif info.kind == "choice":
        text = " ".join(str(raw).split())
        for choice in info.choices:
            if choice.casefold() == text.casefold():
                return choice
    else:
        return _one_line(str(raw), VALUE_LIMIT, info.name)
    raise UserError(
        _("“{value}” does not fit the field {field} ({kind}).").format(
            value=str(raw)[:60], field=info.name, kind=info.kind_text
        )
    )


def set_custom_values(db: SqliteDatabase, customer_id: int, values: dict[int, object]) -> None:
    """Store the customer's values for these fields (None or empty clears one)."""
    fields = {f.id: f for f in list_fields(db)}
    cleaned = {}
    for field_id, raw in values.items():
        if field_id not in fields:
            raise UserError(_("That custom field no longer exists."))
        cleaned[field_id] = clean_value(fields[field_id], raw)
    with db.atomic():
        for field_id, value in cleaned.items():
            CustomerFieldValue.delete().where(
                (CustomerFieldValue.customer == customer_id)
                & (CustomerFieldValue.field == field_id)
            ).execute()
            if value is not None:
                CustomerFieldValue.create(customer=customer_id, field=field_id, value=value)
