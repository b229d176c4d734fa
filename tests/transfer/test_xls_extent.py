"""The grid of an old .xls sheet, bounded from its records before calamine lays it out: a
crafted 5 KB file made calamine ask for 137 GB and abort the whole program."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from smbcrm.transfer import xls_extent
from smbcrm.transfer.xls_extent import XlsEncrypted

from .conftest import libreoffice_convert, needs_libreoffice


def record(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(payload)) + payload


def bof() -> bytes:
    return record(0x0809, struct.pack("<HHHH", 0x0600, 0x0010, 0, 0))


def boundsheet(offset: int, name: str, kind: int = 0, wide: bool = False) -> bytes:
    text = name.encode("utf-16-le" if wide else "latin-1")
    return record(0x0085, struct.pack("<IBBBB", offset, 0, kind, len(name), int(wide)) + text)


def workbook(sheets: list[tuple[str, int, bytes]], before: bytes = b"") -> bytes:
    """A workbook stream: the globals with the sheet list, then each sheet's substream."""
    globals_size = len(bof() + before + record(0x000A))
    globals_size += sum(
        len(boundsheet(0, name, kind, not name.isascii())) for name, kind, _ in sheets
    )
    offset, entries, bodies = globals_size, b"", b""
    for name, kind, body in sheets:
        entries += boundsheet(offset, name, kind, not name.isascii())
        substream = bof() + body + record(0x000A)
        bodies += substream
        offset += len(substream)
    return bof() + before + entries + record(0x000A) + bodies


def number(row: int, column: int) -> bytes:
    return record(0x0203, struct.pack("<HHHd", row, column, 15, 1.0))


def test_each_worksheet_is_bounded_by_its_cells_and_named_as_the_workbook_shows_it():
    chart = bof() + record(0x1002, bytes(16)) + record(0x000A)  # a chart inside the sheet
    mulrk = record(0x00BD, struct.pack("<HH", 7, 2) + bytes(6 * 3) + struct.pack("<H", 4))
    data = workbook([
        ("Clientes", 0, number(1, 0) + chart + number(3, 1) + mulrk),
        ("Gráfico", 2, number(60_000, 200)),  # a chart sheet: calamine does not read it
        ("Hoja año", 0, number(0, 0)),
        ("Vacía", 0, b""),
    ])  # fmt: skip
    sheets = [(name, offset) for name, offset in xls_extent._worksheets(data)]
    assert [name for name, _offset in sheets] == ["Clientes", "Hoja año", "Vacía"]
    # Rows 1 to 7 (the MULRK's), columns A to E (its last, in its last two bytes).
    assert [xls_extent._grid(data, offset) for _name, offset in sheets] == [(7, 5), (1, 1), (0, 0)]


def test_a_password_protected_workbook_is_said_to_be_one():
    data = workbook([("Hoja1", 0, number(0, 0))], before=record(0x002F, bytes(54)))
    with pytest.raises(XlsEncrypted):
        xls_extent._worksheets(data)


@needs_libreoffice
def test_a_far_cell_in_an_xls_is_refused_not_a_crash(tmp_path):
    source = tmp_path / "clientes.csv"
    source.write_text("Nombre,Edad\nAna,31\nLuis,42\n", encoding="utf-8")
    converted = libreoffice_convert(source, "xls", tmp_path)
    data = bytearray(converted.read_bytes())
    # The last cell (42, at row 3, column B): its row and column are set far away.
    at = max(
        data.rfind(b"\x7e\x02\x0a\x00\x02\x00\x01\x00"),
        data.rfind(b"\x03\x02\x0e\x00\x02\x00\x01\x00"),
    )
    assert at > 0
    results = {}
    for name, (row, column) in {
        "fine": (2, 1),
        "far": (0xFFFF, 0xFFFF),
        "tall": (0xFFFF, 0xFF),
    }.items():
        struct.pack_into("<HH", data, at + 4, row, column)
        path = tmp_path / f"{name}.xls"
        path.write_bytes(bytes(data))
        code = (
            "import sys; from smbcrm.core.errors import UserError; "
            "from smbcrm.transfer.tables import open_table\n"
            f"try:\n    t = open_table({str(path)!r}); print(list(t.rows()))\n"
            "except UserError as e:\n    print(e); sys.exit(3)"
        )
        results[name] = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
    assert results["fine"].returncode == 0 and "['Luis', 42]" in results["fine"].stdout
    for name, rows, columns in (("far", "65,536", "65,536"), ("tall", "65,536", "256")):
        assert results[name].returncode == 3, results[name].stderr[-500:]
        assert f"spans {rows} rows by {columns} columns, too large" in results[name].stdout
