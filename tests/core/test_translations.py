"""The Spanish catalogue is complete, its placeholders match, and the compiled file is current."""

from __future__ import annotations

import gettext
import re
import string

import pytest
from babel.messages.pofile import read_po

from smbcrm.core.i18n import _, set_language
from smbcrm.core.paths import LOCALE_DIR
from tools.update_translations import extract

PO = LOCALE_DIR / "es" / "LC_MESSAGES" / "smbcrm.po"
MO = PO.with_suffix(".mo")


def placeholders(text: str | tuple[str, ...]) -> set[str]:
    texts = text if isinstance(text, tuple) else (text,)
    return {
        name
        for one in texts
        for _t, name, _f, _c in string.Formatter().parse(one)
        if name is not None
    }


@pytest.fixture(scope="module")
def spanish():
    with PO.open("rb") as handle:
        return read_po(handle, locale="es")


@pytest.fixture(scope="module")
def source_messages():
    return {message.id for message in extract() if message.id}


def test_every_message_in_the_source_has_a_spanish_translation(spanish, source_messages):
    def translated(message) -> bool:
        entry = spanish.get(message[0] if isinstance(message, tuple) else message)
        strings = entry.string if entry else ""
        strings = strings if isinstance(strings, tuple) else (strings,)
        return entry is not None and all(strings) and not entry.fuzzy

    missing = sorted(str(message) for message in source_messages if not translated(message))
    assert missing == [], "run tools/update_translations.py and translate these"


def test_spanish_placeholders_match_the_english_ones(spanish, source_messages):
    wrong = [
        (message.id, message.string)
        for message in spanish
        if message.id in source_messages
        and message.string
        and placeholders(message.id) != placeholders(message.string)
    ]
    assert wrong == []


def test_keyboard_accelerators_survive_translation(spanish):
    for message in spanish:
        if message.id and isinstance(message.id, str) and re.search(r"&\w", message.id):
            assert re.search(r"&\w", message.string), message.id


def test_compiled_catalogue_matches_the_po_file(spanish):
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [
        m.id
        for m in spanish
        if m.id
        and (
            compiled.ngettext(*m.id, 2) != m.string[1]
            if isinstance(m.id, tuple)
            else compiled.gettext(m.id) != m.string
        )
    ]
    assert stale == [], "run tools/update_translations.py to compile the catalogue"


def test_switching_language_changes_messages_at_once():
    set_language("es")
    assert _("Customers") == "Clientes"
    set_language("en")
    assert _("Customers") == "Customers"


def test_the_environment_chooses_the_language(monkeypatch):
    from smbcrm.core.i18n import environment_language

    for variable in ("SMBCRM_LANGUAGE", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "es_CO.UTF-8")
    assert environment_language() == "es"
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert environment_language("es") == "es"
    assert environment_language("en") == "en"
    monkeypatch.setenv("LANGUAGE", "en_GB:es")
    assert environment_language("es") == "en"


def test_numbers_in_messages_follow_the_open_shop(tmp_path):
    from smbcrm.core.i18n import format_count
    from smbcrm.services.settings import save_settings
    from smbcrm.services.shop import open_shop
    from smbcrm.transfer.tables import MAX_SHEET_ROWS, _too_many_rows_error

    assert format_count(2_000_000) == "2,000,000"  # no shop yet: English, as the language
    db = open_shop(tmp_path / "shop.db")  # a new shop is Colombian and speaks Spanish
    try:
        assert format_count(2_000_000) == "2.000.000"
        set_language("es")
        message = _too_many_rows_error(tmp_path / "x.xlsx", "Hoja1").message
        assert "(1.048.576)" in message and MAX_SHEET_ROWS == 1_048_576
        save_settings(db, country="MX")
        assert format_count(2_000_000) == "2,000,000"
        save_settings(db, country="AR")
        assert format_count(2_000_000) == "2.000.000"
    finally:
        db.close()
