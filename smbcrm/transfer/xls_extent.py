"""The grid calamine would lay out for each worksheet of an old .xls workbook, read from its
records before calamine sees the file.

calamine keeps an .xls sheet's cells and then lays them out densely from the first to the last
row and column any cell names. A cell record holds its row and column as 16-bit numbers, so a
5 KB file with one cell at row 65,536, column 65,536 made calamine ask for 137 GB and abort the
whole program; one at row 65,536, column 256 (as far as Excel goes) took 1 GB. This reads the
workbook stream of the OLE container (olefile), finds the worksheets in its sheet list
(BOUNDSHEET records) and bounds each from the positions of its cell records.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple

import olefile

_BOF, _EOF, _BOUNDSHEET, _FILEPASS = 0x0809, 0x000A, 0x0085, 0x002F
# Records that place one cell (row, then column, first in the record): NUMBER, RK, LABELSST,
# LABEL, BOOLERR, FORMULA, BLANK, RSTRING, and their BIFF5 forms where they differ.
_CELL_RECORDS = frozenset((0x0203, 0x027E, 0x00FD, 0x0204, 0x0205, 0x0006, 0x0201, 0x00D6, 0x0406))
# MULRK and MULBLANK: a row, its first column, and the last column in the last two bytes.
_MULTI_CELL_RECORDS = frozenset((0x00BD, 0x00BE))
_HEADER = struct.Struct("<HH")
_POSITION = struct.Struct("<HH")


class XlsEncrypted(Exception):
    """The workbook is protected with a password: its cells cannot be read (nor bounded)."""


class XlsSheetExtent(NamedTuple):
    name: str
    rows: int
    columns: int


def xls_sheet_extents(path: Path) -> list[XlsSheetExtent]:
    """The grid of each worksheet, in the workbook's order; [] when the container or its
    workbook stream cannot be read (calamine then says what is wrong). Raises XlsEncrypted."""
    try:
        with olefile.OleFileIO(str(path)) as container:
            stream = next((n for n in ("Workbook", "Book") if container.exists(n)), None)
            if stream is None:
                return []
            data = container.openstream(stream).read()
    except (OSError, ValueError, IndexError, struct.error, RecursionError):
        # olefile's own errors derive from OSError; a damaged directory can raise the others.
        return []
    return [XlsSheetExtent(name, *_grid(data, offset)) for name, offset in _worksheets(data)]


def _records(data: bytes, start: int):
    """(kind, payload start, payload length) from start to the end of its substream: the EOF
    that closes the first BOF, nested substreams (a chart in a sheet) included."""
    position, depth, end = start, 0, len(data)
    while position + 4 <= end:
        kind, length = _HEADER.unpack_from(data, position)
        yield kind, position + 4, min(length, end - position - 4)
        position += 4 + length
        if kind == _BOF:
            depth += 1
        elif kind == _EOF:
            depth -= 1
            if depth <= 0:
                return


def _worksheets(data: bytes) -> list[tuple[str, int]]:
    """(name, offset of its substream) of each worksheet in the workbook's sheet list."""
    sheets = []
    for kind, at, length in _records(data, 0):
        if kind == _FILEPASS:
            raise XlsEncrypted
        if kind != _BOUNDSHEET or length < 8:
            continue
        offset = int.from_bytes(data[at : at + 4], "little")
        if data[at + 5] == 0 and offset < len(data):  # 0: a worksheet (not a chart, macro...)
            sheets.append((_sheet_name(data[at + 6 : at + length]), offset))
    return sheets


def _sheet_name(field: bytes) -> str:
    """A ShortXLUnicodeString (BIFF8: count, flags, then 8- or 16-bit characters), or BIFF5's
    count and 8-bit characters."""
    if not field:
        return ""
    count = field[0]
    if len(field) >= 2 + count and field[1] in (0, 1):
        wide = field[1] == 1
        text = field[2 : 2 + count * (2 if wide else 1)]
        return text.decode("utf-16-le" if wide else "latin-1", "replace")
    return field[1 : 1 + count].decode("latin-1", "replace")


def _grid(data: bytes, offset: int) -> tuple[int, int]:
    """(rows, columns) from the first to the last row and column of the cells of the sheet
    whose substream starts at offset."""
    first_row = first_column = 1 << 17
    last_row = last_column = -1
    for kind, at, length in _records(data, offset):
        if kind in _CELL_RECORDS and length >= 4:
            row, column = _POSITION.unpack_from(data, at)
            last = column
        elif kind in _MULTI_CELL_RECORDS and length >= 6:
            row, column = _POSITION.unpack_from(data, at)
            last = int.from_bytes(data[at + length - 2 : at + length], "little")
        else:
            continue
        first_row, last_row = min(first_row, row), max(last_row, row)
        first_column, last_column = min(first_column, column), max(last_column, column, last)
    if last_row < 0:
        return 0, 0
    return last_row - first_row + 1, last_column - first_column + 1
