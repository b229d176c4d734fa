"""Dates from cells: real dates, ISO text, text in day/month order, and Excel serial numbers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from smbcrm.transfer.tables import CellValue

ORDERS = ("DMY", "MDY", "YMD")

_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_TEXT_DATE = re.compile(
    r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})(?:[ T]+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[aApP]\.?\s*[mM]\.?)?)?"
)
_SERIAL_TEXT = re.compile(r"\d{1,7}(?:\.\d+)?")
# Excel counts from 1899-12-31 (serial 1 = 1900-01-01) and keeps Lotus's fake 29 Feb 1900
# (serial 60); from serial 61 on, counting from 1899-12-30 gives the right date.
_EXCEL_1900_BEFORE_FAKE_LEAP_DAY = date(1899, 12, 31)
_EXCEL_1900 = date(1899, 12, 30)
_EXCEL_1904 = date(1904, 1, 1)
_MAX_SERIAL = 2_958_465  # 9999-12-31


@dataclass(frozen=True)
class DateOrder:
    order: str  # "DMY" | "MDY" | "YMD"
    ambiguous: bool  # True when no value decided it and the default was used


def infer_date_order(samples: Iterable[CellValue], default: str = "DMY") -> DateOrder:
    """The day/month order of a column of text dates, decided by its unambiguous values
    (a first number over 12 means DMY, a second one over 12 means MDY, a 4-digit first number
    YMD); the majority wins when values disagree. Real dates and serials say nothing about the
    order. ambiguous is True when some text date could be read both ways and none decided."""
    if default not in ORDERS:
        raise ValueError(f"unknown date order {default!r}")
    votes = {"DMY": 0, "MDY": 0, "YMD": 0}
    undecided = 0
    for value in samples:
        if not isinstance(value, str):
            continue
        match = _TEXT_DATE.fullmatch(value.strip())
        if match is None:
            continue
        first, second, third = match.group(1), match.group(3), match.group(4)
        if len(first) == 4:
            votes["YMD"] += 1
            continue
        if len(third) not in (2, 4):
            continue
        a, b = int(first), int(second)
        if a > 12 and 1 <= b <= 12 and a <= 31:
            votes["DMY"] += 1
        elif b > 12 and 1 <= a <= 12 and b <= 31:
            votes["MDY"] += 1
        elif 1 <= a <= 12 and 1 <= b <= 12 and a != b:
            undecided += 1
    if votes["DMY"] or votes["MDY"]:
        order = "DMY" if votes["DMY"] >= votes["MDY"] else "MDY"
        if votes["DMY"] == votes["MDY"]:
            order = default if default in ("DMY", "MDY") else "DMY"
        return DateOrder(order, False)
    if votes["YMD"]:
        return DateOrder("YMD", False)
    return DateOrder(default, undecided > 0)


def parse_date(value: CellValue, order: str, *, epoch_1904: bool = False) -> date | None:
    """ISO text, text dates in the given order with / - . separators and 2- or 4-digit years,
    Excel serial numbers (1900 system with its fake 29 Feb 1900, and the 1904 system),
    date/datetime values; None for empty; ValueError for anything else."""
    if order not in ORDERS:
        raise ValueError(f"unknown date order {order!r}")
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a date")
    if isinstance(value, int | float):
        return excel_serial_date(value, epoch_1904=epoch_1904)
    text = str(value).strip()
    if not text:
        return None
    match = _ISO.fullmatch(text)
    if match:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    match = _TEXT_DATE.fullmatch(text)
    if match:
        parts = (match.group(1), match.group(3), match.group(4))
        if len(parts[0]) == 4:
            year, month, day = parts[0], parts[1], parts[2]
        elif order == "MDY":
            month, day, year = parts
        elif order == "DMY":
            day, month, year = parts
        else:
            raise ValueError(f"{text!r} is not in year-month-day order")
        return date(_full_year(year), int(month), int(day))
    if _SERIAL_TEXT.fullmatch(text) and len(text.split(".")[0]) == 5:
        return excel_serial_date(float(text), epoch_1904=epoch_1904)
    raise ValueError(f"not a date: {value!r}")


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) == 4:
        return year
    if len(text) == 2:
        # Excel's rule for two-digit years: 00-29 are 2000-2029, 30-99 are 1930-1999.
        return 2000 + year if year < 30 else 1900 + year
    raise ValueError(f"a year needs 2 or 4 digits: {text!r}")


def excel_serial_date(serial: float, *, epoch_1904: bool = False) -> date:
    """The date of an Excel serial number (the time of day is dropped)."""
    if serial != serial or serial < 0 or serial > _MAX_SERIAL:
        raise ValueError(f"{serial!r} is not an Excel date")
    days = int(serial)
    if epoch_1904:
        return _EXCEL_1904 + timedelta(days=days)
    if days == 0:
        raise ValueError("serial 0 is not a date in Excel's 1900 system")
    if days == 60:
        raise ValueError("serial 60 is 29 February 1900, a day that never existed")
    if days < 60:
        return _EXCEL_1900_BEFORE_FAKE_LEAP_DAY + timedelta(days=days)
    return _EXCEL_1900 + timedelta(days=days)
