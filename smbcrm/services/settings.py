"""Shop settings, each declared once here with its default and label, stored in the shop file."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from babel import Locale, UnknownLocaleError
from peewee import SqliteDatabase

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import LANGUAGES, N_, _, set_message_locale
from smbcrm.core.money import CURRENCIES
from smbcrm.models.tables import Setting

# Countries we serve first, each with the currency its shops use.
COUNTRY_CURRENCY = {
    "CO": "COP",
    "MX": "MXN",
    "AR": "ARS",
    "PE": "PEN",
    "CL": "CLP",
    "EC": "USD",
    "US": "USD",
}
MAX_SHOP_NAME = 120
MAX_WEEKLY_EMAILS = 50  # 0 = no limit


@dataclass(frozen=True)
class SettingSpec:
    key: str
    default: Any
    label: str  # marked with N_, translated where shown


SPECS = {
    spec.key: spec
    for spec in (
        SettingSpec("shop_name", "", N_("Shop name")),
        SettingSpec("country", "CO", N_("Country")),
        SettingSpec("currency", "COP", N_("Currency")),
        SettingSpec("language", "es", N_("Language")),
        SettingSpec("welcome_done", False, N_("Welcome finished")),
        SettingSpec("is_demo", False, N_("Demo shop")),
        SettingSpec(
            "marketing_emails_per_week", 2, N_("Promotional emails a customer may get per week")
        ),
        # Segments (services.segments): the built-in segments and value tiers.
        SettingSpec("segment_new_days", 30, N_("New: first purchase within (days)")),
        SettingSpec("segment_active_days", 90, N_("Active: bought within (days)")),
        SettingSpec("segment_lapsed_days", 180, N_("Lapsed: no purchase in (days)")),
        SettingSpec("segment_top_percent", 10, N_("Top customers: best (percent)")),
        # 12-month spend, in whole units of the shop's currency.
        SettingSpec("tier_silver", 250_000, N_("Silver: 12-month spend from")),
        SettingSpec("tier_gold", 500_000, N_("Gold: 12-month spend from")),
        SettingSpec("tier_platinum", 1_000_000, N_("Platinum: 12-month spend from")),
    )
}
# Whole numbers, each with the range that makes sense for it.
INTEGER_RANGES = {
    "marketing_emails_per_week": (0, MAX_WEEKLY_EMAILS),
    "segment_new_days": (1, 3650),
    "segment_active_days": (1, 3650),
    "segment_lapsed_days": (1, 3650),
    "segment_top_percent": (1, 100),
    "tier_silver": (0, 10**12),
    "tier_gold": (0, 10**12),
    "tier_platinum": (0, 10**12),
}


@dataclass(frozen=True)
class ShopProfile:
    shop_name: str
    country: str
    currency: str
    language: str
    welcome_done: bool
    is_demo: bool
    marketing_emails_per_week: int = 2

    @property
    def locale(self) -> str:
        """Babel locale for numbers and money: the language as the shop's country writes it."""
        return number_locale(self.language, self.country)


@functools.cache
def number_locale(language: str, country: str) -> str:
    """e.g. es_CO; English in Colombia still writes 12.500,00 as the country does (es_CO)."""
    for candidate in (f"{language}_{country}", f"es_{country}", language):
        try:
            Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
        return candidate
    return "es"


def country_name(code: str, language: str) -> str:
    return Locale.parse(language).territories.get(code, code)


def _validate(key: str, value: Any) -> Any:
    if key not in SPECS:
        raise UserError(_("“{key}” is not a setting smbcrm knows.").format(key=key))
    if key == "shop_name":
        value = str(value).strip()
        if len(value) > MAX_SHOP_NAME:
            raise UserError(
                _("The shop name is too long: at most {limit} characters.").format(
                    limit=MAX_SHOP_NAME
                )
            )
        if any(ord(char) < 32 for char in value):
            raise UserError(_("The shop name cannot contain line breaks or control characters."))
    elif key == "country" and value not in COUNTRY_CURRENCY:
        raise UserError(_("smbcrm does not know the country “{code}”.").format(code=value))
    elif key == "currency" and value not in CURRENCIES:
        raise UserError(_("smbcrm does not know the currency “{code}”.").format(code=value))
    elif key == "language" and value not in LANGUAGES:
        raise UserError(_("smbcrm does not know the language “{code}”.").format(code=value))
    elif key in ("welcome_done", "is_demo"):
        value = bool(value)
    elif key in INTEGER_RANGES:
        low, high = INTEGER_RANGES[key]
        try:
            value = int(value)
        except (TypeError, ValueError):
            value = None
        if value is None or not low <= value <= high:
            raise UserError(
                _("{setting} must be a whole number from {low} to {high}.").format(
                    setting=_(SPECS[key].label), low=low, high=high
                )
            )
    return value


def load_settings(db: SqliteDatabase) -> dict[str, Any]:
    values = {key: spec.default for key, spec in SPECS.items()}
    for row in Setting.select():
        if row.key in SPECS:
            values[row.key] = json.loads(row.value)
    return values


def save_settings(db: SqliteDatabase, **values: Any) -> None:
    """Validate and store settings in one transaction; nothing is written if one is invalid."""
    checked = {key: _validate(key, value) for key, value in values.items()}
    with db.atomic():
        for key, value in checked.items():
            Setting.replace(key=key, value=json.dumps(value)).execute()
    if {"language", "country"} & checked.keys():
        set_message_locale(shop_profile(db).locale)


def shop_profile(db: SqliteDatabase) -> ShopProfile:
    values = load_settings(db)
    return ShopProfile(**{name: values[name] for name in ShopProfile.__dataclass_fields__})
