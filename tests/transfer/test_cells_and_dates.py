"""Cells as text and numbers; dates in every shape a shop file holds them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from smbcrm.transfer.cells import cell_number, cell_text
from smbcrm.transfer.dates import DateOrder, infer_date_order, parse_date


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3001234567.0, "3001234567"),
        (573001234567, "573001234567"),
        (1e20, "100000000000000000000"),
        (12.5, "12.5"),
        (None, ""),
        ("  +57 300 123 4567 ", "+57 300 123 4567"),
        (date(2024, 2, 29), "2024-02-29"),
        (datetime(2024, 2, 29, 0, 0), "2024-02-29"),
        (True, "TRUE"),
    ],
)
def test_cell_text_loses_no_digits(value, text):
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("value", "decimal_comma", "number"),
    [
        ("12.500", True, Decimal("12500")),
        ("12.500", False, Decimal("12.500")),
        ("12,500.50", False, Decimal("12500.50")),
        ("12,500.50", True, Decimal("12500.50")),  # both marks: the last one is the decimal
        ("$ 12.500,50", True, Decimal("12500.50")),
        ("COP 1.234.567", False, Decimal("1234567")),
        ("(1.234)", True, Decimal("-1234")),
        ("-0,5", False, Decimal("-0.5")),
        (3.0, True, Decimal("3")),
        (7, False, Decimal("7")),
        ("", True, None),
        (None, True, None),
    ],
)
def test_cell_number(value, decimal_comma, number):
    assert cell_number(value, decimal_comma) == number


@pytest.mark.parametrize("value", ["doce", "1.2.3,4,5", True, date(2024, 1, 1), "12-"[:1] + "x"])
def test_cell_number_refuses_non_numbers(value):
    with pytest.raises(ValueError):
        cell_number(value, True)


def test_day_month_order_decided_by_an_unambiguous_value():
    assert infer_date_order(["01/02/2024", "05/06/2024", "13/02/2024"]) == DateOrder("DMY", False)
    assert infer_date_order(["01/02/2024", "02/13/2024"], default="DMY") == DateOrder("MDY", False)
    assert infer_date_order(["2024/01/02", "2024-03-04"]) == DateOrder("YMD", False)


def test_ambiguous_order_is_flagged_and_uses_the_default():
    assert infer_date_order(["01/02/2024", "03/04/24"]) == DateOrder("DMY", True)
    assert infer_date_order(["01/02/2024"], default="MDY") == DateOrder("MDY", True)
    # Real dates and serials say nothing about the order, and nothing is ambiguous.
    assert infer_date_order([date(2024, 1, 2), 45000, None]) == DateOrder("DMY", False)


def test_text_dates_in_each_order_and_separator():
    assert parse_date("15/01/2024", "DMY") == date(2024, 1, 15)
    assert parse_date("01-15-2024", "MDY") == date(2024, 1, 15)
    assert parse_date("15.01.24", "DMY") == date(2024, 1, 15)
    assert parse_date("15/01/85", "DMY") == date(1985, 1, 15)
    assert parse_date("2024-01-15", "DMY") == date(2024, 1, 15)
    assert parse_date("2024-01-15T10:30:00", "MDY") == date(2024, 1, 15)
    assert parse_date("15/01/2024 10:30", "DMY") == date(2024, 1, 15)
    assert parse_date(datetime(2024, 1, 15, 9), "DMY") == date(2024, 1, 15)
    assert parse_date("", "DMY") is None
    assert parse_date(None, "DMY") is None


def test_29_february_only_in_leap_years():
    assert parse_date("29/02/2024", "DMY") == date(2024, 2, 29)
    with pytest.raises(ValueError):
        parse_date("29/02/2023", "DMY")
    with pytest.raises(ValueError):
        parse_date("31/04/2024", "DMY")


def test_excel_serials_in_the_1900_and_1904_systems():
    assert parse_date(1, "DMY") == date(1900, 1, 1)
    assert parse_date(59, "DMY") == date(1900, 2, 28)
    with pytest.raises(ValueError, match="never existed"):
        parse_date(60, "DMY")  # Lotus's fake 29 February 1900
    assert parse_date(61, "DMY") == date(1900, 3, 1)
    assert parse_date(45352, "DMY") == date(2024, 3, 1)
    assert parse_date(45352.75, "DMY") == date(2024, 3, 1)
    assert parse_date("45352", "DMY") == date(2024, 3, 1)
    assert parse_date(0, "DMY", epoch_1904=True) == date(1904, 1, 1)
    assert parse_date(43890, "DMY", epoch_1904=True) == date(2024, 3, 1)


@pytest.mark.parametrize("value", ["mañana", "15/01", True, -3, 10**9, "2024-13-01"])
def test_parse_date_refuses_what_is_not_a_date(value):
    with pytest.raises(ValueError):
        parse_date(value, "DMY")
