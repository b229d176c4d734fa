"""The streaming .xlsx reader gives the same rows as calamine, refuses what calamine's path refuses."""

from __future__ import annotations

import os
import re
import zipfile
from datetime import date, datetime, time, timedelta

import pytest
from openpyxl import Workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from smbcrm.core.errors import UserError
from smbcrm.transfer import tables, xlsx_stream
from smbcrm.transfer.xlsx_stream import SharedStrings, XlsxSheetReader, number_format_kind

from .conftest import libreoffice_convert, needs_libreoffice, replace_sheet_xml

SHEET = "xl/worksheets/sheet1.xml"


def read_both_ways(path, monkeypatch, **options):
    """(info, rows) through calamine and through the streaming reader."""
    with tables.open_table(path, **options) as table:
        by_calamine = (table.info, list(table.rows()))
    with monkeypatch.context() as patched:
        patched.setattr(tables, "STREAM_SHEET_CELLS", -1)
        with tables.open_table(path, **options) as table:
            assert streamed_by_expat(table)
            streamed = (table.info, list(table.rows()))
    return by_calamine, streamed


def streamed_by_expat(table) -> bool:
    return any(isinstance(reader, XlsxSheetReader) for reader in table._closer.__self__._readers)


def raw_rows_both_ways(path, *, epoch_1904=False):
    """Every non-empty row before header detection, trailing empty cells dropped."""
    workbook = tables._open_calamine(path)
    try:
        sheet = workbook.get_sheet_by_index(0)
        calamine_rows = [
            trim(row) for row in tables.rows_of(tables._numbered_blocks(sheet.iter_rows()))
        ]
    finally:
        workbook.close()
    reader = XlsxSheetReader(path, SHEET, epoch_1904=epoch_1904)
    try:
        streamed = [trim(row) for row in reader.rows()]
    finally:
        reader.close()
    return calamine_rows, streamed


def trim(item):
    number, cells = item
    cells = list(cells)
    while cells and cells[-1] is None:
        cells.pop()
    return number, cells


def assert_same(path, monkeypatch, *, epoch_1904=False, **options):
    by_calamine, streamed = read_both_ways(path, monkeypatch, **options)
    assert streamed == by_calamine
    calamine_rows, streamed_rows = raw_rows_both_ways(path, epoch_1904=epoch_1904)
    assert streamed_rows == calamine_rows
    return by_calamine


def varied_workbook(path, *, epoch_1904=False):
    workbook = Workbook()
    if epoch_1904:
        workbook.epoch = CALENDAR_MAC_1904
    sheet = workbook.active
    sheet.title = "Clientes"
    sheet.append(["Lista de clientes 2024"])
    sheet.append([])
    sheet.append(["Código", "Nombre", "Alta", "Visita", "Hora", "Total", "VIP", "Nota", "Dur"])
    sheet.append(
        [
            "007",
            "Ana",
            date(2024, 2, 29),
            datetime(2024, 3, 1, 14, 30, 5),
            time(9, 15),
            1250.5,
            True,
            CellRichText([TextBlock(InlineFont(b=True), "Muy "), "buena"]),
            timedelta(hours=30),
        ]
    )
    sheet.append(["0042", "  ", datetime(1904, 1, 5), datetime(2030, 12, 31, 23, 59), None, 7])
    sheet.append([])
    sheet.append([None, "Luis", None, None, None, -3.25, False, "línea_x000D_dos"])
    sheet.append([None] * 4 + ["sin nombre"])
    sheet["C4"].number_format = "dd/mm/yyyy"
    sheet["F4"].number_format = '#,##0.00 "COP"'
    sheet["F5"].number_format = "0.00;[Red]-0.00"
    sheet["A12"] = 3001234567
    sheet["B12"] = "Sofía"
    sheet["C12"] = 45000
    sheet["C12"].number_format = "[$-409]d\\-mmm\\-yy;@"
    sheet["D12"] = 0.75
    sheet["D12"].number_format = "[h]:mm"
    sheet["E12"] = 45000.5
    sheet["E12"].number_format = 'yyyy "año" mm'
    sheet["F12"] = 12
    sheet["F12"].number_format = '0 "días"'
    workbook.save(path)
    return path


def patch_sheet(source, target, replacements, member=SHEET):
    with zipfile.ZipFile(source) as archive:
        xml = archive.read(member).decode()
    for old, new in replacements:
        assert old in xml, old
        xml = xml.replace(old, new)
    return replace_sheet_xml(source, target, xml.encode(), member)


def with_shared_strings(source, target, extra_strings=()):
    """A copy whose inline strings live in xl/sharedStrings.xml, as Excel writes them (this
    openpyxl writes inline strings only), plus odd entries nothing points at."""
    with zipfile.ZipFile(source) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    entries: list[str] = list(extra_strings)

    def shared(found: re.Match) -> str:
        entries.append(found.group(2))
        return f'{found.group(1)} t="s"><v>{len(entries) - 1}</v></c>'

    sheet = re.sub(r'(<c [^>]*?) t="inlineStr"><is>(.*?)</is></c>', shared, parts[SHEET].decode())
    parts[SHEET] = sheet.encode()
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    parts["xl/sharedStrings.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{main}" count="{len(entries)}">'
        + "".join(f"<si>{entry}</si>" for entry in entries)
        + "</sst>"
    ).encode()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for name, data in parts.items():
            copy.writestr(name, data)
    return target


def test_openpyxl_workbook_reads_the_same_both_ways(tmp_path, monkeypatch):
    info, rows = assert_same(varied_workbook(tmp_path / "b.xlsx"), monkeypatch)
    assert info.header_row == 3
    assert rows[0] == (
        4,
        [
            "007",
            "Ana",
            date(2024, 2, 29),
            datetime(2024, 3, 1, 14, 30, 5),
            "09:15:00",
            1250.5,
            True,
            "Muy buena",
            "1 day, 6:00:00",
        ],
    )
    assert rows[2][0] == 7 and rows[2][1][7] == "línea\rdos"


def test_1904_workbook_reads_the_same_both_ways(tmp_path, monkeypatch):
    path = varied_workbook(tmp_path / "mac.xlsx", epoch_1904=True)
    info, rows = assert_same(path, monkeypatch, epoch_1904=True)
    assert info.epoch_1904
    assert rows[0][1][2] == date(2024, 2, 29)


def test_cached_formula_results_errors_and_iso_dates(tmp_path, monkeypatch):
    source = varied_workbook(tmp_path / "b.xlsx")
    cells = (
        '<row r="20"><c r="A20"><f>1+1</f><v>2</v></c><c r="B20" t="str"><f>"a"&amp;"b"</f>'
        '<v>ab &amp; c</v></c><c r="C20" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
        '<c r="D20" t="b"><f>TRUE()</f><v>1</v></c><c r="E20" t="d"><v>2024-05-06T07:08:09</v></c>'
        '<c r="F20" t="d"><v>2024-05-06</v></c><c r="G20" t="e"><v>#N/A</v></c>'
        '<c r="H20"><f>A1</f><v></v></c><c r="I20" s="1"><v>-0.25</v></c>'
        '<c r="J20" t="str"><v>a_x000D_b</v></c></row>'
    )
    path = patch_sheet(source, tmp_path / "f.xlsx", [("</sheetData>", cells + "</sheetData>")])
    _info, rows = assert_same(path, monkeypatch)
    assert rows[-1][0] == 20
    assert rows[-1][1][:6] == [
        2,
        "ab & c",
        None,
        True,
        datetime(2024, 5, 6, 7, 8, 9),
        date(2024, 5, 6),
    ]


def test_rows_and_cells_without_positions(tmp_path, monkeypatch):
    source = varied_workbook(tmp_path / "b.xlsx")
    with zipfile.ZipFile(source) as archive:
        xml = archive.read(SHEET).decode()
    unpositioned = re.sub(r' r="[A-Z]*[0-9]+"', "", xml)
    path = replace_sheet_xml(source, tmp_path / "u.xlsx", unpositioned.encode())
    assert_same(path, monkeypatch)
    # Some cells positioned, the next ones following them; rows numbered from the last one.
    mixed = (
        '<sheetData><row r="2"><c r="C2" t="inlineStr"><is><t>Nombre</t></is></c><c t="inlineStr">'
        '<is><t>Correo</t></is></c></row><row><c r="C3" t="inlineStr"><is><t>Ana</t></is></c>'
        '<c t="inlineStr"><is><t>a@x.co</t></is></c></row><row><c r="E9"><v>5</v></c><c><v>6</v>'
        '</c></row><row r="011"><c r="C011"><v>7</v></c></row>'
        '<row r="13"><c r="C13"><v>8</v></c><c r="D12"><v>9</v></c></row></sheetData>'
    )
    start, end = xml.index("<sheetData"), xml.index("</sheetData>") + len("</sheetData>")
    path = replace_sheet_xml(
        source, tmp_path / "m.xlsx", (xml[:start] + mixed + xml[end:]).encode()
    )
    info, rows = assert_same(path, monkeypatch)
    assert info.headers == ("Nombre", "Correo")
    # E9 is row 9; the cell after it, with no position, stays in its row element (row 4).
    assert rows == [
        (3, ["Ana", "a@x.co"]),
        (4, [None, None]),
        (9, [None, None]),
        (11, [7, None]),
        (12, [None, 9]),
        (13, [8, None]),
    ]


def test_data_starting_in_a_later_column_and_inline_rich_text(tmp_path, monkeypatch):
    source = varied_workbook(tmp_path / "b.xlsx")
    sheet = (
        '<sheetData><row r="4"><c r="A4" s="1"/><c r="C4" t="inlineStr"><is><t>Nombre</t></is></c>'
        '<c r="D4" t="inlineStr"><is><r><t xml:space="preserve">Ape </t></r><r><t>llido</t></r>'
        '<rPh><t>x</t></rPh></is></c></row><row r="5"><c r="C5" t="inlineStr"><is><t>Ana</t></is>'
        '</c><c r="D5" t="inlineStr"><is><t>_x005F_x000D_ y _x0041_</t></is></c></row></sheetData>'
    )
    with zipfile.ZipFile(source) as archive:
        xml = archive.read(SHEET).decode()
    start, end = xml.index("<sheetData"), xml.index("</sheetData>") + len("</sheetData>")
    path = replace_sheet_xml(
        source, tmp_path / "c.xlsx", (xml[:start] + sheet + xml[end:]).encode()
    )
    info, rows = assert_same(path, monkeypatch)
    assert info.headers == ("Nombre", "Ape llido")
    assert rows[0][1][0] == "Ana"


def test_prefixed_namespace(tmp_path, monkeypatch):
    source = varied_workbook(tmp_path / "b.xlsx")
    with zipfile.ZipFile(source) as archive:
        xml = archive.read(SHEET).decode()
    prefixed = re.sub(r"<(/?)(?=[A-Za-z])", r"<\1x:", xml).replace("xmlns=", "xmlns:x=")
    path = replace_sheet_xml(source, tmp_path / "x.xlsx", prefixed.encode())
    assert_same(path, monkeypatch)


@needs_libreoffice
def test_libreoffice_workbook_reads_the_same_both_ways(tmp_path, monkeypatch):
    csv_path = tmp_path / "clientes.csv"
    csv_path.write_text(
        "Listado de clientes\n\nCódigo,Nombre,Teléfono,Alta,Total\n"
        "007,Ana Pérez,3001234567,2024-02-29,1250.5\n,,,,\n"
        "0042,José,+57 300 123 4567,15/03/2023,7\n",
        encoding="utf-8",
    )
    path = libreoffice_convert(csv_path, "xlsx", tmp_path)
    info, rows = assert_same(path, monkeypatch)
    assert info.headers == ("Código", "Nombre", "Teléfono", "Alta", "Total")
    assert len(rows) == 2


def test_shared_strings_are_compact_and_decoded_on_access():
    strings = SharedStrings()
    for text in ["", "Ana", "Pérez ñandú", "🙂"]:
        strings.append(text)
    assert len(strings) == 4
    assert [strings[index] for index in range(4)] == ["", "Ana", "Pérez ñandú", "🙂"]
    with pytest.raises(IndexError):
        strings[4]
    with pytest.raises(IndexError):
        strings[-1]


def test_number_format_kinds_follow_calamine():
    assert number_format_kind("dd/mm/yyyy") == xlsx_stream._DATETIME
    assert number_format_kind("H:MM:SS;@") == xlsx_stream._DATETIME
    assert number_format_kind("[h]:mm:ss") == xlsx_stream._DURATION
    assert number_format_kind('#,##0.00 "COP"') == xlsx_stream._OTHER
    assert number_format_kind("0.00;[Red]-0.00") == xlsx_stream._OTHER
    assert number_format_kind("\\Y000000") == xlsx_stream._OTHER
    assert number_format_kind("[$-409]d\\-mmm\\-yy;@") == xlsx_stream._DATETIME


def open_descriptors(path) -> int:
    return sum(1 for fd in os.listdir("/proc/self/fd") if _points_to(f"/proc/self/fd/{fd}", path))


def _points_to(link: str, path) -> bool:
    try:
        return os.readlink(link) == str(path)
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_table_close_closes_the_file_even_half_read(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "STREAM_SHEET_CELLS", -1)
    path = varied_workbook(tmp_path / "b.xlsx")
    table = tables.open_table(path)
    rows = table.rows()
    next(rows)
    assert streamed_by_expat(table)
    assert open_descriptors(path) >= 1
    table.close()
    assert open_descriptors(path) == 0


def test_damaged_xml_is_a_plain_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "STREAM_SHEET_CELLS", -1)
    source = varied_workbook(tmp_path / "b.xlsx")
    # Broken far after the header, so the error comes while the rows are read.
    path = patch_sheet(
        source, tmp_path / "d.xlsx", [('<row r="12"', '<row r="12"><c r="A12"><v>1</c')]
    )
    with pytest.raises(UserError, match="is damaged"), tables.open_table(path) as table:
        list(table.rows())


def test_entity_declarations_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "STREAM_SHEET_CELLS", -1)
    source = varied_workbook(tmp_path / "b.xlsx")
    with zipfile.ZipFile(source) as archive:
        xml = archive.read(SHEET).decode()
    body = xml[xml.index("<worksheet") :]
    hostile = (
        '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>' + body.replace("Ana", "&b;")
    )
    path = replace_sheet_xml(source, tmp_path / "h.xlsx", hostile.encode())
    reader_error = pytest.raises(xlsx_stream.SheetHostile)
    with reader_error:
        reader = XlsxSheetReader(path, SHEET, epoch_1904=False)
        list(reader.rows())
    with pytest.raises(UserError), tables.open_table(path) as table:
        list(table.rows())


def test_rows_past_the_sheet_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "STREAM_SHEET_CELLS", -1)
    monkeypatch.setattr(xlsx_stream, "MAX_SHEET_ROWS", 5)
    source = varied_workbook(tmp_path / "b.xlsx")
    with zipfile.ZipFile(source) as archive:
        xml = archive.read(SHEET).decode()
    unpositioned = re.sub(r' r="[A-Z]*[0-9]+"', "", xml)
    path = replace_sheet_xml(source, tmp_path / "u.xlsx", unpositioned.encode())
    with (
        pytest.raises(UserError, match="more rows than a spreadsheet"),
        tables.open_table(path) as t,
    ):
        list(t.rows())


def test_small_sheets_keep_calamine(tmp_path):
    with tables.open_table(varied_workbook(tmp_path / "b.xlsx")) as table:
        assert not streamed_by_expat(table)


def test_a_column_past_the_last_one_is_damage_not_a_huge_row(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "STREAM_SHEET_CELLS", -1)
    source = varied_workbook(tmp_path / "b.xlsx")
    path = patch_sheet(source, tmp_path / "w.xlsx", [('r="B12"', 'r="ZZZZZZZZ12"')])
    with pytest.raises(UserError, match="is damaged"), tables.open_table(path) as table:
        list(table.rows())


def test_shared_strings_read_the_same_both_ways(tmp_path, monkeypatch):
    odd = [
        "<t>plain</t><r><t>ignored run</t></r>",  # plain first: the runs after it are ignored
        '<r><t xml:space="preserve"> rich </t></r><t>tail</t><rPh><t>fonetica</t></rPh>',
        "<t>_x005F_x000D_ and _x0041_</t>",
        "<t/>",
    ]
    source = varied_workbook(tmp_path / "b.xlsx")
    path = with_shared_strings(source, tmp_path / "s.xlsx", odd)
    with zipfile.ZipFile(path) as archive:
        assert b't="s"' in archive.read(SHEET)
    info, rows = assert_same(path, monkeypatch)
    assert info.header_row == 3 and rows[0][1][:2] == ["007", "Ana"]
    assert rows[0][1][7] == "Muy buena"


def test_an_empty_shared_string_entry_keeps_its_place(tmp_path, monkeypatch):
    # python-calamine 0.9.1 counts an <si> without any <t> as an empty string; the same here.
    source = varied_workbook(tmp_path / "b.xlsx")
    path = with_shared_strings(source, tmp_path / "s.xlsx", ["<t>uno</t>", "", "<t>dos</t>"])
    assert_same(path, monkeypatch)


def test_entity_declarations_in_shared_strings_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "STREAM_SHEET_CELLS", -1)
    source = with_shared_strings(varied_workbook(tmp_path / "b.xlsx"), tmp_path / "s.xlsx")
    member = "xl/sharedStrings.xml"
    with zipfile.ZipFile(source) as archive:
        xml = archive.read(member).decode()
    body = xml[xml.index("<sst") :]
    hostile = '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaa">]>' + body
    path = replace_sheet_xml(source, tmp_path / "h.xlsx", hostile.encode(), member)
    with pytest.raises(UserError, match="XML tricks"):
        tables.open_table(path)


def test_escaped_surrogates_and_zoned_times_stay_as_written(tmp_path, monkeypatch):
    # Found in review: a lone surrogate made the import crash on its insert; a time with its
    # zone lost the zone. calamine keeps both as the text written.
    source = varied_workbook(tmp_path / "b.xlsx")
    cells = (
        '<row r="20"><c r="A20" t="str"><v>a_xD800_b</v></c>'
        '<c r="B20" t="d"><v>2024-05-06T00:00:00Z</v></c>'
        '<c r="C20" t="d"><v>2024-05-06T10:00:00+02:00</v></c></row>'
    )
    path = patch_sheet(source, tmp_path / "s.xlsx", [("</sheetData>", cells + "</sheetData>")])
    _info, rows = assert_same(path, monkeypatch)
    assert rows[-1][1][:3] == ["a_xD800_b", "2024-05-06T00:00:00Z", "2024-05-06T10:00:00+02:00"]


def test_a_formula_with_an_empty_text_result_keeps_the_columns_in_place(tmp_path, monkeypatch):
    source = varied_workbook(tmp_path / "b.xlsx")
    with zipfile.ZipFile(source) as archive:
        xml = archive.read(SHEET).decode()
    # Column A holds only formulas whose result is "" (as Excel writes =""): calamine's grid
    # still starts at A, so every row keeps its leading empty cell.
    xml = re.sub(
        r'<c r="A(\d+)"[^>]*?(/>|>.*?</c>)', r'<c r="A\1" t="str"><f>""</f><v></v></c>', xml
    )
    path = replace_sheet_xml(source, tmp_path / "e.xlsx", xml.encode())
    calamine_rows, streamed = raw_rows_both_ways(path)
    assert streamed == calamine_rows and streamed[0][1][0] is None


@pytest.mark.parametrize(
    "rows",
    [
        '<row r="5"><c r="A5"><v>5</v></c></row><row r="3"><c r="A3"><v>3</v></c></row>',
        '<row r="2"><c r="A2"><v>2</v><c r="B3"><v>9</v></c></c></row>'
        '<row r="3"><c r="A3"><v>3</v></c></row>',
    ],
    ids=["rows-out-of-order", "a-cell-in-a-later-row"],
)
def test_rows_that_no_spreadsheet_writes_are_refused_not_half_read(tmp_path, monkeypatch, rows):
    # calamine's grid merges such rows; streamed, they would come out as two half-rows.
    monkeypatch.setattr(tables, "STREAM_SHEET_CELLS", -1)
    source = varied_workbook(tmp_path / "b.xlsx")
    path = patch_sheet(source, tmp_path / "o.xlsx", [("</sheetData>", rows + "</sheetData>")])
    with pytest.raises(UserError, match="is damaged"), tables.open_table(path) as table:
        list(table.rows())


def test_a_long_shared_string_is_decoded_once_however_many_cells_use_it():
    strings = SharedStrings()
    strings.append("x" * 5000)
    strings.append("corto")
    assert strings[0] is strings[0]  # one object for every cell that points at it
    assert strings[1] == "corto"


def test_a_duration_too_long_for_python_stays_a_number():
    # [h]:mm formatted 1e10 days overflowed timedelta and failed the whole import (review).
    assert xlsx_stream._excel_date(1e10, False, xlsx_stream._DURATION) == 10_000_000_000
    assert xlsx_stream._excel_date(1.5, False, xlsx_stream._DURATION) == "1 day, 12:00:00"


def test_worksheet_parts_are_found_whatever_the_case_of_their_folder():
    # A writer that spells the folder "Worksheets" used to hide that sheet (review finding).
    members = {"Ventas": "xl/Worksheets/Sheet1.xml", "Gráfico": "xl/chartsheets/sheet1.xml",
               "Clientes": "xl/worksheets/sheet2.xml"}  # fmt: skip
    assert tables._xlsx_worksheet_names(members) == ("Ventas", "Clientes")


def test_a_text_far_longer_than_a_cell_holds_is_refused(tmp_path, monkeypatch):
    # 900 MB of text in one cell (5 MB zipped) took 927 MB streamed, 2.75 GB in the extent scan.
    # The text collected is checked at the end of each block the parser is fed.
    book = Workbook()
    book.active.append(["Nombre"])
    book.active.append(["x"])
    source = tmp_path / "base.xlsx"
    book.save(source)
    long = patch_sheet(
        source, tmp_path / "long.xlsx", [("<t>x</t>", "<t>" + "x" * (3 << 20) + "</t>")]
    )
    monkeypatch.setattr(tables, "STREAM_SHEET_CELLS", -1)  # streamed
    with tables.open_table(source) as table:
        assert [cells for _number, cells in table.rows()] == [["x"]]
    with pytest.raises(UserError, match="is damaged"), tables.open_table(long) as table:
        list(table.rows())
    shared = with_shared_strings(long, tmp_path / "shared.xlsx")
    with pytest.raises(UserError, match="is damaged"), tables.open_table(shared) as table:
        list(table.rows())
    # The extent scan, before any reader: a text with no tag in a whole block of the sheet.
    monkeypatch.setattr(tables, "_LONGEST_TEXT_RUN", 1 << 20)
    run = patch_sheet(
        source, tmp_path / "run.xlsx", [("<t>x</t>", "<t>" + "x" * (10 << 20) + "</t>")]
    )
    with pytest.raises(UserError, match="“Sheet” of run.xlsx is damaged"):
        tables._check_sheet_extent(run, SHEET, "Sheet")
