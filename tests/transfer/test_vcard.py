"""vCard 2.1 (quoted-printable, as Android exports), 3.0 and 4.0 in; 3.0 out."""

from __future__ import annotations

import tracemalloc
from datetime import date

import pytest

from smbcrm.core.errors import UserError
from smbcrm.transfer.vcard import Contact, read_vcards, read_vcards_with_errors, write_vcards

ANDROID_21 = (
    "BEGIN:VCARD\r\nVERSION:2.1\r\n"
    "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:G=C3=B3mez;Jos=C3=A9;;;\r\n"
    "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Jos=C3=A9 G=C3=B3mez Mart=C3=ADnez de la=\r\n"
    "=20Pe=C3=B1a\r\n"
    "TEL;HOME:601 555 1234\r\nTEL;CELL;PREF:300 123 4567\r\n"
    "EMAIL;HOME:jose@example.com\r\n"
    "ADR;HOME;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:;;Calle 1;Bogot=C3=A1;Cundinamarca;;Colombia\r\n"
    "PHOTO;ENCODING=BASE64;JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD\r\n AAAAAAAAAAAA\r\n\r\n"
    "END:VCARD\r\n"
)
V30 = (
    "BEGIN:VCARD\nVERSION:3.0\nN:Pérez;Luisa;;;\nFN:Luisa Pérez\n"
    "EMAIL;TYPE=INTERNET,HOME:luisa@example.com\nEMAIL;TYPE=INTERNET,PREF:lp@example.com\n"
    "TEL;TYPE=CELL:+52 55 1234 5678\nBDAY:1990-05-17\n"
    "NOTE:Prefiere café\\, sin azúcar\\nLlamar tarde\nCATEGORIES:VIP,Mayoristas\n"
    "item1.ADR;TYPE=HOME:;;;Monterrey;NL;;México\nEND:VCARD\n"
)
V40 = (
    "BEGIN:VCARD\nVERSION:4.0\nFN:Carlos Ruiz\nN:Ruiz;Carlos;;;\n"
    'TEL;VALUE=uri;TYPE="cell,voice":tel:+57-300-555-0000\nEMAIL:carlos@example.com\n'
    "BDAY:--0315\nEND:VCARD\n"
)
BROKEN = "BEGIN:VCARD\nVERSION:3.0\nNOTE:sin nombre\nEND:VCARD\nBEGIN:VCARD\nFN:Cortado\n"


def test_android_21_quoted_printable_with_soft_line_breaks(tmp_path):
    path = tmp_path / "android.vcf"
    path.write_bytes(ANDROID_21.encode("ascii"))
    [(number, contact)] = list(read_vcards(path))
    assert number == 1
    assert contact.first_name == "José" and contact.last_name == "Gómez"
    assert contact.full_name == "José Gómez Martínez de la Peña"
    assert contact.phones == ("300 123 4567", "601 555 1234")  # preferred mobile first
    assert contact.emails == ("jose@example.com",)
    assert (contact.city, contact.region, contact.country) == ("Bogotá", "Cundinamarca", "Colombia")


def test_30_and_40_cards(tmp_path):
    path = tmp_path / "contactos.vcf"
    path.write_text(V30 + V40, encoding="utf-8")
    contacts = dict(read_vcards(path))
    luisa, carlos = contacts[1], contacts[2]
    assert luisa.emails == ("lp@example.com", "luisa@example.com")
    assert luisa.birthday == date(1990, 5, 17)
    assert luisa.notes == "Prefiere café, sin azúcar\nLlamar tarde"
    assert luisa.categories == ("VIP", "Mayoristas")
    assert (luisa.city, luisa.country) == ("Monterrey", "México")
    assert carlos.phones == ("+57-300-555-0000",)
    assert carlos.birthday is None  # no year: not a date of birth


def test_broken_cards_are_reported_and_the_rest_read(tmp_path):
    path = tmp_path / "mixed.vcf"
    path.write_text(V30 + BROKEN, encoding="utf-8")
    results = list(read_vcards_with_errors(path))
    assert [(number, contact is not None) for number, contact, _e in results] == [
        (1, True),
        (2, False),
        (3, False),
    ]
    assert "no name, email or phone" in results[1][2]
    assert "END:VCARD" in results[2][2]
    assert [number for number, _c in read_vcards(path)] == [1]


def test_not_a_vcard_file(tmp_path):
    path = tmp_path / "x.vcf"
    path.write_text("hola", encoding="utf-8")
    with pytest.raises(UserError, match="no contacts"):
        list(read_vcards(path))


def test_write_then_read_round_trip(tmp_path):
    contacts = [
        Contact(
            first_name="Ana",
            last_name="Gómez",
            full_name="Ana Gómez",
            emails=("ana@x.co",),
            phones=("+57 300 123 4567",),
            city="Bogotá",
            region="Cundinamarca",
            country="Colombia",
            birthday=date(1990, 2, 28),
            notes="Línea 1\nLínea 2; con, comas",
            categories=("VIP", "a,b"),
        ),
        Contact(
            first_name="",
            last_name="",
            full_name="",
            emails=("solo@x.co",),
            phones=(),
            city="",
            region="",
            country="",
            birthday=None,
            notes="",
            categories=(),
        ),
    ]
    path = tmp_path / "out.vcf"
    assert write_vcards(path, contacts) == 2
    text = path.read_text(encoding="utf-8")
    assert "VERSION:3.0" in text
    back = [contact for _n, contact in read_vcards(path)]
    assert back[0] == contacts[0]
    assert back[1].full_name == "solo@x.co" and back[1].emails == ("solo@x.co",)


def test_utf16_and_windows_spanish_files_are_read(tmp_path):
    path = tmp_path / "contacts.vcf"
    for encoding in ("utf-16", "cp1252", "utf-8-sig"):
        path.write_text(V30, encoding=encoding)
        [(_number, contact)] = list(read_vcards(path))
        assert (contact.last_name, contact.country) == ("Pérez", "México"), encoding


def test_long_folded_and_soft_broken_lines_are_joined_and_bounded(monkeypatch):
    from smbcrm.transfer import vcard

    # Pieces are joined once (one at a time, 5,000,000 soft line breaks never finished).
    soft = ["N;ENCODING=QUOTED-PRINTABLE:G=C3=B3mez=", *["=41="] * 300_000, "B;Ana", "TEL:1"]
    name, phone = list(vcard._logical_lines(soft))
    assert name == "N;ENCODING=QUOTED-PRINTABLE:G=C3=B3mez" + "=41" * 300_000 + "B;Ana"
    assert phone == "TEL:1"
    # A logical line keeps MAX_LINE_CHARS: a field that long is refused as too long anyway.
    monkeypatch.setattr(vcard, "MAX_LINE_CHARS", 100)
    folded = ["NOTE:" + "a" * 50, *[" " + "b" * 40] * 1_000, "FN:Ana"]
    note, full_name = list(vcard._logical_lines(folded))
    assert note == "NOTE:" + "a" * 50 + "b" * 45 and full_name == "FN:Ana"


def test_cards_and_their_lines_are_bounded(tmp_path, monkeypatch):
    from smbcrm.transfer import vcard

    monkeypatch.setattr(vcard, "MAX_CARD_LINES", 3)
    path = tmp_path / "long.vcf"
    path.write_text("BEGIN:VCARD\nFN:Ana\nNOTE:x\nTEL:300\nEMAIL:ana@example.com\nEND:VCARD\n")
    [(_number, contact)] = list(read_vcards(path))
    assert (contact.full_name, contact.phones, contact.emails) == ("Ana", ("300",), ())
    monkeypatch.setattr(vcard, "MAX_CARDS", 3)
    path.write_text("BEGIN:VCARD\nFN:Ana\nEND:VCARD\n" * 3)
    assert len(list(read_vcards(path))) == 3
    path.write_text("BEGIN:VCARD\n" * 4)
    with pytest.raises(UserError, match="more than 3 contacts"):
        list(read_vcards_with_errors(path))


def test_physical_lines_and_soft_breaks_that_add_nothing_hold_no_memory(tmp_path, monkeypatch):
    from smbcrm.transfer import vcard

    monkeypatch.setattr(vcard, "MAX_LINE_CHARS", 100)
    # One physical line is read up to the limit, the rest dropped as it is read (a 200 MB
    # line took 2.4 GB when read whole).
    path = tmp_path / "long.vcf"
    path.write_text("BEGIN:VCARD\nNOTE:" + "x" * 1_000 + "\nFN:Ana\nEND:VCARD\n", encoding="utf-8")
    [(_number, contact)] = list(read_vcards(path))
    assert (contact.notes, contact.full_name) == ("x" * 95, "Ana")
    # Soft breaks with nothing between them add no piece (60 million took 482 MB).
    lines = ["N;ENCODING=QUOTED-PRINTABLE:A=", *["="] * 2_000_000, "B", "TEL:1"]
    tracemalloc.start()
    try:
        assert list(vcard._logical_lines(iter(lines))) == [
            "N;ENCODING=QUOTED-PRINTABLE:AB",
            "TEL:1",
        ]
        assert tracemalloc.get_traced_memory()[1] < 1_000_000
    finally:
        tracemalloc.stop()


def test_a_card_keeps_its_short_lines_after_a_photo_too_big(tmp_path, monkeypatch):
    from smbcrm.transfer import vcard

    monkeypatch.setattr(vcard, "MAX_CARD_CHARS", 60)
    path = tmp_path / "photo.vcf"
    path.write_text(
        "BEGIN:VCARD\nFN:Ana\nPHOTO;ENCODING=b:"
        + "A" * 100
        + "\nEMAIL:ana@example.com\nEND:VCARD\n"
    )
    [(_number, contact)] = list(read_vcards(path))
    assert (contact.full_name, contact.emails) == ("Ana", ("ana@example.com",))
