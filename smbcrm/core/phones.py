"""Phone numbers as people write them: parsed to E.164 when possible, kept as typed when not."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True)
class Phone:
    typed: str
    e164: str | None  # None: could not be parsed; kept as typed and flagged

    @property
    def flagged(self) -> bool:
        return bool(self.typed) and self.e164 is None


def parse_phone(typed: str, region: str) -> Phone:
    """'300 123 4567' in CO -> +573001234567; '+52 55 1234 5678' anywhere -> +525512345678."""
    typed = " ".join(typed.split())
    if not typed:
        return Phone("", None)
    try:
        number = phonenumbers.parse(typed, region)
    except phonenumbers.NumberParseException:
        return Phone(typed, None)
    if not phonenumbers.is_possible_number(number):
        return Phone(typed, None)
    return Phone(typed, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def only_digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def phone_search_text(typed: str, e164: str | None, national: str | None = None) -> str:
    """Digit strings a search may start with: with country code, without it, and as typed."""
    variants = [only_digits(typed)]
    if e164:
        variants.append(e164.lstrip("+"))
        if national is None:
            try:
                national = str(phonenumbers.national_significant_number(phonenumbers.parse(e164)))
            except phonenumbers.NumberParseException:
                national = None
        if national:
            variants.append(national)
    unique = dict.fromkeys(v for v in variants if v)
    return " ".join(unique)
