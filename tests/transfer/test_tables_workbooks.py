"""Workbooks: calamine types normalised, header row, sheets, 1904 dates, real third-party files."""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from smbcrm.core.errors import UserError
from smbcrm.transfer import tables
from smbcrm.transfer.cells import cell_text
from smbcrm.transfer.tables import normalise_cell, open_table

from .conftest import libreoffice_convert, needs_libreoffice, replace_sheet_xml, write_xlsx


def test_openpyxl_written_types_come_back_normalised(tmp_path):
    path = write_xlsx(
        tmp_path / "clientes.xlsx",
        [
            ["Nombre", "Teléfono", "Alta", "Última visita", "Total", "VIP", "Puntos"],
            [
                "Ana",
                3001234567,
                datetime(2024, 2, 29),
                datetime(2024, 3, 1, 14, 30),
                1250.5,
                True,
                7,
            ],
        ],
    )
    with open_table(path) as table:
        assert table.info.kind == "xlsx"
        assert table.info.sheets == ("Hoja1",)
        rows = list(table.rows())
    cells = rows[0][1]
    # openpyxl writes datetime and int; calamine reads date and float: both arrive the same.
    assert cells == [
        "Ana",
        3001234567,
        date(2024, 2, 29),
        datetime(2024, 3, 1, 14, 30),
        1250.5,
        True,
        7,
    ]
    assert type(cells[1]) is int and type(cells[6]) is int
    assert cell_text(cells[1]) == "3001234567"


def test_rows_normalised_a_column_at_a_time_are_those_normalised_a_cell_at_a_time():
    rng = random.Random(2)
    values = ["Ana", "", "  ", "\u00a0", " x ", 3001234567.0, 1.25, True, datetime(2024, 1, 2),
              datetime(2024, 1, 2, 10, 30), date(1990, 5, 6), 7, float("nan")]  # fmt: skip

    def padded(rows, width):  # as Table gives them: as wide as the header
        return [(number, cells + [None] * (width - len(cells))) for number, cells in rows]

    for round_ in range(60):
        width = rng.choice([1, 3, 10])
        rows = [[rng.choice(values[: (2, 5, 20)[round_ % 3]]) for _ in range(width)]
                for _ in range(rng.randint(0, 1_500))]  # fmt: skip
        if round_ % 5 == 0 and rows:
            rows[rng.randrange(len(rows))] = ["Ana"] * (width + 1)  # rows of other widths
        expected = [(number, cells) for number, cells in
                    ((at + 1, [normalise_cell(value) for value in row]) for at, row in enumerate(rows))
                    if cells.count(None) != len(cells)]  # fmt: skip
        blocks = list(tables._numbered_blocks(iter(rows)))
        assert all(len(set(map(len, [block.numbers, *block.columns]))) == 1 for block in blocks)
        found = list(tables.rows_of(blocks))
        assert repr(padded(found, width + 1)) == repr(padded(expected, width + 1))  # nan != nan
        numbered = [(number * 2, row) for number, row in enumerate(rows, 1)]
        found = list(tables.rows_of(tables._numbered_blocks(numbered, numbered=True)))
        assert repr(padded(found, width + 1)) == repr(
            padded([(number * 2, cells) for number, cells in expected], width + 1)
        )


def test_rows_read_before_the_reader_stops_come_before_its_error():
    def reader():
        for number in range(1, 101):
            yield [f"fila {number}"]
        raise UserError("damaged")

    given = []
    with pytest.raises(UserError):
        for number, _cells in tables.rows_of(tables._numbered_blocks(reader())):
            given.append(number)
    assert given == list(range(1, 101))


def test_normalise_cell_is_the_one_place_for_reader_types():
    assert normalise_cell(3001234567.0) == 3001234567
    assert normalise_cell(datetime(2024, 1, 2)) == date(2024, 1, 2)
    assert normalise_cell("  ") is None
    assert normalise_cell(True) is True
    assert normalise_cell(1.25) == 1.25


def test_title_rows_and_offset_columns_are_skipped(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet["B2"] = "Listado de clientes - Tienda La Esquina"
    sheet["B3"] = "Exportado 2024-05-01"
    for column, text in zip(
        "BCDE", ["Nombre", "Apellidos", "Correo electrónico", "Celular"], strict=True
    ):
        sheet[f"{column}5"] = text
    sheet.append([None, "Ana", "Gómez", "ana@x.co", 3001234567])
    sheet.append([])
    sheet.append([None, "Luis", "Pérez", None, 573109876543])
    workbook.save(tmp_path / "t.xlsx")
    with open_table(tmp_path / "t.xlsx") as table:
        assert table.info.header_row == 5
        assert table.info.headers == ("Nombre", "Apellidos", "Correo electrónico", "Celular")
        assert list(table.rows()) == [
            (6, ["Ana", "Gómez", "ana@x.co", 3001234567]),
            (8, ["Luis", "Pérez", None, 573109876543]),
        ]


def test_first_non_empty_sheet_is_read_and_a_sheet_can_be_chosen(tmp_path):
    path = write_xlsx(
        tmp_path / "libro.xlsx",
        [],
        title="Portada",
        more_sheets=[
            ("Clientes", [["Nombre"], ["Ana"]]),
            ("Compras", [["Fecha"], [date(2024, 1, 5)]]),
        ],
    )
    with open_table(path) as table:
        assert table.info.sheets == ("Portada", "Clientes", "Compras")
        assert table.info.sheet == "Clientes"
    with open_table(path, sheet="Compras") as table:
        assert list(table.rows()) == [(2, [date(2024, 1, 5)])]
    with pytest.raises(UserError, match="no sheet called “Ventas”"):
        open_table(path, sheet="Ventas")
    with pytest.raises(UserError, match="empty"):
        open_table(path, sheet="Portada")


def test_1904_date_system_is_reported_and_dates_stay_right(tmp_path):
    workbook = Workbook()
    workbook.epoch = __import__("openpyxl").utils.datetime.MAC_EPOCH
    sheet = workbook.active
    sheet.append(["Nombre", "Nacimiento"])
    sheet.append(["Ana", date(1990, 5, 17)])
    workbook.save(tmp_path / "mac.xlsx")
    with open_table(tmp_path / "mac.xlsx") as table:
        assert table.info.epoch_1904 is True
        assert list(table.rows()) == [(2, ["Ana", date(1990, 5, 17)])]
    plain = write_xlsx(tmp_path / "pc.xlsx", [["Nombre"], ["Ana"]])
    with open_table(plain) as table:
        assert table.info.epoch_1904 is False


def test_lying_dimension_does_not_lose_rows(tmp_path):
    rows = [["Nombre", "Total"]] + [[f"Cliente {n}", n] for n in range(1, 201)]
    source = write_xlsx(tmp_path / "source.xlsx", rows)
    import zipfile

    xml = zipfile.ZipFile(source).read("xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:B201"' in xml
    for lie in (b'<dimension ref="A1:B2"', b'<dimension ref="A1:XFD1048576"'):
        lying = replace_sheet_xml(
            source, tmp_path / "lying.xlsx", xml.replace(b'<dimension ref="A1:B201"', lie)
        )
        with open_table(lying) as table:
            rows_read = list(table.rows())
        assert len(rows_read) == 200 and rows_read[-1] == (201, ["Cliente 200", 200])


@needs_libreoffice
def test_libreoffice_files_keep_every_phone_digit(tmp_path):
    source = tmp_path / "clientes.csv"
    source.write_text(
        "Clientes de la tienda\n\nNombre,Teléfono,Cédula,Fecha de nacimiento,Total\n"
        'Ana,3001234567,1020304050,1990-05-17,"1250,5"\n'
        "Luis,573109876543,79000111,2001-12-31,3\n",
        encoding="utf-8",
    )
    for fmt in ("xlsx", "ods", "xls"):
        converted = libreoffice_convert(source, fmt, tmp_path)
        with open_table(converted) as table:
            assert table.info.kind == fmt
            assert table.info.headers == (
                "Nombre",
                "Teléfono",
                "Cédula",
                "Fecha de nacimiento",
                "Total",
            )
            rows = [cells for _number, cells in table.rows()]
        # LibreOffice stores the phones as numbers: every digit must survive as text.
        assert [cell_text(row[1]) for row in rows] == ["3001234567", "573109876543"]
        assert [cell_text(row[2]) for row in rows] == ["1020304050", "79000111"]
        assert rows[0][3] == date(1990, 5, 17)
