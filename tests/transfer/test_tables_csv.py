"""CSV reading: encodings, separators, quoted line breaks, header row, row numbers, limits."""

from __future__ import annotations

import tracemalloc

import pytest

from smbcrm.core.errors import UserError
from smbcrm.transfer.tables import detect_delimiter, open_table

ROWS = [
    ["Nombre", "Teléfono", "Ciudad"],
    ["José", "300 123 4567", "Bogotá"],
    ["Ñoño", "+52 55 1234 5678", "Mérida"],
]


def write_csv(path, rows, *, encoding="utf-8", delimiter=",", line_end="\r\n"):
    text = line_end.join(delimiter.join(row) for row in rows) + line_end
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1252", "cp1252"),
        ("utf-16", "utf-16"),  # Excel's "Unicode text": UTF-16 with a byte-order mark
    ],
)
def test_each_encoding_is_detected_and_accents_survive(tmp_path, encoding, expected):
    delimiter = "\t" if encoding == "utf-16" else ","
    path = write_csv(tmp_path / "clientes.csv", ROWS, encoding=encoding, delimiter=delimiter)
    with open_table(path) as table:
        assert table.info.kind == "csv"
        assert table.info.encoding == expected
        assert table.info.delimiter == delimiter
        assert table.info.headers == ("Nombre", "Teléfono", "Ciudad")
        assert list(table.rows()) == [
            (2, ["José", "300 123 4567", "Bogotá"]),
            (3, ["Ñoño", "+52 55 1234 5678", "Mérida"]),
        ]


def test_cp1252_accent_after_the_first_megabyte_is_still_detected(tmp_path):
    rows = [["Nombre", "Ciudad"]] + [["Ana", "Cali"]] * 120_000 + [["José", "Bogotá"]]
    path = write_csv(tmp_path / "late.csv", rows, encoding="cp1252")
    with open_table(path) as table:
        assert table.info.encoding == "cp1252"
        assert list(table.rows())[-1][1] == ["José", "Bogotá"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_detected(tmp_path, delimiter):
    rows = [["Nombre", "Total", "Notas"], ["Ana", "12,50", "a, b"], ["Luis", "3", ""]]
    text = "\n".join(
        delimiter.join(f'"{cell}"' if ("," in cell and delimiter == ",") else cell for cell in row)
        for row in rows
    )
    path = tmp_path / "data.csv"
    path.write_text(text + "\n", encoding="utf-8")
    with open_table(path) as table:
        assert table.info.delimiter == delimiter
        assert list(table.rows()) == [(2, ["Ana", "12,50", "a, b"]), (3, ["Luis", "3", None])]


def test_given_encoding_and_delimiter_win(tmp_path):
    path = write_csv(tmp_path / "x.csv", ROWS, encoding="cp1252", delimiter=";")
    with open_table(path, encoding="latin-1", delimiter=";") as table:
        assert (table.info.encoding, table.info.delimiter) == ("latin-1", ";")
        assert table.info.headers[1] == "Teléfono"


def test_wrong_encoding_given_is_a_clear_error(tmp_path):
    path = write_csv(tmp_path / "x.csv", ROWS, encoding="cp1252")
    with pytest.raises(UserError, match="not valid utf-8"), open_table(path, encoding="utf-8") as t:
        list(t.rows())
    with pytest.raises(UserError, match="encoding"):
        open_table(path, encoding="klingon")


def test_quoted_line_breaks_stay_in_one_cell_and_rows_count_records(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text(
        'Nombre;Notas;Correo\r\nAna;"Primera línea\r\nsegunda; con punto y coma";ana@x.co\r\n'
        'Luis;"dice ""hola""";luis@x.co\r\n',
        encoding="utf-8",
    )
    with open_table(path) as table:
        assert table.info.delimiter == ";"
        rows = list(table.rows())
    assert rows == [
        (2, ["Ana", "Primera línea\r\nsegunda; con punto y coma", "ana@x.co"]),
        (3, ["Luis", 'dice "hola"', "luis@x.co"]),
    ]


def test_title_and_blank_rows_above_the_headers_are_skipped(tmp_path):
    path = tmp_path / "reporte.csv"
    path.write_text(
        "Reporte de clientes,,,\n,,,\nGenerado el 2024-05-01,,,\n"
        "Nombre,Correo,Teléfono,Ciudad\n"
        "Ana,ana@x.co,3001234567,Cali\n\n,,,\nLuis,luis@x.co,3109876543,\n",
        encoding="utf-8",
    )
    with open_table(path) as table:
        assert table.info.header_row == 4
        assert table.info.headers == ("Nombre", "Correo", "Teléfono", "Ciudad")
        assert list(table.rows()) == [
            (5, ["Ana", "ana@x.co", "3001234567", "Cali"]),
            (8, ["Luis", "luis@x.co", "3109876543", None]),
        ]


def test_rows_are_padded_and_truncated_to_the_headers(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1\n1,2,3,4,5\n", encoding="utf-8")
    with open_table(path) as table:
        assert list(table.rows()) == [(2, ["1", None, None]), (3, ["1", "2", "3"])]


def test_apostrophe_guard_from_our_export_is_removed(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Nombre,Teléfono\n'=cmd,'+57 300 123 4567\nO'Brien,'normal\n", encoding="utf-8")
    with open_table(path) as table:
        assert [cells for _n, cells in table.rows()] == [
            ["=cmd", "+57 300 123 4567"],
            ["O'Brien", "'normal"],
        ]


def test_delimiter_detection_ignores_separators_inside_quotes():
    sample = 'Nombre,Nota\n"Ana; Luis",x\n"B; C",y\n'
    assert detect_delimiter(sample) == ","


def test_too_many_rows_are_refused_with_a_message(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("Nombre,Total\n" + "Ana,1\n" * 50, encoding="utf-8")
    given = []
    with open_table(path, max_rows=40) as table, pytest.raises(UserError, match="more than 40"):
        for number, _cells in table.rows():
            given.append(number)
    assert given == list(range(2, 42))  # the rows up to the limit come first


def test_empty_file_and_bad_separator(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        open_table(empty)
    blank = tmp_path / "blank.csv"
    blank.write_text(",,\n\n", encoding="utf-8")
    with pytest.raises(UserError, match="no data"):
        open_table(blank)
    with pytest.raises(UserError, match="separator"):
        open_table(write_csv(tmp_path / "x.csv", ROWS), delimiter=":")


def test_memory_stays_flat_while_streaming(tmp_path):
    def peak_for(rows: int) -> int:
        path = tmp_path / f"rows{rows}.csv"
        with open(path, "w", encoding="utf-8") as stream:
            stream.write("Email,Fecha,Producto,Total\n")
            for index in range(rows):
                stream.write(f"c{index}@x.co,01/02/2025,Producto {index % 50},{index}\n")
        tracemalloc.start()
        with open_table(path) as table:
            count = sum(1 for _row in table.rows())
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert count == rows
        return peak

    small, large = peak_for(10_000), peak_for(100_000)
    assert large < small * 1.5 + 1_000_000
