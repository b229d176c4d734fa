"""Cells as text and as numbers, without losing digits or guessing separators wrongly."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from smbcrm.transfer.tables import CellValue


def cell_text(value: CellValue) -> str:
    """A cell as text without losing digits: 3001234567.0 -> '3001234567', int -> str(int),
    date -> ISO, None -> '', str stripped. Used for phones, codes, ids."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        # repr gives the shortest text that reads back as the same float; no exponent.
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        return text
    if isinstance(value, datetime):
        return (
            value.date().isoformat()
            if value.time() == datetime.min.time()
            else value.isoformat(sep=" ")
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


_CURRENCY_NOISE = re.compile(
    r"[\s\u00a0\u202f$€£¥]|COP|MXN|ARS|PEN|CLP|USD|EUR|S/|US", re.IGNORECASE
)
_NUMBER = re.compile(r"[0-9]+(?:[.,'][0-9]+)*|[0-9]*[.,][0-9]+")


def cell_number(value: CellValue, decimal_comma: bool) -> Decimal | None:
    """A cell as a Decimal; None when empty; ValueError when it is not a number.
    Text may carry currency signs and codes, thousands separators and a sign or parentheses
    for negatives. When both '.' and ',' appear, the last one is the decimal separator; a single
    separator followed by exactly three digits ('12.500', '12,500') is read by decimal_comma
    (True: '.' groups thousands and ',' is the decimal point, as in most of Latin America)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        return Decimal(int(value)) if value.is_integer() else Decimal(repr(value))
    if isinstance(value, date):
        raise ValueError("a date is not a number")
    text = str(value).strip()
    if not text:
        return None
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    text = _CURRENCY_NOISE.sub("", text)
    if text.startswith("-"):
        negative, text = not negative, text[1:]
    elif text.startswith("+"):
        text = text[1:]
    if text.endswith("-"):  # "1.234-" as some point-of-sale reports print negatives
        negative, text = not negative, text[:-1]
    if not text or not _NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {value!r}")
    text = text.replace("'", "")  # Swiss-style thousands
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        decimal_mark = "." if text.rfind(".") > text.rfind(",") else ","
    elif dots + commas == 0:
        decimal_mark = None
    else:
        mark = "." if dots else ","
        if dots + commas > 1:
            decimal_mark = None  # "1.234.567": only a thousands separator repeats
        elif len(text) - text.rfind(mark) - 1 == 3:
            decimal_mark = "," if decimal_comma else "."
            if decimal_mark != mark:
                decimal_mark = None
        else:
            decimal_mark = mark
    if decimal_mark is None:
        digits = text.replace(".", "").replace(",", "")
    else:
        thousands = "," if decimal_mark == "." else "."
        if decimal_mark in text[text.rfind(decimal_mark) + 1 :] or text.count(decimal_mark) > 1:
            raise ValueError(f"not a number: {value!r}")
        digits = text.replace(thousands, "").replace(decimal_mark, ".")
    try:
        number = Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    return -number if negative else number
