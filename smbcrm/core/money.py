"""Money as integer minor units of the shop's currency, formatted the way the shop's country writes it."""

from __future__ import annotations

import functools
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale
from babel.numbers import format_currency, get_currency_precision

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _

CURRENCIES = ("COP", "MXN", "ARS", "PEN", "CLP", "USD")
# Far beyond any sale, far within SQLite's 64-bit integers once in minor units.
MAX_AMOUNT = Decimal(10) ** 14


def minor_digits(currency: str) -> int:
    """Decimal places of the currency's minor unit (COP 2, CLP 0) per ISO 4217."""
    return get_currency_precision(currency)


def to_minor(amount: Decimal | int | float | str, currency: str) -> int:
    """An amount in whole currency units (as typed or read) to integer minor units."""
    try:
        value = Decimal(str(amount).strip())
        if not value.is_finite() or abs(value) >= MAX_AMOUNT:
            raise ArithmeticError(amount)
        scaled = value.scaleb(minor_digits(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    except ArithmeticError as error:
        raise UserError(_("“{amount}” is not an amount of money.").format(amount=amount)) from error
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_digits(currency))


@functools.lru_cache(maxsize=50_000)
def format_money(minor: int, currency: str, locale: str) -> str:
    """E.g. 1250000 COP in es_CO -> '$12.500' and 1250050 -> '$12.500,50': shops write whole
    amounts without cents."""
    value = from_minor(minor, currency)
    if value == value.to_integral_value():
        pattern = Locale.parse(locale).currency_formats["standard"].pattern
        whole = pattern.replace(".00", "").replace(".##", "")
        return format_currency(value, currency, format=whole, locale=locale, currency_digits=False)
    return format_currency(value, currency, locale=locale)
