"""The fast path for Colombian mobiles agrees with phonenumbers; other numbers use the library."""

from __future__ import annotations

import random

import phonenumbers

from smbcrm.core.phones import (
    Phone,
    parse_phone,
    phone_search_text,
    quick_phone,
    quick_phones,
)


def library(typed: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(typed, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_the_fast_path_agrees_with_the_library_on_many_numbers():
    rng = random.Random(7)
    styles = ("{p} {a} {b}", "{p}{a}{b}", "+57 {p} {a}{b}", "({p}) {a}-{b}", "57{p}{a}{b}",
              "+57{p}{a}{b}", "{p}-{a}-{b}", "{p}.{a}.{b}")  # fmt: skip
    for _index in range(20_000):
        prefix = rng.choice((300, 301, 310, 315, 320, 321, 350, 351, 305, 302, 324, 333, 399))
        typed = rng.choice(styles).format(
            p=prefix, a=f"{rng.randint(0, 999):03d}", b=f"{rng.randint(0, 9999):04d}"
        )
        parsed = parse_phone(typed, "CO")
        assert parsed.e164 == library(typed, "CO"), typed
        if parsed.e164:
            number = phonenumbers.parse(parsed.e164)
            assert parsed.national == phonenumbers.national_significant_number(number), typed


def test_numbers_typed_any_way():
    assert parse_phone("300 123 4567", "CO") == Phone("300 123 4567", "+573001234567", "3001234567")
    assert parse_phone("+52 55 1234 5678", "CO").e164 == "+525512345678"
    assert parse_phone("601 345 6789", "CO").e164 == "+576013456789"  # Bogotá landline
    assert parse_phone("11 4567-8901", "AR").e164 == library("11 4567-8901", "AR")
    assert parse_phone("llamar en la tarde", "CO").flagged
    assert parse_phone("", "CO") == Phone("", None)


def test_search_text_holds_every_way_to_start_a_number():
    assert phone_search_text("300 123 4567", "+573001234567") == "3001234567 573001234567"
    assert phone_search_text("ext 12", None) == "12"


def test_the_quick_phone_agrees_with_parse_phone_and_the_search_text():
    rng = random.Random(11)
    styles = ("{p} {a} {b}", "{p}{a}{b}", "+57 {p} {a}{b}", "({p}) {a}-{b}", "57{p}{a}{b}",
              "+57{p}{a}{b}", "{p}-{a}-{b}", "{p}.{a}.{b}", "57 {p} {a} {b}", "+5{p}{a}{b}",
              "+52 {p} {a} {b}", "{p} {a} {b} ext 1", "0{p}{a}{b}", "{p}{a}")  # fmt: skip
    answered = 0
    for _index in range(20_000):
        prefix = rng.choice((300, 301, 310, 315, 320, 321, 350, 351, 305, 302, 324, 333, 399,
                             601, 604, 555))  # fmt: skip
        typed = rng.choice(styles).format(
            p=prefix, a=f"{rng.randint(0, 999):03d}", b=f"{rng.randint(0, 9999):04d}"
        )
        if rng.random() < 0.05:
            typed = typed.replace("3", "\u0663")  # an Arabic-Indic three: not ASCII
        region = rng.choice(("CO", "CO", "CO", "MX", "US"))
        quick = quick_phone(typed, region)
        if quick is None:
            continue
        answered += 1
        parsed = parse_phone(typed, region)
        assert quick == (
            parsed.e164,
            parsed.national,
            phone_search_text(parsed.typed, parsed.e164, parsed.national),
        ), typed
    assert answered > 5_000


def _row_by_row(typed: str) -> tuple[str | None, str] | None:
    """What an import stores for one number (E.164, search text); None when quick_phone does
    not answer for it."""
    if not typed:
        return None, ""
    quick = quick_phone(typed, "CO")
    if quick is None:
        parsed = parse_phone(typed, "CO")
        if parsed.e164 is None and phone_search_text(typed, None) == "":
            return None, ""  # only separators: no digits, whichever way
        return None
    return quick[0], quick[2]


def test_a_column_of_numbers_gets_what_each_gets_alone():
    rng = random.Random(5)
    styles = ("{p} {a} {b}", "{p}{a}{b}", "+57 {p} {a}{b}", "({p}) {a}-{b}", "57{p}{a}{b}",
              "+57{p}{a}{b}", "{p}-{a}-{b}", "{p}.{a}.{b}", "57 {p} {a} {b}", "", "-", "( )")  # fmt: skip
    odd = ("+5{p}{a}{b}", "0{p}{a}{b}", "{p}{a}", "{p} {a} {b} ext 1", "\u0663{p}{a}{b}",
           "{p}{a}{b}\n300{a}{b}", "5757{p}{a}{b}", "+57+57{p}{a}{b}", "{p} {a} {b}\n")  # fmt: skip
    answered = refused = 0
    for round_ in range(400):
        column = [
            rng.choice(styles + (odd if round_ % 4 == 1 else ())).format(
                p=rng.choice((300, 301, 310, 315, 320, 350) + ((333, 601) if round_ % 4 else ())),
                a=f"{rng.randint(0, 999):03d}",
                b=f"{rng.randint(0, 9999):04d}",
            )
            for _row in range(rng.randint(1, 30))
        ]
        found = quick_phones(column)
        each = [_row_by_row(typed) for typed in column]
        if found is None:
            refused += 1
            assert None in each or any("\n" in typed for typed in column), column
            continue
        answered += 1
        assert found == ([pair[0] for pair in each], [pair[1] for pair in each]), column
    assert answered > 100 and refused > 100
