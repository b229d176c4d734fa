"""Export: CSV with BOM and either separator, xlsx write-only; formulas never injected."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from smbcrm.core.errors import UserError
from smbcrm.transfer.spreadsheet_writer import write_table, write_workbook
from smbcrm.transfer.tables import open_table

from .conftest import libreoffice_convert, needs_libreoffice

HOSTILE = [
    "=1+1",
    "+57 300 123 4567",
    "-2+3",
    "@SUM(A1)",
    "\tTAB",
    "\rCR",
    '=HYPERLINK("http://x")',
]


def rows():
    yield ["Ana", "=1+1", 3001234567, -5, 12.5, date(2024, 2, 29), True]
    yield [
        "Luis",
        "+57 300 123 4567",
        0,
        Decimal("10.25"),
        None,
        datetime(2024, 1, 2, 3, 4, 5),
        False,
    ]
    for text in HOSTILE[2:]:
        yield ["X", text, None, None, None, None, None]


HEADERS = ["Nombre", "Nota", "Teléfono", "Saldo", "Total", "Fecha", "VIP"]


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_has_bom_guards_formulas_and_keeps_numbers(tmp_path, delimiter):
    path = tmp_path / "export.csv"
    assert write_table(path, HEADERS, rows(), delimiter=delimiter) == 7
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0] == delimiter.join(HEADERS)
    assert lines[1] == delimiter.join(
        ["Ana", "'=1+1", "3001234567", "-5", "12.5", "2024-02-29", "TRUE"]
    )
    assert "'+57 300 123 4567" in lines[2] and "2024-01-02 03:04:05" in lines[2]
    for guarded in ("'-2+3", "'@SUM(A1)", "'\tTAB", "'\rCR"):
        assert guarded in text
    # Our reader takes the guard off again, so an export re-imports as it was.
    with open_table(path) as table:
        assert table.info.delimiter == delimiter
        values = [cells[1] for _n, cells in table.rows()]
    assert values[:3] == ["=1+1", "+57 300 123 4567", "-2+3"]


def test_xlsx_has_strings_never_formulas_and_real_types(tmp_path):
    path = tmp_path / "export.xlsx"
    assert write_table(path, HEADERS, rows(), sheet_name="Clientes") == 7
    workbook = load_workbook(path)
    sheet = workbook["Clientes"]
    notes = [sheet.cell(row=r, column=2) for r in range(2, 9)]
    # XML reads a carriage return back as a line feed; the cell is text all the same.
    assert [cell.value for cell in notes] == [text.replace("\r", "\n") for text in HOSTILE]
    assert all(cell.data_type == "s" for cell in notes)
    assert sheet["C2"].value == 3001234567 and sheet["C2"].data_type == "n"
    assert sheet["D2"].value == -5 and sheet["E2"].value == 12.5
    assert sheet["F2"].is_date and sheet["F2"].value == datetime(2024, 2, 29)
    assert sheet["G2"].value is True
    assert sheet["D3"].value == 10.25
    import zipfile

    assert b"<f>" not in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")


def test_whole_shop_workbook_and_round_trip(tmp_path):
    path = tmp_path / "tienda.xlsx"
    write_workbook(
        path,
        [
            ("Clientes", ["Nombre", "Correo"], iter([["Ana", "ana@x.co"]])),
            ("Compras", ["Fecha", "Total"], [[date(2024, 5, 1), 12000]]),
            ("Compras", ["x"], []),
            ("Bad/Name:[x]", ["y"], [["=2"]]),
        ],
    )
    with open_table(path) as table:
        assert table.info.sheets == ("Clientes", "Compras", "Compras (2)", "Bad Name  x")
        assert list(table.rows()) == [(2, ["Ana", "ana@x.co"])]
    with open_table(path, sheet="Compras") as table:
        assert list(table.rows()) == [(2, [date(2024, 5, 1), 12000])]
    with open_table(path, sheet="Bad Name  x") as table:
        assert list(table.rows()) == [(2, ["=2"])]


def test_unknown_kind_and_bad_separator(tmp_path):
    with pytest.raises(UserError, match=".xlsx or .csv"):
        write_table(tmp_path / "x.pdf", ["a"], [])
    with pytest.raises(UserError, match="separator"):
        write_table(tmp_path / "x.csv", ["a"], [], delimiter="|")


@needs_libreoffice
def test_libreoffice_evaluates_nothing_in_our_exports(tmp_path):
    xlsx = tmp_path / "export.xlsx"
    write_table(xlsx, ["Nota", "Número"], [["=1+1", 5], ["+2+3", 7], ["@SUM(1,2)", 9]])
    csv_out = libreoffice_convert(xlsx, "csv", tmp_path / "out")
    text = csv_out.read_text(encoding="utf-8", errors="replace")
    assert "=1+1" in text and "+2+3" in text
    assert "\n2," not in text and "\n5," not in text  # no formula result appeared
