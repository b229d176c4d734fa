"""The grid of an old .xls sheet, bounded from its records before calamine lays it out: a
crafted 5 KB file made calamine ask for 137 GB and abort the whole program."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from smbcrm.transfer import xls_extent
from smbcrm.transfer.xls_extent import XlsDamaged, XlsEncrypted

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


def test_each_sheet_is_bounded_by_its_cells_as_calamine_reads_it():
    # A chart inside a worksheet ends it for calamine: its EOF is the first after the sheet's.
    chart = bof() + record(0x1002, bytes(16)) + record(0x000A)
    mulrk = record(0x00BD, struct.pack("<HH", 7, 2) + bytes(6 * 3) + struct.pack("<H", 4))
    blanks = record(0x0201, struct.pack("<HHH", 9_000, 90, 15))  # calamine skips blank cells
    data = workbook([
        ("Clientes", 0, number(1, 0) + number(3, 1) + mulrk + blanks + chart + number(60_000, 200)),
        ("Gráfico", 2, number(2, 3)),  # chart and macro sheets are read too
        ("Hoja año", 0, number(0, 0)),
        ("Vacía", 0, b""),
    ])  # fmt: skip
    sheets = xls_extent._sheets(data)
    assert [name for name, _offset in sheets] == ["Clientes", "Gráfico", "Hoja año", "Vacía"]
    # Rows 1 to 7 (the MULRK's), columns A to E (its last, in its last two bytes).
    budget = [len(data)]
    grids = [xls_extent._measure(data, offset, budget, (30, 30))[:2] for _name, offset in sheets]
    assert grids == [(7, 5), (1, 1), (1, 1), (0, 0)]


def test_the_room_a_dimensions_record_makes_calamine_reserve():
    def dimensions(first_row, last_row, first_column, last_column, wide=True):
        layout = "<IIHHH" if wide else "<HHHHH"  # BIFF8: 14 bytes; BIFF5: 10
        values = (first_row, last_row, first_column, last_column, 0)
        return xls_extent._declared_cells(struct.pack(layout, *values))

    assert dimensions(0, 3, 0, 2) == 6 and dimensions(0, 3, 0, 2, wide=False) == 6
    assert dimensions(0, 0, 0, 0) == 1  # an empty sheet
    assert dimensions(0, 65_536, 0, 256) == xls_extent.XLS_MAX_DECLARED_CELLS
    # calamine's unsigned 32-bit arithmetic: a first row after the last wraps to 4 billion.
    assert dimensions(5, 1, 0, 1) == (1 << 32) - 4


def test_sheets_that_overlap_are_refused_rather_than_read_again_and_again():
    body = number(0, 0) * 2_000

    def stream(entries: int) -> bytes:
        """A sheet list of `entries` sheets starting 18 bytes apart inside one sheet."""
        size = len(bof() + boundsheet(0, "H0") * entries + record(0x000A) + bof())
        head = b"".join(boundsheet(size + 18 * k, "H0") for k in range(entries))
        return bof() + head + record(0x000A) + bof() + body + record(0x000A)

    def measure(data: bytes) -> list:
        budget = [2 * len(data)]
        return [
            xls_extent._measure(data, at, budget, (30, 30))[:2]
            for _n, at in xls_extent._sheets(data)
        ]

    assert measure(stream(1)) == [(1, 1)]
    assert measure(stream(2)) == [(1, 1), (1, 1)]  # read about twice: still within the budget
    with pytest.raises(XlsDamaged):
        measure(stream(3))


def test_what_calamine_also_lays_out_strings_wrapping_mulrk_and_formula_texts():
    def formula(row: int, column: int, tokens: bytes = b"") -> bytes:
        head = (
            struct.pack("<HHH", row, column, 15) + bytes(8) + struct.pack("<HIH", 0, 0, len(tokens))
        )
        return record(0x0006, head + tokens)

    string = record(0x0207, struct.pack("<HB", 1, 0) + b"x")
    # A formula's text before any formula lands at A1 (calamine's starting position).
    data = workbook([("S", 0, number(3_000, 40) + string)])
    budget = [len(data)]
    assert xls_extent._measure(data, xls_extent._sheets(data)[0][1], budget, (30, 30))[:2] == (
        3_001,
        41,
    )
    # MULRK: one cell a 6-byte value from the first column on, whatever its last-column field
    # says (calamine's check of that field wraps at 65,536).
    lying = record(0x00BD, struct.pack("<HH", 0, 65_535) + bytes(6 * 3) + struct.pack("<H", 1))
    data = workbook([("M", 0, lying)])
    assert xls_extent._measure(data, xls_extent._sheets(data)[0][1], [len(data)], (30, 30))[:2] == (
        1,
        3,
    )
    # Formulas: a second grid (their texts), and the cost of the spaces their tokens ask for.
    spaces = b"\x19\x40\x00\xff" * 3 + b"\x1e\x01\x00"  # 3 x 255 spaces, then the number 1
    data = workbook([("F", 0, formula(0, 0) + formula(9, 9, spaces))])
    rows, columns, _declared, texts, written, moved = xls_extent._measure(
        data, xls_extent._sheets(data)[0][1], [len(data)], (30, 30)
    )
    text = 4 * len(spaces) + 3 * 255
    assert (rows, columns, texts, written, moved) == (10, 10, 100, text, 3 * 255 * text)
    # A name token writes out a whole name: the longest of the workbook's sheets, or names.
    assert xls_extent._formula_text(b"\x23" + bytes(4), (10, 30)) == (4 * 5 + 30, 0)
    assert xls_extent._formula_text(b"\x3a" + bytes(6), (10, 30)) == (4 * 7 + 10, 0)
    # Signs, operators and functions move the text built so far.
    assert xls_extent._formula_text(b"\x12" * 3, (0, 0)) == (12, 3 * 12)
    assert xls_extent._formula_text(b"\x21\x1f\x00" * 2, (0, 0)) == (
        24,
        2 * 24,
    )  # signs insert at the front


def cfb(streams: list[tuple[str, bytes]]) -> bytes:
    """An OLE container of these streams (each at least 4,096 bytes: no mini stream), its
    directory entries in this order, chained as siblings of the first."""
    size, end, free = 512, 0xFFFFFFFE, 0xFFFFFFFF
    sectors: list[bytes] = []
    fat: list[int] = []
    entries = [("Root Entry", 5, end, 0)]
    for name, data in streams:
        data = data.ljust(max(4096, -(-len(data) // size) * size), b"\0")
        start = len(sectors)
        count = len(data) // size
        sectors += [data[k * size : (k + 1) * size] for k in range(count)]
        fat += [start + k + 1 for k in range(count - 1)] + [end]
        entries.append((name, 2, start, len(data)))
    directory = b""
    for index, (name, kind, start, length) in enumerate(entries):
        raw = (name.encode("utf-16-le") + b"\0\0") if name else b""
        child = 1 if index == 0 else free
        right = index + 1 if 0 < index < len(entries) - 1 else free
        directory += raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1)
        directory += (
            struct.pack("<III", free, right, child) + bytes(36) + struct.pack("<IQ", start, length)
        )
    directory = directory.ljust(-(-len(directory) // size) * size, b"\0")
    first_directory = len(sectors)
    count = len(directory) // size
    sectors += [directory[k * size : (k + 1) * size] for k in range(count)]
    fat += [first_directory + k + 1 for k in range(count - 1)] + [end]
    fat_sector = len(sectors)
    fat += [0xFFFFFFFD]
    sectors.append(struct.pack("<128I", *(fat + [free] * (128 - len(fat)))))
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
    header += struct.pack("<9I", 0, 1, first_directory, 0, 4096, end, 0, end, 0)
    header += struct.pack("<109I", fat_sector, *[free] * 108)
    return header + b"".join(sectors)


def test_the_stream_measured_is_the_one_calamine_reads(tmp_path):
    from smbcrm.core.errors import UserError
    from smbcrm.transfer.tables import open_table

    fine = workbook([("Hoja1", 0, number(0, 0))])
    far = workbook([("Hoja1", 0, number(0, 0) + number(65_535, 65_535))])
    cases = {
        # calamine takes the first entry named exactly "Workbook", else "Book"; olefile's own
        # look-up ignores case and keeps the last of two.
        "case": [("WORKBOOK", fine), ("Book", far)],
        "twice": [("Workbook", far), ("Workbook", fine)],
        "workbook-first": [("Book", fine), ("Workbook", far)],  # "Workbook" wins, wherever
    }
    for name, streams in cases.items():
        path = tmp_path / f"{name}.xls"
        path.write_bytes(cfb(streams))
        assert xls_extent.xls_sheet_extents(path)[0][:3] == ("Hoja1", 65_536, 65_536)
        with pytest.raises(UserError, match="65,536 rows by 65,536 columns"):
            open_table(path)
    path = tmp_path / "book-ignored.xls"
    path.write_bytes(cfb([("Book", far), ("Workbook", fine)]))
    with open_table(path) as table:
        assert table.info.sheets == ("Hoja1",)
    path = tmp_path / "many.xls"  # every sheet's grid is built at open: bounded together
    sheets = [(f"H{k}", 0, number(0, 0) + number(1_999, 999)) for k in range(3)]
    path.write_bytes(cfb([("Workbook", workbook(sheets))]))
    with pytest.raises(UserError, match="The sheets of many.xls span 6,000,000 cells in all"):
        open_table(path)


def test_a_password_protected_workbook_is_said_to_be_one():
    data = workbook([("Hoja1", 0, number(0, 0))], before=record(0x002F, bytes(54)))
    with pytest.raises(XlsEncrypted):
        xls_extent._sheets(data)


def open_in_a_child(path) -> subprocess.CompletedProcess:
    """open_table and its rows in another process, so an abort fails the test, not pytest."""
    code = (
        "import sys; from smbcrm.core.errors import UserError; "
        "from smbcrm.transfer.tables import open_table\n"
        f"try:\n    t = open_table({str(path)!r}); print(list(t.rows()))\n"
        "except UserError as e:\n    print(e); sys.exit(3)"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@needs_libreoffice
def test_far_cells_and_lying_dimensions_in_an_xls_are_refused_not_a_crash(tmp_path):
    source = tmp_path / "clientes.csv"
    source.write_text("Nombre,Edad\nAna,31\nLuis,42\n", encoding="utf-8")
    original = libreoffice_convert(source, "xls", tmp_path).read_bytes()
    # The last cell (42, at row 3, column B) and the sheet's DIMENSIONS (BIFF8: 14 bytes).
    cell = max(
        original.rfind(b"\x7e\x02\x0a\x00\x02\x00\x01\x00"),
        original.rfind(b"\x03\x02\x0e\x00\x02\x00\x01\x00"),
    )
    dimensions = original.rfind(b"\x00\x02\x0e\x00")
    assert cell > 0 and dimensions > 0
    changes = {
        "fine": (cell + 4, "<HH", (2, 1)),
        "far": (cell + 4, "<HH", (0xFFFF, 0xFFFF)),  # calamine asked for 137 GB and aborted
        "tall": (cell + 4, "<HH", (0xFFFF, 0xFF)),  # 1 GB
        "declared": (dimensions + 4, "<II", (0, 0xFFFFFFFF)),  # room for 4 billion rows
        "inverted": (dimensions + 4, "<II", (5, 1)),  # 4 billion again, by wrapping
    }
    results = {}
    for name, (at, layout, values) in changes.items():
        data = bytearray(original)
        struct.pack_into(layout, data, at, *values)
        (tmp_path / f"{name}.xls").write_bytes(bytes(data))
        results[name] = open_in_a_child(tmp_path / f"{name}.xls")
    assert results["fine"].returncode == 0 and "['Luis', 42]" in results["fine"].stdout
    for name, rows, columns in (("far", "65,536", "65,536"), ("tall", "65,536", "256")):
        assert results[name].returncode == 3, results[name].stderr[-500:]
        assert f"spans {rows} rows by {columns} columns, too large" in results[name].stdout
    for name in ("declared", "inverted"):
        assert results[name].returncode == 3, results[name].stderr[-500:]
        assert f"{name}.xls is damaged" in results[name].stdout


def test_formulas_too_costly_to_turn_into_text_and_broken_chains_are_refused(tmp_path, monkeypatch):
    from smbcrm.core.errors import UserError
    from smbcrm.transfer import tables
    from smbcrm.transfer.tables import open_table

    spaces = b"\x19\x40\x00\xff" * 4 + b"\x1e\x01\x00"
    head = struct.pack("<HHH", 1, 0, 15) + bytes(8) + struct.pack("<HIH", 0, 0, len(spaces))
    path = tmp_path / "spaces.xls"
    path.write_bytes(
        cfb([("Workbook", workbook([("Hoja1", 0, number(0, 0) + record(0x0006, head + spaces))]))])
    )
    with open_table(path) as table:
        assert table.info.sheets == ("Hoja1",)
    text = 4 * len(spaces) + 4 * 255  # each token byte a few characters, and the spaces
    monkeypatch.setattr(tables, "XLS_MAX_FORMULA_COST", 4 * 255 * text - 1)
    with pytest.raises(UserError, match="formulas of spaces.xls are too long"):
        open_table(path)
    # calamine follows the directory chain to its end: one that loops back made it allocate
    # until it aborted (olefile stops after one pass).
    data = bytearray(cfb([("Workbook", workbook([("Hoja1", 0, number(0, 0))]))]))
    directory = int.from_bytes(data[48:52], "little")
    fat = 512 + int.from_bytes(data[76:80], "little") * 512
    struct.pack_into("<I", data, fat + 4 * directory, directory)
    path.write_bytes(bytes(data))
    with pytest.raises(XlsDamaged):
        xls_extent.xls_sheet_extents(path)
