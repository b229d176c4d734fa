"""A sheet read in slices gives exactly the rows the whole sheet gives, and refuses the same."""

from __future__ import annotations

import os
import zipfile

import pytest

from smbcrm.core.errors import UserError
from smbcrm.transfer import tables, xlsx_slices
from smbcrm.transfer.xlsx_slices import SlicedSheet

from .conftest import libreoffice_convert, needs_libreoffice, replace_sheet_xml, write_xlsx
from .test_xlsx_stream import (
    SHEET,
    open_descriptors,
    patch_sheet,
    varied_workbook,
    with_shared_strings,
)


@pytest.fixture
def tiny_slices(monkeypatch):
    """Every sheet sliced, a few rows a slice, so small test files make many slices."""
    monkeypatch.setattr(xlsx_slices, "SLICE_FROM_BYTES", 0)
    monkeypatch.setattr(xlsx_slices, "FIRST_SLICE_BYTES", 200)
    monkeypatch.setattr(xlsx_slices, "MAX_SLICE_BYTES", 600)
    monkeypatch.setattr(xlsx_slices, "_BLOCK", 256)
    monkeypatch.setattr(xlsx_slices, "SHARED_STRINGS_SHARE", 0)  # shared strings or not
    loads = []
    real_load = SlicedSheet._load

    def counted(self, head, xml):
        loads.append(xml.count(b"<row"))
        return real_load(self, head, xml)

    monkeypatch.setattr(SlicedSheet, "_load", counted)
    return loads


def read(path, **options):
    with tables.open_table(path, **options) as table:
        rows = list(table.rows())
        whole = table._closer.__self__.workbook.workbook is not None
        return table.info, rows, whole


def read_whole(path, monkeypatch, **options):
    with monkeypatch.context() as patched:
        patched.setattr(xlsx_slices, "SLICE_FROM_BYTES", 1 << 62)
        info, rows, _whole = read(path, **options)
    return info, rows


def customers_workbook(path, count=60):
    rows = [["Clientes de la tienda"], [], ["Código", "Nombre", "Correo", "Teléfono", "Total"]]
    for number in range(count):
        rows.append([f"{number:04d}", f"Cliente {number}", f"c{number}@x.co", 3001234000 + number,
                     number * 1.5])  # fmt: skip
    return write_xlsx(path, rows)


def test_a_sliced_sheet_reads_like_the_whole_sheet(tmp_path, monkeypatch, tiny_slices):
    path = customers_workbook(tmp_path / "c.xlsx")
    info, rows, whole = read(path)
    assert not whole and len(tiny_slices) > 5
    assert (info, rows) == read_whole(path, monkeypatch)
    assert rows[0] == (4, ["0000", "Cliente 0", "c0@x.co", 3001234000, 0])


def test_the_first_rows_come_from_the_first_slice(tmp_path, tiny_slices):
    path = customers_workbook(tmp_path / "c.xlsx", count=300)
    with tables.open_table(path) as table:
        rows = table.rows()
        next(rows)
        first = len(tiny_slices)  # what the header search needed
        assert sum(1 for _row in rows) == 299
    assert first < len(tiny_slices) / 5


@pytest.mark.parametrize("epoch_1904", [False, True])
def test_types_dates_and_formats_read_the_same(tmp_path, monkeypatch, tiny_slices, epoch_1904):
    path = varied_workbook(tmp_path / "v.xlsx", epoch_1904=epoch_1904)
    info, rows, whole = read(path)
    assert not whole and len(tiny_slices) > 1
    assert (info, rows) == read_whole(path, monkeypatch)


def test_shared_strings_are_in_every_slice(tmp_path, monkeypatch, tiny_slices):
    source = customers_workbook(tmp_path / "c.xlsx")
    path = with_shared_strings(source, tmp_path / "s.xlsx", ["<t>nadie</t>"])
    info, rows, whole = read(path)
    assert not whole and len(tiny_slices) > 5
    assert (info, rows) == read_whole(path, monkeypatch)
    assert rows[-1][1][:3] == ["0059", "Cliente 59", "c59@x.co"]


def test_other_sheets_and_a_chosen_sheet(tmp_path, monkeypatch, tiny_slices):
    path = write_xlsx(
        tmp_path / "m.xlsx",
        [["Nombre", "Correo"], ["Ana", "a@x.co"]],
        more_sheets=[
            ("Ventas", [["Fecha", "Total"]] + [[f"2024-01-{d:02d}", d] for d in range(1, 29)])
        ],
    )
    for sheet in (None, "Ventas"):
        info, rows, whole = read(path, sheet=sheet)
        assert not whole
        assert (info, rows) == read_whole(path, monkeypatch, sheet=sheet)
    assert info.sheet == "Ventas" and rows[-1] == (29, ["2024-01-28", 28])


@needs_libreoffice
def test_a_libreoffice_workbook_reads_the_same(tmp_path, monkeypatch, tiny_slices):
    csv_path = tmp_path / "clientes.csv"
    lines = ["Listado", "", "Código,Nombre,Teléfono,Alta,Total"]
    lines += [f"{n:04d},Cliente {n},30012340{n:02d},15/03/2023,{n}.5" for n in range(40)]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = libreoffice_convert(csv_path, "xlsx", tmp_path)
    info, rows, whole = read(path)
    assert not whole and len(tiny_slices) > 3
    assert (info, rows) == read_whole(path, monkeypatch)


def sheet_xml(path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(SHEET).decode()


def test_data_starting_in_a_later_column_is_read_whole(tmp_path, monkeypatch, tiny_slices):
    # calamine's grid starts at the first used column, which a slice cannot know.
    rows = [[None, "Nombre", "Correo"]] + [[None, f"C{n}", f"c{n}@x.co"] for n in range(30)]
    path = write_xlsx(tmp_path / "b.xlsx", rows)
    info, rows_read, whole = read(path)
    assert whole
    assert (info, rows_read) == read_whole(path, monkeypatch)
    assert rows_read[0] == (2, ["C0", "c0@x.co"])


@pytest.mark.parametrize(
    "change",
    [
        # Cells without positions follow the one before: only the whole sheet can place them.
        ('<c r="B40" t="inlineStr">', '<c t="inlineStr">'),
        # A CDATA section or a comment could hide a "<row": slicing stops before them.
        ("<t>Cliente 50</t>", "<t><![CDATA[Cliente <row> 50]]></t>"),
        ('<row r="45">', '<!-- <row r="1"> --><row r="45">'),
    ],
)
def test_slicing_hands_over_to_the_whole_sheet_without_losing_a_row(
    tmp_path, monkeypatch, tiny_slices, change
):
    source = customers_workbook(tmp_path / "c.xlsx")
    path = patch_sheet(source, tmp_path / "p.xlsx", [change])
    info, rows, whole = read(path)
    assert whole and len(tiny_slices) > 3  # the first slices were read sliced
    assert (info, rows) == read_whole(path, monkeypatch)
    assert [number for number, _cells in rows] == list(range(4, 64))


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_a_comment_cut_in_two_by_the_reading_is_seen_before_it_is_sliced(
    tmp_path, monkeypatch, tiny_slices, cut
):
    source = customers_workbook(tmp_path / "c.xlsx")
    path = patch_sheet(source, tmp_path / "p.xlsx", [('<row r="45">', '<!-- x --><row r="45">')])
    with zipfile.ZipFile(path) as archive:
        at = archive.read(SHEET).find(b"<!--")
    # A block ends "<", "<!" or "<!-", and the next one begins with the rest of the mark.
    monkeypatch.setattr(xlsx_slices, "_BLOCK", at + cut)
    loaded = []
    real_load = SlicedSheet._load
    monkeypatch.setattr(
        SlicedSheet,
        "_load",
        lambda self, head, xml: loaded.append(xml) or real_load(self, head, xml),
    )
    info, rows, whole = read(path)
    assert whole and len(loaded) > 3
    assert not [xml for xml in loaded if b"!--" in xml]
    assert (info, rows) == read_whole(path, monkeypatch)


def test_a_row_past_the_sheet_limit_in_a_later_slice_is_refused(tmp_path, tiny_slices):
    source = customers_workbook(tmp_path / "c.xlsx")
    path = patch_sheet(
        source,
        tmp_path / "p.xlsx",
        [('<row r="60">', '<row r="1048577"><c r="A1048577"><v>1</v></c></row><row r="60">')],
    )
    with (
        pytest.raises(UserError, match="more rows than a spreadsheet"),
        tables.open_table(path) as t,
    ):
        list(t.rows())


def test_far_apart_cells_in_a_later_slice_are_refused(tmp_path, monkeypatch, tiny_slices):
    monkeypatch.setattr(tables, "MAX_SHEET_CELLS", 100_000)
    source = customers_workbook(tmp_path / "c.xlsx")
    path = patch_sheet(source, tmp_path / "p.xlsx", [('<c r="E50"', '<c r="XFD50"')])
    with pytest.raises(UserError, match="too large|too big|cells"), tables.open_table(path) as t:
        list(t.rows())


@pytest.mark.parametrize("far", ["XFD59", "Z59"])
def test_a_cell_past_the_columns_of_the_slices_before_counts(
    tmp_path, monkeypatch, tiny_slices, far
):
    # Slices after the first are checked in one pass for a reference past the columns seen
    # so far (or past row 99,999): a cell far to the right deep in the sheet is still seen.
    monkeypatch.setattr(tables, "MAX_SHEET_CELLS", 600_000)  # 5 columns by 99,999 rows pass
    source = customers_workbook(tmp_path / "c.xlsx")
    assert len(read(source)[1]) == 60
    path = patch_sheet(source, tmp_path / "p.xlsx", [('<c r="E59"', f'<c r="{far}"')])
    with pytest.raises(UserError, match="too large"), tables.open_table(path) as t:
        list(t.rows())


def test_damaged_xml_in_a_later_slice_is_a_plain_user_error(tmp_path, tiny_slices):
    source = customers_workbook(tmp_path / "c.xlsx")
    path = patch_sheet(
        source, tmp_path / "d.xlsx", [('<row r="50">', '<row r="50"><c r="A50"><v>1</c>')]
    )
    with pytest.raises(UserError, match="cannot be read|damaged"), tables.open_table(path) as t:
        list(t.rows())


def test_a_sheet_that_never_closes_its_rows_is_damage(tmp_path, tiny_slices):
    source = customers_workbook(tmp_path / "c.xlsx")
    xml = sheet_xml(source)
    path = replace_sheet_xml(source, tmp_path / "t.xlsx", xml[: xml.index("</sheetData>")].encode())
    with pytest.raises(UserError, match="cannot be read|damaged"), tables.open_table(path) as t:
        list(t.rows())


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_closing_half_read_closes_the_file(tmp_path, tiny_slices):
    path = customers_workbook(tmp_path / "c.xlsx")
    table = tables.open_table(path)
    next(table.rows())
    assert open_descriptors(path) >= 1
    table.close()
    assert open_descriptors(path) == 0


def test_which_sheets_are_sliced(tmp_path, monkeypatch):
    path = customers_workbook(tmp_path / "c.xlsx")
    assert not xlsx_slices.worth_slicing(path, SHEET)  # small: calamine reads it whole at once
    monkeypatch.setattr(xlsx_slices, "SLICE_FROM_BYTES", 0)
    long = replace_sheet_xml(path, tmp_path / "l.xlsx", sheet_xml(path).encode() * 40)
    assert xlsx_slices.worth_slicing(long, SHEET)
    # Every slice reads the parts copied into it again: sliced only when they are small next
    # to the sheet. Here its styles weigh more than the short sheet; 300 MB of styles copied
    # into each slice of a 150,000-row sheet took 1.5 GB.
    assert not xlsx_slices.worth_slicing(path, SHEET)
    styles = replace_sheet_xml(long, tmp_path / "y.xlsx", b" " * (1 << 20), "xl/styles.xml")
    assert not xlsx_slices.worth_slicing(styles, SHEET)
    shared = with_shared_strings(long, tmp_path / "s.xlsx")
    assert not xlsx_slices.worth_slicing(shared, SHEET)
    few = with_shared_strings(
        write_xlsx(tmp_path / "f.xlsx", [["Nombre"], ["Ana"]]), tmp_path / "g.xlsx"
    )
    big = replace_sheet_xml(few, tmp_path / "h.xlsx", sheet_xml(path).encode() * 40)
    assert xlsx_slices.worth_slicing(big, SHEET)


@pytest.mark.parametrize(
    "change",
    [
        # Row 5 written again, or only, after rows above it: the whole grid would merge or place
        # it, but rows up to 49 have been given already. No spreadsheet program writes this.
        ('<row r="50">', '<row r="5"><c r="A5"><v>1</v></c></row><row r="50">'),
        ('<row r="63">', '<row r="2"><c r="A2"><v>1</v></c></row><row r="63">'),
    ],
)
def test_rows_out_of_order_across_slices_are_refused_as_damage(tmp_path, tiny_slices, change):
    source = customers_workbook(tmp_path / "c.xlsx")
    path = patch_sheet(source, tmp_path / "o.xlsx", [change])
    with pytest.raises(UserError, match="damaged"), tables.open_table(path) as t:
        list(t.rows())


def test_a_slice_whose_grid_would_be_too_big_is_streamed(tmp_path, monkeypatch, tiny_slices):
    monkeypatch.setattr(tables, "STREAM_SHEET_CELLS", 100_000)
    source = customers_workbook(tmp_path / "c.xlsx")
    far = '<row r="200000"><c r="A200000"><v>1</v></c></row></sheetData>'
    path = patch_sheet(source, tmp_path / "f.xlsx", [("</sheetData>", far)])
    with tables.open_table(path) as table:
        rows = list(table.rows())
        kinds = [type(reader).__name__ for reader in table._closer.__self__._readers]
    assert kinds == ["SlicedSheet", "XlsxSheetReader"]  # calamine never laid out 1M cells
    assert (table.info, rows) == read_whole(path, monkeypatch)
    assert rows[-1] == (200000, [1, None, None, None, None])


def test_the_grid_of_a_slice_is_measured_from_its_own_rows():
    xml = b'<row r="150000"><c r="B150000"/><c r="D150000"/></row><row r="150003"><c r="C150003"/>'
    assert tables._grid_cells(xml) == 4 * 3
    assert tables._grid_cells(b"") == 0


def test_rows_with_a_namespace_prefix_are_read_whole_not_as_one_huge_slice(
    tmp_path, monkeypatch, tiny_slices
):
    source = customers_workbook(tmp_path / "c.xlsx")
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    xml = sheet_xml(source).replace("<row ", "<x:row ").replace("</row>", "</x:row>")
    xml = xml.replace("<worksheet ", f'<worksheet xmlns:x="{main}" ', 1)
    path = replace_sheet_xml(source, tmp_path / "x.xlsx", xml.encode())
    info, rows, whole = read(path)
    assert whole and len(tiny_slices) <= 1
    assert (info, rows) == read_whole(path, monkeypatch)


def with_extra_parts(source, target, extra: dict[str, bytes], damaged: str | None = None):
    """A copy with more parts, one of them (by name) with its compressed data damaged."""
    with zipfile.ZipFile(source) as original:
        parts = {info.filename: original.read(info.filename) for info in original.infolist()}
    parts.update(extra)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for name, data in parts.items():
            copy.writestr(name, data)
    if damaged is not None:
        with zipfile.ZipFile(target) as archive:
            info = archive.getinfo(damaged)
        raw = bytearray(target.read_bytes())
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        raw[start + info.compress_size // 2] ^= 0xFF
        target.write_bytes(bytes(raw))
    return target


def test_slices_carry_only_the_parts_calamine_reads(tmp_path, tiny_slices):
    source = customers_workbook(tmp_path / "c.xlsx")
    pictures = {f"xl/media/image{n}.png": os.urandom(2000) for n in range(3)}
    path = with_extra_parts(source, tmp_path / "p.xlsx", pictures)
    with tables.open_table(path) as table:
        next(table.rows())
        sliced = table._closer.__self__._readers[0]
        names = {name.lower() for name in sliced._parts}
    assert names == xlsx_slices._PARTS - {"xl/sharedstrings.xml"}  # openpyxl shares none


def test_a_damaged_part_calamine_does_not_read_does_not_stop_the_reading(tmp_path, tiny_slices):
    source = customers_workbook(tmp_path / "c.xlsx")
    props = {"docProps/extra.xml": b"<x>" + b"datos " * 2000 + b"</x>"}
    path = with_extra_parts(source, tmp_path / "d.xlsx", props, damaged="docProps/extra.xml")
    info, rows, whole = read(path)
    assert not whole and len(rows) == 60


def test_damaged_styles_end_as_reading_the_sheet_whole_ends(tmp_path, monkeypatch, tiny_slices):
    source = customers_workbook(tmp_path / "c.xlsx")
    with zipfile.ZipFile(source) as archive:
        styles = archive.read("xl/styles.xml")
    padded = styles.replace(b"</styleSheet>", b"<!--" + b"x" * 4000 + b"--></styleSheet>")
    path = with_extra_parts(source, tmp_path / "s.xlsx", {"xl/styles.xml": padded},
                            damaged="xl/styles.xml")  # fmt: skip
    try:
        expected = read_whole(path, monkeypatch)
    except UserError:
        with pytest.raises(UserError), tables.open_table(path) as table:
            list(table.rows())
    else:
        info, rows, whole = read(path)
        assert whole and (info, rows) == expected  # the slices gave way at once


def test_blocks_are_as_wide_as_the_header_and_hold_the_rows(tmp_path, monkeypatch, tiny_slices):
    path = customers_workbook(tmp_path / "c.xlsx")
    # after the last row: one wider than the header, an empty one, one narrower
    path = patch_sheet(path, tmp_path / "p.xlsx", [(
        "</sheetData>",
        '<row r="64"><c r="A64" t="inlineStr"><is><t>ancha</t></is></c><c r="H64"><v>8</v></c>'
        '</row><row r="65"></row><row r="66"><c r="A66"><v>7</v></c></row></sheetData>',
    )])  # fmt: skip
    with tables.open_table(path) as table:
        blocks = list(table.blocks())
        width = len(table.info.headers)
        assert table._closer.__self__.workbook.workbook is None  # sliced, not read whole
    assert len(blocks) > 3
    for block in blocks:
        assert len(block.columns) == width
        assert all(len(column) == len(block.numbers) for column in block.columns)
    _info, rows = read_whole(path, monkeypatch)
    assert list(tables.rows_of(blocks)) == rows
    assert rows[-2:] == [(64, ["ancha", None, None, None, None]), (66, [7, None, None, None, None])]
