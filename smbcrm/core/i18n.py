"""Translations: gettext catalogues for every layer, and the language and locale now in use."""

from __future__ import annotations

import gettext
import locale as _locale
import os

from smbcrm.core.paths import LOCALE_DIR

DOMAIN = "smbcrm"
# Spanish first: the shops we serve are in Latin America.
LANGUAGES = {"es": "Español", "en": "English"}
DEFAULT_LANGUAGE = "es"

_translations: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"
_message_locale: str | None = None


def _(message: str) -> str:
    """Translate message into the current language (looked up at call time, not import time)."""
    return _translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for translation where it is declared; translate it with _() where shown."""
    return message


def set_language(code: str) -> str:
    """Switch every layer to language code ('es' or 'en'); returns the language now in use."""
    global _translations, _language
    code = code if code in LANGUAGES else DEFAULT_LANGUAGE
    if code == "en":
        _translations = gettext.NullTranslations()
    else:
        _translations = gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)
    _language = code
    return code


def current_language() -> str:
    return _language


def set_message_locale(locale: str | None) -> None:
    """The Babel locale (the open shop's, e.g. es_CO) whose digit grouping the numbers in
    messages follow; None: the language's own."""
    global _message_locale
    _message_locale = locale


def message_locale() -> str | None:
    return _message_locale


def format_count(number: int) -> str:
    """A whole number as the shop writes it: 2.000.000 in Colombia, 2,000,000 in Mexico."""
    from babel.numbers import format_decimal  # imported when a message needs it, not at start

    return format_decimal(number, locale=_message_locale or _language)


def environment_language(fallback: str = "en") -> str:
    """The language the environment asks for (gettext's variables, then the OS locale)."""
    for variable in ("SMBCRM_LANGUAGE", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        for part in value.split(":"):
            code = part[:2].lower()
            if code in LANGUAGES:
                return code
        if value.split(".")[0] in ("C", "POSIX"):
            return fallback  # the neutral locale says nothing about the person
    try:
        system = _locale.getlocale()[0] or ""
    except ValueError:
        system = ""
    return system[:2].lower() if system[:2].lower() in LANGUAGES else fallback
