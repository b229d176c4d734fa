"""Hostile and mislabelled files are refused quickly with a clear message, never a crash."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import zipfile

import pytest

from smbcrm.core.errors import UserError
from smbcrm.transfer import tables
from smbcrm.transfer.tables import open_table

from .conftest import replace_sheet_xml, write_xlsx

SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = b"</sheetData></worksheet>"


@pytest.fixture
def plain_xlsx(tmp_path):
    return write_xlsx(tmp_path / "plain.xlsx", [["Nombre", "Total"], ["Ana", 1]])


def test_csv_named_xlsx_is_refused(tmp_path):
    path = tmp_path / "clientes.xlsx"
    path.write_text("Nombre,Correo\nAna,ana@x.co\n", encoding="utf-8")
    with pytest.raises(UserError, match="really a text"):
        open_table(path)


def test_html_named_xls_is_refused(tmp_path):
    path = tmp_path / "reporte.xls"
    path.write_text("<html><body><table><tr><td>Nombre</td></tr></table></body></html>")
    with pytest.raises(UserError, match="web page"):
        open_table(path)


def test_random_binary_and_non_spreadsheet_zip_are_refused(tmp_path):
    binary = tmp_path / "foto.xlsx"
    binary.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(UserError, match="not a spreadsheet"):
        open_table(binary)
    archive = tmp_path / "docs.xlsx"
    with zipfile.ZipFile(archive, "w") as output:
        output.writestr("readme.txt", "hola")
    with pytest.raises(UserError, match="archive but not a spreadsheet"):
        open_table(archive)


def test_password_protected_workbook_is_refused(tmp_path):
    # Office saves an encrypted .xlsx as an OLE compound file holding an EncryptedPackage stream.
    stand_in = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4088)
    stand_in[1024 : 1024 + 32] = "EncryptedPackage".encode("utf-16-le")
    path = tmp_path / "protegido.xlsx"
    path.write_bytes(bytes(stand_in))
    with pytest.raises(UserError, match="password"):
        open_table(path)


def test_zip_bomb_is_refused_before_decompressing(tmp_path, plain_xlsx):
    bomb = tmp_path / "bomb.xlsx"
    with (
        zipfile.ZipFile(plain_xlsx) as original,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as output,
    ):
        for info in original.infolist():
            output.writestr(info.filename, original.read(info.filename))
        with output.open("xl/media/zeros.bin", "w", force_zip64=True) as member:
            block = b"\x00" * (1 << 20)
            for _ in range(300):  # 300 MiB of zeros: compresses about 1000:1
                member.write(block)
    started = time.perf_counter()
    with pytest.raises(UserError, match="zip bomb"):
        open_table(bomb)
    assert time.perf_counter() - started < 1.0


def test_too_much_declared_data_in_total_is_refused(tmp_path, plain_xlsx, monkeypatch):
    from smbcrm.transfer import tables

    monkeypatch.setattr(tables, "MAX_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(UserError, match="zip bomb"):
        open_table(plain_xlsx)


def test_sheet_with_more_rows_than_excel_allows_is_refused(tmp_path, plain_xlsx):
    xml = (
        SHEET_HEAD
        + b'<row r="1"><c r="A1" t="inlineStr"><is><t>Nombre</t></is></c></row>'
        + b'<row r="1048577"><c r="A1048577"><v>1</v></c></row>'
        + SHEET_TAIL
    )
    path = replace_sheet_xml(plain_xlsx, tmp_path / "tall.xlsx", xml)
    with pytest.raises(UserError, match="more rows than a spreadsheet can hold"):
        open_table(path)


def test_cells_written_over_each_other_are_refused(tmp_path, plain_xlsx):
    # calamine keeps every cell it reads before laying them out: 16,000,000 cells at one place
    # (450 MB of XML, within the zip limits) took 650 MB. The comment keeps the sheet whole.
    header = b'<row r="1"><c r="A1" t="inlineStr"><is><t>Nombre</t></is></c></row>'

    def sheet(cells: int, name: str, space: bytes = b" ") -> bytes:
        row = b'<row r="2">' + (b"<c" + space + b'r="A2"><v>1</v></c>') * cells + b"</row>"
        xml = SHEET_HEAD + header + row + SHEET_TAIL + b"<!-- x -->"
        return replace_sheet_xml(plain_xlsx, tmp_path / name, xml)

    # The bound of this sheet's places is 99,999 rows of one column; a hundred thousand more
    # tags may be others starting like a cell's (<col>, <cfRule>...).
    with open_table(sheet(199_000, "many.xlsx")) as table:
        assert list(table.rows()) == [(2, [1])]
    for space in (b" ", b"\t", b"\n", b"\r"):  # any XML space may follow the tag's name
        with pytest.raises(UserError, match="“Hoja1” of over.xlsx is damaged"):
            open_table(sheet(200_001, "over.xlsx", space))
    # Tags that start like a cell's (<cfRule>, <colorScale>, <cfvo>, <color>, <col>) are not
    # cells: Excel can write tens of thousands of conditional formats.
    rule = b'<cfRule type="colorScale" priority="1"><colorScale><cfvo type="min"/>'
    rule += b'<color rgb="FFF8696B"/></colorScale></cfRule>'
    formats = b'<conditionalFormatting sqref="A2">' + rule * 60_000 + b"</conditionalFormatting>"
    columns = b'<cols><col min="1" max="1"/></cols><sheetData><!-- x -->'  # read whole
    xml = SHEET_HEAD.replace(b"<sheetData>", columns) + header
    xml += b'<row r="2"><c r="A2"><v>1</v></c></row></sheetData>' + formats + b"</worksheet>"
    path = replace_sheet_xml(plain_xlsx, tmp_path / "formats.xlsx", xml)
    with open_table(path) as table:
        assert list(table.rows()) == [(2, [1])]


def test_far_apart_cells_are_refused_not_a_crash(tmp_path, plain_xlsx):
    # calamine lays a sheet out densely: A1 plus XFD1048576 would ask for 550 GB and abort the
    # whole process. Run in a child so a regression fails this test instead of killing pytest.
    corners = [
        b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>',
        # The position as a second attribute, and a cell with no position after a far one.
        b'<row r="1"><c t="n" r="A1"><v>1</v></c></row>'
        b'<row r="900000"><c s="0" r="XFA900000"><v>2</v></c><c><v>3</v></c></row>',
    ]
    for index, rows in enumerate(corners):
        path = replace_sheet_xml(
            plain_xlsx, tmp_path / f"corners{index}.xlsx", SHEET_HEAD + rows + SHEET_TAIL
        )
        code = (
            "import sys; from smbcrm.core.errors import UserError; "
            "from smbcrm.transfer.tables import open_table\n"
            f"try:\n    open_table({str(path)!r})\nexcept UserError as e:\n    print(e); sys.exit(3)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 3, result.stderr[-500:]
        assert "too large to read safely" in result.stdout


def test_xml_entity_bomb_is_refused(tmp_path, plain_xlsx):
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'.encode()
            for n in range(1, 10)
        )
        + b"]>"
    )
    # In the workbook part we parse ourselves: defusedxml refuses it.
    with zipfile.ZipFile(plain_xlsx) as original:
        workbook_xml = original.read("xl/workbook.xml")
    hostile_workbook = replace_sheet_xml(
        plain_xlsx,
        tmp_path / "entities-workbook.xlsx",
        laughs + workbook_xml.split(b"?>", 1)[-1]
        if workbook_xml.startswith(b"<?xml")
        else laughs + workbook_xml,
        member="xl/workbook.xml",
    )
    with pytest.raises(UserError, match="XML tricks|damaged"):
        open_table(hostile_workbook)
    # In a sheet, read by calamine: it does not expand entities; it must not blow up.
    sheet = (
        laughs
        + b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + b'<row r="1"><c r="A1" t="inlineStr"><is><t>Nombre</t></is></c></row>'
        + b'<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
        + SHEET_TAIL
    )
    hostile_sheet = replace_sheet_xml(plain_xlsx, tmp_path / "entities-sheet.xlsx", sheet)
    started = time.perf_counter()
    with pytest.raises(UserError, match="cannot be read"):  # calamine: "unrecognized entity"
        open_table(hostile_sheet)
    assert time.perf_counter() - started < 2.0


def test_a_tall_sheet_of_ten_columns_passes_the_extent_check(tmp_path, plain_xlsx):
    # A real 1,000,000-row export of ten columns (A..J) spans 10 million cells: within bounds.
    # The check alone is exercised here (calamine would lay out the whole grid).
    from smbcrm.transfer.tables import _check_sheet_extent

    def sheet(last_column: str) -> bytes:
        rows = "".join(
            f'<row r="{row}">'
            + "".join(
                f'<c r="{column}{row}"><v>1</v></c>' for column in [*"ABCDEFGHI", last_column]
            )
            + "</row>"
            for row in (1, 2, 1_000_001)
        )
        return SHEET_HEAD + rows.encode() + SHEET_TAIL

    tall = replace_sheet_xml(plain_xlsx, tmp_path / "tall.xlsx", sheet("J"))
    _check_sheet_extent(tall, "xl/worksheets/sheet1.xml", "Hoja1")
    wide = replace_sheet_xml(plain_xlsx, tmp_path / "wide.xlsx", sheet("Z"))
    with pytest.raises(UserError, match="too large to read safely"):
        _check_sheet_extent(wide, "xl/worksheets/sheet1.xml", "Hoja1")


ODS_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    b'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    b'<office:body><office:spreadsheet><table:table table:name="Hoja1">'
)
ODS_TAIL = b"</table:table></office:spreadsheet></office:body></office:document-content>"
ODS_HEADER_ROW = (
    b'<table:table-row><table:table-cell office:value-type="string"><text:p>Nombre</text:p>'
    b'</table:table-cell><table:table-cell office:value-type="string"><text:p>Total</text:p>'
    b"</table:table-cell></table:table-row>"
)


def ods_row(*cells: bytes, repeated: int = 1) -> bytes:
    attributes = f' table:number-rows-repeated="{repeated}"'.encode() if repeated > 1 else b""
    return b"<table:table-row" + attributes + b">" + b"".join(cells) + b"</table:table-row>"


def ods_number(value: int, repeated: int = 1) -> bytes:
    attributes = f' table:number-columns-repeated="{repeated}"'.encode() if repeated > 1 else b""
    return (
        b'<table:table-cell office:value-type="float" office:value="'
        + str(value).encode()
        + b'"'
        + attributes
        + b"/>"
    )


def ods_empty(repeated: int = 1) -> bytes:
    return f'<table:table-cell table:number-columns-repeated="{repeated}"/>'.encode()


def write_ods(path, rows: bytes):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet"
        )
        archive.writestr("content.xml", ODS_HEAD + ODS_HEADER_ROW + rows + ODS_TAIL)
        archive.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
            'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
            'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
        )
    return path


def refused_in_a_child(path) -> str:
    """open_table in a child process, so a regression fails the test instead of killing pytest."""
    code = (
        "import sys; from smbcrm.core.errors import UserError; "
        "from smbcrm.transfer.tables import open_table\n"
        f"try:\n    open_table({str(path)!r})\nexcept UserError as e:\n    print(e); sys.exit(3)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3, result.stderr[-500:]
    return result.stdout


def test_an_ods_with_repeats_as_spreadsheet_programs_write_them_is_read(tmp_path):
    # LibreOffice ends a sheet with huge runs of empty rows and cells: calamine skips them.
    rows = (
        ods_row(
            b'<table:table-cell office:value-type="string"><text:p>Ana</text:p></table:table-cell>',
            ods_number(7),
            ods_empty(1022),
        )  # fmt: skip
        + ods_row(ods_empty(), ods_number(3), repeated=2)
        + ods_row(ods_empty(1024), repeated=1_048_570)
    )
    path = write_ods(tmp_path / "clientes.ods", rows)
    with open_table(path) as table:
        assert table.info.kind == "ods" and table.info.headers == ("Nombre", "Total")
        assert [cells for _number, cells in table.rows()] == [["Ana", 7], [None, 3], [None, 3]]


def test_ods_tables_are_bounded_together(tmp_path):
    # calamine builds every table at open and keeps them all: eight 800-byte tables of
    # 5,000 x 5,000 repeated numbers aborted it, each under the bound of one table.
    block = ods_row(ods_number(1, repeated=1_000), repeated=1_500)  # 1,500,000 cells
    other = b'</table:table><table:table table:name="Otra">'
    with open_table(write_ods(tmp_path / "two.ods", block + other + block)) as table:
        assert table.info.sheets[:2] == ("Hoja1", "Otra")
    message = refused_in_a_child(write_ods(tmp_path / "three.ods", (block + other) * 2 + block))
    assert "The sheets of three.ods span 4,501,000 cells in all" in message


def test_ods_repeats_that_would_exhaust_memory_are_refused(tmp_path):
    hostile = {
        "rows": ods_row(ods_number(1), ods_number(2), repeated=2_000_000),
        "cells": ods_row(ods_number(1, repeated=100_000_000)),
        # Under python-calamine's own 100-million-cell cap, yet over 3 GB: it aborted the process.
        "under-calamine-cap": ods_row(ods_number(1, repeated=16_000), repeated=6_000),
        "empty-then-value": ods_row(ods_empty(100_000_000), ods_number(1)),
        "gap": ods_row(ods_number(1))
        + ods_row(ods_empty(5), repeated=2_000_000)
        + ods_row(ods_number(2)),
        # A self-closing row first must not hide the repeat count of the row after it.
        "self-closing": b'<table:table-row table:style-name="ro1"/>'
        + ods_row(ods_number(1), ods_number(2), repeated=20_000_000),
        "single-quotes": ods_row(ods_number(1))
        .replace(b"<table:table-row>", b"")
        .replace(b"</table:table-row>", b"")
        .join(
            [b"<table:table-row table:number-rows-repeated='20000000'>", b"</table:table-row>"]
        ),  # fmt: skip
    }
    for name, rows in hostile.items():
        path = write_ods(tmp_path / f"{name}.ods", rows)
        started = time.perf_counter()
        message = refused_in_a_child(path)
        assert "too large to read safely" in message or "more rows than" in message, name
        assert time.perf_counter() - started < 10, name


def xlsb_record(kind: int, payload: bytes = b"") -> bytes:
    header = bytes([kind]) if kind < 0x80 else bytes([(kind & 0x7F) | 0x80, kind >> 7])
    length, size = len(payload), b""
    while True:
        size += bytes([(length & 0x7F) | (0x80 if length >> 7 else 0)])
        length >>= 7
        if not length:
            break
    return header + size + payload


def xlsb_sheet(cells: list[tuple[int, int]], dimension=(0, 0, 0, 0), before_far=b"") -> bytes:
    """A worksheet part: BrtBeginSheet, BrtWsDim, the rows with a number in each cell."""
    parts = [xlsb_record(0x81), xlsb_record(0x94, struct.pack("<4I", *dimension))]
    parts.append(xlsb_record(0x91))
    for row, column in cells:
        if (row, column) == cells[-1]:
            parts.append(before_far)
        parts.append(xlsb_record(0x00, struct.pack("<IIH", row, 0, 300) + bytes(5)))
        parts.append(xlsb_record(0x05, struct.pack("<IId", column, 0, 1.0)))
    return b"".join(parts) + xlsb_record(0x92) + xlsb_record(0x82)


def write_xlsb(path, sheet: bytes):
    # Enough for smbcrm to see an .xlsb: the extent check runs before calamine opens it.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.bin", xlsb_record(0x83) + xlsb_record(0x84))
        archive.writestr("xl/worksheets/sheet1.bin", sheet)
    return path


def test_xlsb_far_apart_cells_are_refused_and_its_dimension_is_not_trusted(tmp_path):
    from smbcrm.transfer.tables import _check_xlsb_extent

    ten_columns = [(row, column) for row in (0, 1, 2, 399_999) for column in range(10)]
    # A real shape with a declared dimension that lies big: calamine ignores it, so do we.
    fine = write_xlsb(tmp_path / "fine.xlsb", xlsb_sheet(ten_columns, (0, 1_048_575, 0, 16_383)))
    _check_xlsb_extent(fine)
    long_string = xlsb_record(0x06, struct.pack("<IIi", 3, 0, 3_000_000) + bytes(6_000_000))
    hostile = {
        # Declared as one cell, written as two far corners (calamine lays out 17 billion cells).
        "corners": xlsb_sheet([(0, 0), (1_048_575, 16_383)], (0, 0, 0, 0)),
        # Under python-calamine's 100-million-cell cap but over 3 GB.
        "under-cap": xlsb_sheet([(0, 0), (6_000, 16_000)]),
        # A 6 MB record before the far cell: the scan keeps its place across reads.
        "after-a-long-record": xlsb_sheet([(0, 0), (2_000, 16_000)], before_far=long_string),
    }
    for name, sheet in hostile.items():
        path = write_xlsb(tmp_path / f"{name}.xlsb", sheet)
        with pytest.raises(UserError, match="too large to read safely"):
            open_table(path)
    # Under the bound of any sheet, but an .xlsb is not streamed: 4,200,000 cells laid out by
    # calamine (5,000 x 5,000 took 783 MB from a 1 KB file).
    path = write_xlsb(tmp_path / "big.xlsb", xlsb_sheet([(0, 0), (2_099, 1_999)]))
    with pytest.raises(UserError, match="2,100 rows by 2,000 columns.*Save it as .*xlsx"):
        open_table(path)


def long_string_workbook(tmp_path, cells: int, length: int = 1 << 20):
    """A few kilobytes of xlsx whose cells all show one long shared string."""
    source = write_xlsx(tmp_path / "base.xlsx", [["x"]])
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rows = "".join(
        f'<row r="{row}"><c r="A{row}" t="s"><v>0</v></c></row>' for row in range(1, cells + 1)
    )
    sheet = SHEET_HEAD + rows.encode() + SHEET_TAIL
    shared = (
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{main}" count="1">'
        f"<si><t>{'a' * length}</t></si></sst>"
    ).encode()
    target = tmp_path / "long.xlsx"
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in original.infolist():
            data = original.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = sheet
            copy.writestr(info.filename, data)
        copy.writestr("xl/sharedStrings.xml", shared)
    return target


def test_cells_repeating_one_long_shared_string_are_streamed_not_copied(tmp_path):
    # calamine would copy the 1 MB string into each of the 3,000 cells: 3 GB.
    path = long_string_workbook(tmp_path, 3_000)
    assert path.stat().st_size < 30_000
    with open_table(path) as table:
        readers = table._closer.__self__._readers
        assert [type(reader).__name__ for reader in readers] == ["XlsxSheetReader"]
        rows = list(table.rows())
    assert len(rows) == 2_999 and {len(cells[0]) for _number, cells in rows} == {1 << 20}


def test_short_shared_strings_keep_calamine(tmp_path):
    path = long_string_workbook(tmp_path, 3_000, length=20)
    with open_table(path) as table:
        assert table._closer.__self__._readers == []
        assert len(list(table.rows())) == 2_999


def test_a_later_slice_of_cells_repeating_a_long_string_is_streamed(tmp_path, monkeypatch):
    from smbcrm.transfer import xlsx_slices

    monkeypatch.setattr(xlsx_slices, "SLICE_FROM_BYTES", 0)
    monkeypatch.setattr(xlsx_slices, "SHARED_STRINGS_SHARE", 0)
    monkeypatch.setattr(tables, "MAX_SHARED_TEXT_BYTES", 50 << 20)  # 3,000 cells of 1 MB pass it
    path = long_string_workbook(tmp_path, 3_000)
    with open_table(path) as table:
        assert len(list(table.rows())) == 2_999
        kinds = [type(reader).__name__ for reader in table._closer.__self__._readers]
    assert kinds == ["SlicedSheet", "XlsxSheetReader"]  # sliced first, streamed from there


def test_a_sheet_whose_part_is_not_named_is_refused_when_it_repeats_long_strings(tmp_path):
    path = long_string_workbook(tmp_path, 3_000)
    rows = tables._SheetRows(path, "xlsx", "Hoja1", None, False, tables._OpenOnce(path),
                             tables._shared_strings_shape(path))  # fmt: skip
    with pytest.raises(UserError, match="very long texts"):
        list(rows.blocks())
    rows.close()


def test_shared_strings_that_cannot_be_measured_send_the_sheet_to_the_careful_reader(tmp_path):
    path = long_string_workbook(tmp_path, 3, length=10)
    with zipfile.ZipFile(path) as original:
        parts = {info.filename: original.read(info.filename) for info in original.infolist()}
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_STORED) as copy:
        for name, data in parts.items():
            copy.writestr(name, data)
    raw = bytearray(broken.read_bytes())
    at = raw.index(b"aaaaaaaaaa")
    raw[at] = ord("b")  # the stored shared strings no longer match their checksum
    broken.write_bytes(bytes(raw))
    assert tables._shared_strings_shape(broken).longest > tables.MAX_SHARED_TEXT_BYTES
    with pytest.raises(UserError), open_table(broken) as table:
        list(table.rows())


def xlsb_wide(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return struct.pack("<I", len(data) // 2) + data


def xlsb_bundle_sheet(name: str, relationship: str = "rId1") -> bytes:
    """BrtBundleSh: a sheet of the workbook, its relationship id and its name."""
    return xlsb_record(0x9C, struct.pack("<II", 0, 1) + xlsb_wide(relationship) + xlsb_wide(name))


def xlsb_with_shared_strings(
    path, strings: list[str], cells: int, shown: int = 0, sheet_tail=b"", shared_part=None,
    before_sheet_list=b"", after_sheet_list=b"",
):  # fmt: skip
    """A whole .xlsb calamine opens: one sheet whose header shows the last shared string and
    whose cells all show shared string `shown`."""
    workbook = (
        xlsb_record(0x83) + before_sheet_list + xlsb_record(0x8F) + xlsb_bundle_sheet("Hoja1")
        + xlsb_record(0x90) + after_sheet_list + xlsb_record(0x84)
    )  # fmt: skip
    shared = xlsb_record(0x9F, struct.pack("<II", cells, len(strings)))
    shared += b"".join(xlsb_record(0x13, b"\x00" + xlsb_wide(text)) for text in strings)
    shared += xlsb_record(0xA0)
    rows = [xlsb_record(0x81), xlsb_record(0x94, struct.pack("<4I", 0, cells, 0, 0))]
    rows.append(xlsb_record(0x91))
    rows.append(xlsb_record(0x00, struct.pack("<IIH", 0, 0, 300) + bytes(5)))
    rows.append(xlsb_record(0x07, struct.pack("<III", 0, 0, len(strings) - 1)))  # the header
    for row in range(1, cells + 1):
        rows.append(xlsb_record(0x00, struct.pack("<IIH", row, 0, 300) + bytes(5)))
        rows.append(xlsb_record(0x07, struct.pack("<III", 0, 0, shown)))
    rows += [sheet_tail, xlsb_record(0x92), xlsb_record(0x82)]
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    office = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org'
            '/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
            'openxmlformats-package.relationships+xml"/><Default Extension="bin" ContentType="'
            'application/vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{office}/officeDocument" Target="xl/workbook.bin"/></Relationships>',
        )
        archive.writestr(
            "xl/_rels/workbook.bin.rels",
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" Type="{office}/worksheet" '
            f'Target="worksheets/sheet1.bin"/><Relationship Id="rId2" Type="{office}/'
            f'sharedStrings" Target="sharedStrings.bin"/></Relationships>',
        )
        archive.writestr("xl/workbook.bin", workbook)
        archive.writestr("xl/sharedStrings.bin", shared if shared_part is None else shared_part)
        archive.writestr("xl/worksheets/sheet1.bin", b"".join(rows))
    return path


def test_an_xlsb_whose_cells_repeat_one_long_shared_string_is_refused(tmp_path):
    # calamine copies the string into each cell: 300 cells of 1 MB took 589 MB from 3 KB.
    path = xlsb_with_shared_strings(tmp_path / "b.xlsb", ["a" * 1_000_000, "Nombre"], 3_000)
    assert path.stat().st_size < 30_000
    # The sheet is named as the spreadsheet program shows it, not as its part in the file.
    with pytest.raises(UserError, match="“Hoja1” of b.xlsb repeats very long texts"):
        open_table(path)


def test_an_xlsb_with_short_shared_strings_is_read(tmp_path):
    path = xlsb_with_shared_strings(tmp_path / "c.xlsb", ["Ana María", "Nombre"], 3_000)
    with open_table(path) as table:
        assert table.info.headers == ("Nombre",)
        rows = list(table.rows())
    assert len(rows) == 3_000 and rows[0] == (2, ["Ana María"])


def test_xlsb_shared_string_lengths_and_a_missing_one_counts_as_the_longest():
    import io

    strings = ["ab", "a" * 50, "abc"]
    part = xlsb_record(0x9F, struct.pack("<II", 3, 3))
    part += b"".join(xlsb_record(0x13, b"\x00" + xlsb_wide(text)) for text in strings)
    part += xlsb_record(0xA0)
    shared = tables._XlsbSharedLengths(io.BytesIO(part))
    assert (shared[0], shared[1], shared[2], shared[7]) == (6, 150, 9, 150)


def test_an_xlsb_with_more_shared_strings_than_calamine_can_hold_is_refused(tmp_path, monkeypatch):
    # calamine keeps each as a string of its own: 5,000,000 empty ones took 280 MB, and the zip
    # limits let through 150 million. An .xlsx that big is streamed; an .xlsb cannot be.
    monkeypatch.setattr(tables, "CALAMINE_SHARED_STRINGS", 3)
    path = xlsb_with_shared_strings(tmp_path / "t.xlsb", ["", "", "Nombre"], 3)
    with open_table(path) as table:
        assert table.info.headers == ("Nombre",)
    path = xlsb_with_shared_strings(tmp_path / "u.xlsb", ["", "", "", "Nombre"], 3)
    with pytest.raises(UserError, match=r"more than 3 different texts.*\(\.xlsx\)"):
        open_table(path)


def padded_xlsb(tmp_path, name: str, cells: int, padding: int, kind: int = 0x01) -> object:
    """An .xlsb whose sheet holds `cells` rows of one cell, then `padding` empty records."""
    filler = xlsb_record(kind) * padding
    return xlsb_with_shared_strings(tmp_path / name, ["Ana", "Nombre"], cells, sheet_tail=filler)


def test_an_xlsb_padded_with_records_nobody_reads_is_refused_at_once(tmp_path, monkeypatch):
    # 1 GB of two-byte records fits the zip limits: 500 million records, minutes of scanning
    # where calamine skips them in a second. Here the free allowance is made small.
    monkeypatch.setattr(tables, "_XLSB_SKIPPED_FREE", 1_000)
    # 301 rows of one cell each: 602 records kept, and a few records of other kinds pass.
    fine = padded_xlsb(tmp_path, "fine.xlsb", 300, 1_000 + 4 * 600, kind=0x7F)
    with open_table(fine) as table:
        assert len(list(table.rows())) == 300
    for kind in (0x7F, 0x1FF):  # kinds calamine does not know
        padded = padded_xlsb(tmp_path, f"padded{kind}.xlsb", 300, 1_001 + 4 * 602, kind)
        with pytest.raises(UserError, match="is damaged"):
            open_table(padded)
    # Formatted empty cells are not padding: a template of 100,000 bordered rows and 200 filled
    # has two million. They count with the rows and cells, bounded as a sheet's cells are.
    template = padded_xlsb(tmp_path, "template.xlsb", 300, 20_000)
    with open_table(template) as table:
        assert len(list(table.rows())) == 300
    monkeypatch.setattr(tables, "_XLSB_MAX_RECORDS", 10_000)
    with pytest.raises(UserError, match="is damaged"):
        open_table(template)


def test_an_xlsb_with_more_row_headers_or_cells_than_a_sheet_holds_is_refused(
    tmp_path, monkeypatch
):
    from smbcrm.transfer.tables import _check_xlsb_extent

    monkeypatch.setattr(tables, "MAX_SHEET_ROWS", 20)
    monkeypatch.setattr(tables, "CALAMINE_WORKBOOK_CELLS", 20)  # an .xlsb is read whole
    row = xlsb_record(0x00, struct.pack("<IIH", 0, 0, 300) + bytes(5))

    def cell(column: int) -> bytes:
        return xlsb_record(0x05, struct.pack("<IId", column, 0, 1.0))

    def sheet(*records: bytes) -> bytes:
        return xlsb_record(0x81) + xlsb_record(0x91) + b"".join(records) + xlsb_record(0x92)

    # Twenty of each is a sheet; one more header for the same row, or one more cell written
    # over the first (calamine keeps every cell before laying them out), is damage.
    _check_xlsb_extent(write_xlsb(tmp_path / "fine.xlsb", sheet(row * 20, cell(0) * 20)))
    for name, part in {
        "headers": sheet(row * 21, cell(0)),
        "cells": sheet(row, cell(0) * 21),
    }.items():
        with pytest.raises(UserError, match="is damaged"):
            _check_xlsb_extent(write_xlsb(tmp_path / f"{name}.xlsb", part))
    # More cells than that in a grid too big is refused as too big, as it always was.
    wide = sheet(row, *(cell(column) for column in range(21)))
    with pytest.raises(UserError, match="1 rows by 21 columns, too large"):
        _check_xlsb_extent(write_xlsb(tmp_path / "wide.xlsb", wide))


def test_an_xlsb_cell_naming_a_missing_shared_string_is_a_plain_error_not_a_crash(tmp_path):
    # calamine 0.37 panics on it; the panic must not pass through as a crash.
    path = xlsb_with_shared_strings(tmp_path / "d.xlsb", ["Ana", "Nombre"], 3, shown=7)
    with pytest.raises(UserError, match="cannot be read"), open_table(path) as table:
        list(table.rows())


def many_texts_workbook(tmp_path, entries: int, prefix: str = ""):
    """An xlsx whose shared strings hold many entries (a few cells use the first ones)."""
    path = long_string_workbook(tmp_path, 3, length=5)
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    name = f"{prefix}:" if prefix else ""
    declare = f' xmlns:{prefix}="{main}"' if prefix else ""
    items = "".join(f"<{name}si><{name}t>t{n}</{name}t></{name}si>" for n in range(entries))
    shared = f'<{name}sst xmlns="{main}"{declare}>{items}</{name}sst>'.encode()
    with zipfile.ZipFile(path) as original:
        parts = {info.filename: original.read(info.filename) for info in original.infolist()}
    parts["xl/sharedStrings.xml"] = shared
    target = tmp_path / f"many{prefix}.xlsx"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for part, data in parts.items():
            copy.writestr(part, data)
    return target


@pytest.mark.parametrize("prefix", ["", "x"])
def test_shared_strings_are_counted_with_or_without_a_prefix(tmp_path, prefix):
    assert tables._shared_strings_shape(many_texts_workbook(tmp_path, 500, prefix)).count >= 500


def test_very_many_shared_strings_are_streamed_and_far_too_many_refused(tmp_path, monkeypatch):
    # calamine holds each as its own string: a gigabyte of "<si/>" would take 5 GB.
    path = many_texts_workbook(tmp_path, 500)
    monkeypatch.setattr(tables, "CALAMINE_SHARED_STRINGS", 100)
    with open_table(path) as table:
        kinds = [type(reader).__name__ for reader in table._closer.__self__._readers]
        assert len(list(table.rows())) == 2
    assert kinds == ["XlsxSheetReader"]
    monkeypatch.setattr(tables, "MAX_SHARED_STRINGS", 400)
    with pytest.raises(UserError, match="different texts"):
        open_table(path)


LONG_ITEM = xlsb_record(0x13, b"\x00" + xlsb_wide("a" * 1_000_000))
HEADER_ITEM = xlsb_record(0x13, b"\x00" + xlsb_wide("Nombre"))


@pytest.mark.parametrize(
    "tail",
    [
        # calamine fills a short record from the one before: a 2-byte row header and a 2-byte
        # number after a blank cell holding 0x000F0000 made it ask for 512 GB and abort.
        xlsb_record(0x01, struct.pack("<I", 0x000F0000)) + xlsb_record(0x00, b"\xff\xff")
        + xlsb_record(0x01, bytes(12)) + xlsb_record(0x05, b"\xff\x3f"),
        # A 4-byte shared-string cell whose index calamine takes from the blank before it.
        xlsb_record(0x01, struct.pack("<III", 0, 0, 0)) + xlsb_record(0x07, bytes(4)),
    ],
)  # fmt: skip
def test_xlsb_records_too_short_to_measure_are_refused_in_time(tmp_path, tail):
    path = xlsb_with_shared_strings(tmp_path / "s.xlsb", ["x", "Nombre"], 3, sheet_tail=tail)
    assert "is damaged" in refused_in_a_child(path)


@pytest.mark.parametrize(
    "shared",
    [
        # Shared strings calamine numbers otherwise: before the table begins, inside a "future
        # record" block, and an item too short to hold its length (calamine repeats the last).
        xlsb_record(0x13, b"\x00" + xlsb_wide("")) + xlsb_record(0x9F, bytes(8)) + LONG_ITEM
        + HEADER_ITEM + xlsb_record(0xA0),
        xlsb_record(0x9F, bytes(8)) + xlsb_record(0x23, bytes(4))
        + xlsb_record(0x13, b"\x00" + xlsb_wide("")) + xlsb_record(0x24) + LONG_ITEM
        + HEADER_ITEM + xlsb_record(0xA0),
        xlsb_record(0x9F, bytes(8)) + LONG_ITEM + xlsb_record(0x13, b"\x01\x00")
        + HEADER_ITEM + xlsb_record(0xA0),
    ],
)  # fmt: skip
def test_xlsb_shared_strings_calamine_would_number_otherwise_are_refused(tmp_path, shared):
    path = xlsb_with_shared_strings(
        tmp_path / "n.xlsb", ["x", "y", "Nombre"], 300, shown=1, shared_part=shared
    )
    assert "is damaged" in refused_in_a_child(path)


def test_only_the_list_of_sheets_names_an_xlsb_sheet(tmp_path):
    # What follows the list is not read: a sheet record there names nothing.
    path = xlsb_with_shared_strings(
        tmp_path / "b.xlsb", ["a" * 1_000_000, "Nombre"], 3_000,
        after_sheet_list=xlsb_bundle_sheet("Otra"),
    )  # fmt: skip
    with pytest.raises(UserError, match="“Hoja1” of b.xlsb"):
        open_table(path)
    # A list that does not start in the part's first megabyte is not looked for: the sheet is
    # named by its part, and a part padded with millions of empty records is not read through.
    path = xlsb_with_shared_strings(
        tmp_path / "c.xlsb", ["a" * 1_000_000, "Nombre"], 3_000,
        before_sheet_list=bytes(tables._XLSB_SHEET_LIST_BYTES),
    )  # fmt: skip
    with pytest.raises(UserError, match="“sheet1” of c.xlsb"):
        open_table(path)


def zip_member_changed(source, target, member: str, *, encrypted=False, method=None):
    """A copy of a zip whose member is flagged encrypted or says another compression method
    (in its local header and in the central directory), its bytes unchanged."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        local = archive.getinfo(member).header_offset
    central = data.find(b"PK\x01\x02")
    name = member.encode()
    while central != -1:
        length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + length] == name:
            break
        central = data.find(b"PK\x01\x02", central + 4)
    for at, flags_at, method_at in ((local, 6, 8), (central, 8, 10)):
        if encrypted:
            struct.pack_into(
                "<H", data, at + flags_at, struct.unpack_from("<H", data, at + flags_at)[0] | 1
            )
        if method is not None:
            struct.pack_into("<H", data, at + method_at, method)
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("kind", ["xlsx", "xlsb"])
@pytest.mark.parametrize(
    "change", [{"encrypted": True}, {"method": 9}, {"method": zipfile.ZIP_LZMA}],
    ids=["encrypted", "deflate64", "lzma"],
)  # fmt: skip
def test_zip_parts_no_spreadsheet_program_writes_are_refused_as_damage(tmp_path, kind, change):
    # zipfile raises RuntimeError, NotImplementedError or LZMAError for these, deep in a reader.
    if kind == "xlsx":
        source = write_xlsx(tmp_path / "s.xlsx", [["Nombre", "Correo"], ["Ana", "a@b.co"]])
        members = ["xl/workbook.xml", "xl/worksheets/sheet1.xml"]
    else:
        source = xlsb_with_shared_strings(tmp_path / "s.xlsb", ["Ana", "Nombre"], 3)
        members = ["xl/workbook.bin", "xl/_rels/workbook.bin.rels", "xl/worksheets/sheet1.bin"]
    for member in members:
        path = zip_member_changed(source, tmp_path / f"p.{kind}", member, **change)
        with pytest.raises(UserError, match="is damaged and cannot be opened"):
            open_table(path)


def test_an_xlsb_sheet_name_cut_short_or_null_is_left_out():
    assert tables._xlsb_wide_string(xlsb_wide("Hoja1") + b"rest", 0) == ("Hoja1", 14)
    assert tables._xlsb_wide_string(struct.pack("<I", 0xFFFFFFFF), 0)[0] is None  # null
    assert tables._xlsb_wide_string(struct.pack("<I", 1_000_000) + b"a\x00", 0)[0] is None
    assert tables._xlsb_wide_string(b"\x05\x00", 0)[0] is None  # not even its count


def test_a_csv_row_wider_than_a_spreadsheet_is_refused(tmp_path):
    # Matching two million headers to fields took minutes, for an 8 MB file.
    path = tmp_path / "wide.csv"
    path.write_text("Nombre" + ",x" * 16_383 + "\nAna" + ",1" * 16_384 + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="Row 2 of wide.csv has 16,385 columns"):
        open_table(path)
    path.write_text("Nombre,Correo\n" + "Ana,ana@example.com\n" + "," * 16_384 + "\n")
    with (
        pytest.raises(UserError, match="Row 3 of wide.csv has 16,385 columns"),
        open_table(path) as table,
    ):
        list(table.rows())


def test_a_csv_line_too_long_for_a_table_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    # The csv module builds the whole record first: 100 MB of commas took 880 MB before the
    # width check could refuse them.
    monkeypatch.setattr(tables, "MAX_CSV_LINE_BYTES", 1_000)
    monkeypatch.setattr(tables, "_LINE_CHECK_BLOCK", 100)
    path = tmp_path / "lines.csv"
    for ending in ("\n", "\r\n", "\r"):  # short lines pass, whatever ends them
        path.write_text(ending.join(["Nombre,Notas", *["Ana," + "x" * 900] * 30, ""]), newline="")
        with open_table(path) as table:
            assert len(list(table.rows())) == 30
    for encoding in ("utf-8", "utf-16"):
        path.write_text("Nombre\nAna" + "," * 1_001 + "\nLuis\n", encoding=encoding)
        with pytest.raises(UserError, match="a line longer than 0 MB"):
            open_table(path)
    # UTF-16 is found by the codec, however it is spelled: its bytes hold 0x0A in characters
    # such as "Ċ", which a byte search takes for line ends.
    path.write_text("Nombre\nAna," + "Ċ" * 1_001 + "\nLuis\n", encoding="utf-16")
    for spelling in ("utf-16", "utf_16", "UTF16"):
        with pytest.raises(UserError, match="a line longer than 0 MB"):
            open_table(path, encoding=spelling)
    # A record goes on across line ends inside quotes: short lines, one record too long.
    path.write_text('Nombre,Notas\nAna,"' + ("," * 50 + "\n") * 40 + '"\nLuis,x\n')
    with (
        pytest.raises(UserError, match=r"Row 2 of lines.csv cannot be read as CSV \(longer than"),
        open_table(path) as table,
    ):
        list(table.rows())
