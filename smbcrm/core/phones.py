"""Phone numbers as people write them: parsed to E.164 when possible, kept as typed when not."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Phone:
    typed: str
    e164: str | None  # None: could not be parsed; kept as typed and flagged
    national: str | None = None  # the number without its country code

    @property
    def flagged(self) -> bool:
        return bool(self.typed) and self.e164 is None


_SEPARATORS = str.maketrans("", "", " -().")


def _colombian_national(typed: str) -> tuple[str, bool] | None:
    """The common case, without the library: a Colombian mobile (3xx xxx xxxx), bare or after
    +57 / 57, as its ten digits and whether the country code was typed. tests/core/test_phones.py
    checks it agrees with phonenumbers on many numbers."""
    compact = typed.translate(_SEPARATORS)
    with_code = True
    if compact.startswith("+57"):
        compact = compact[3:]
    elif len(compact) == 12 and compact.startswith("57"):
        compact = compact[2:]
    else:
        with_code = False
    if len(compact) == 10 and compact.isdigit() and compact[0] == "3" and compact[1] in "0125":
        return compact, with_code
    return None


def _colombian_mobile(typed: str) -> str | None:
    found = _colombian_national(typed)
    return None if found is None else "+57" + found[0]


def parse_phone(typed: str, region: str) -> Phone:
    """'300 123 4567' in CO -> +573001234567; '+52 55 1234 5678' anywhere -> +525512345678."""
    typed = " ".join(typed.split())
    if not typed:
        return Phone("", None)
    if region == "CO" or typed.startswith("+57"):
        fast = _colombian_mobile(typed)
        if fast is not None:
            return Phone(typed, fast, fast[3:])
    # Imported here, for what the fast path cannot take: 20 ms of a reading child's start.
    import phonenumbers

    try:
        number = phonenumbers.parse(typed, region)
    except phonenumbers.NumberParseException:
        return Phone(typed, None)
    if not phonenumbers.is_possible_number(number):
        return Phone(typed, None)
    return Phone(
        typed,
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.national_significant_number(number),
    )


# Every ASCII character but 0-9, deleted by str.translate: the common case in one C call.
_ASCII_NON_DIGITS = dict.fromkeys(code for code in range(128) if not chr(code).isdigit())


def only_digits(text: str) -> str:
    if text.isascii():
        return text.translate(_ASCII_NON_DIGITS)
    return "".join(char for char in text if char.isdigit())


def quick_phone(typed: str, region: str) -> tuple[str, str, str] | None:
    """(E.164, national number, phone_search_text) for a Colombian mobile typed in ASCII
    (parse_phone's common case), without building a Phone; None for anything
    else, which parse_phone and phone_search_text answer as usual. For 100,000 numbers of an
    import: 0.12 s instead of their 0.34 s. tests/core/test_phones.py checks both agree."""
    if not (region == "CO" or typed.startswith("+57")) or not typed.isascii():
        return None
    found = _colombian_national(typed)
    if found is None:
        return None
    national, with_code = found
    # only_digits(typed) is the national number, or it with the country code before it.
    search = f"57{national} {national}" if with_code else f"{national} 57{national}"
    return "+57" + national, national, search


# _colombian_national's numbers, one a line, separators deleted (an empty line is no number).
_COLOMBIAN_MOBILE_LINES = re.compile(r"(?:(?:(?:\+57|57)?3[0125][0-9]{8})?\n)*")


def quick_phones(typed: list[str]) -> tuple[list[str | None], list[str]] | None:
    """quick_phone for a whole column of numbers typed in region CO: their E.164 forms and
    phone_search_text (None and "" for an empty one), or None unless every number is a
    Colombian mobile typed in ASCII. An import's common case in a few scans instead of a call
    for each number. tests/core/test_phones.py checks it agrees with quick_phone."""
    text = "\n".join(typed) + "\n"
    if not text.isascii() or text.count("\n") != len(typed):
        return None
    compact = text.translate(_SEPARATORS)
    if _COLOMBIAN_MOBILE_LINES.fullmatch(compact) is None:
        return None
    lines = compact.split("\n")
    lines.pop()
    # As quick_phone: only_digits(typed) is the national number, or it after the country code.
    return (
        [f"+57{line[-10:]}" if line else None for line in lines],
        [
            ""
            if not line
            else f"57{line[-10:]} {line[-10:]}"
            if len(line) > 10
            else f"{line} 57{line}"
            for line in lines
        ],
    )


def phone_search_text(typed: str, e164: str | None, national: str | None = None) -> str:
    """Digit strings a search may start with: with country code, without it, and as typed."""
    variants = [only_digits(typed)]
    if e164:
        variants.append(e164.lstrip("+"))
        if national is None:
            import phonenumbers  # see parse_phone

            try:
                national = str(phonenumbers.national_significant_number(phonenumbers.parse(e164)))
            except phonenumbers.NumberParseException:
                national = None
        if national:
            variants.append(national)
    unique = dict.fromkeys(v for v in variants if v)
    return " ".join(unique)
