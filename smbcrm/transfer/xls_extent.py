"""The memory calamine would ask for each sheet of an old .xls workbook, bounded from its records
before calamine sees the file.

calamine reads every sheet of the sheet list (worksheets, charts and macro sheets alike) when it
opens an .xls, each from its offset to the first EOF record. For each it reserves room for the
cells its DIMENSIONS record declares, then keeps the cells it reads and lays them out densely from
the first to the last row and column any of them names. A cell record holds its row and column as
16-bit numbers, so a 5 KB file with one cell at row 65,536, column 65,536 made calamine ask for
137 GB and abort the whole program; a DIMENSIONS record declaring 4 billion rows did the same.

This reads the workbook stream of the OLE container (olefile) and measures both, for each sheet,
as calamine reads it (github.com/tafia/calamine, src/xls.rs, parse_workbook).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple

import olefile

_BOF, _EOF, _BOUNDSHEET, _FILEPASS, _DIMENSIONS = 0x0809, 0x000A, 0x0085, 0x002F, 0x0200
# The records calamine keeps a cell for (row, then column, first in the record): NUMBER, LABEL,
# BOOLERR, RK, LABELSST and FORMULA (its value, and its text in a grid of formulas). Blank cells
# (BLANK, MULBLANK) and rich strings are skipped by calamine, so not counted.
_CELL_RECORDS = frozenset((0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x0006))
_MULRK = 0x00BD  # a row, its first column, and the last column in the last two bytes
_HEADER = struct.Struct("<HH")
_POSITION = struct.Struct("<HH")
# The largest sheet Excel writes in an .xls: a DIMENSIONS record declaring more is crafted.
XLS_MAX_DECLARED_CELLS = 65_536 * 256


class XlsEncrypted(Exception):
    """The workbook is protected with a password: its cells cannot be read (nor bounded)."""


class XlsDamaged(Exception):
    """The container or its workbook stream cannot be read, or its sheets overlap."""


class XlsSheetExtent(NamedTuple):
    name: str
    rows: int  # from the first to the last row of its cells
    columns: int
    declared: int  # the cells its DIMENSIONS records make calamine reserve room for


def xls_sheet_extents(path: Path) -> list[XlsSheetExtent]:
    """The extent of each sheet of the sheet list, in the workbook's order. Raises XlsEncrypted,
    or XlsDamaged when the file cannot be read this way (calamine is then not trusted with it)."""
    try:
        with olefile.OleFileIO(str(path)) as container:
            stream = next((n for n in ("Workbook", "Book") if container.exists(n)), None)
            if stream is None:
                raise XlsDamaged
            data = container.openstream(stream).read()
    except (OSError, ValueError, IndexError, struct.error, RecursionError):
        # olefile's own errors derive from OSError; a damaged directory can raise the others.
        raise XlsDamaged from None
    # Real sheets follow each other: each record is read once. Sheets that overlap (crafted)
    # would be read again for each; past twice the stream's bytes, the file is refused.
    budget = [2 * len(data)]
    measured: dict[int, tuple[int, int, int]] = {}
    extents = []
    for name, offset in _sheets(data):
        if offset not in measured:
            measured[offset] = _measure(data, offset, budget)
        extents.append(XlsSheetExtent(name, *measured[offset]))
    return extents


def _records(data: bytes, start: int, budget: list[int] | None = None):
    """(kind, payload start, payload length) from start up to the first EOF, as calamine reads
    a sheet (a chart inside a worksheet ends it there too), or the globals. Each record's bytes
    are taken from budget[0], when given."""
    position, end = start, len(data)
    while position + 4 <= end:
        kind, length = _HEADER.unpack_from(data, position)
        if budget is not None:
            budget[0] -= 4 + length
            if budget[0] < 0:
                raise XlsDamaged
        yield kind, position + 4, min(length, end - position - 4)
        if kind == _EOF:
            return
        position += 4 + length


def _sheets(data: bytes) -> list[tuple[str, int]]:
    """(name, offset of its records) of each sheet in the workbook's sheet list."""
    sheets = []
    for kind, at, length in _records(data, 0):
        if kind == _FILEPASS:
            raise XlsEncrypted
        if kind == _BOUNDSHEET and length >= 8:
            offset = int.from_bytes(data[at : at + 4], "little")
            if offset < len(data):
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


def _measure(data: bytes, offset: int, budget: list[int]) -> tuple[int, int, int]:
    """(rows, columns, declared cells) of the sheet whose records start at offset."""
    first_row = first_column = 1 << 17
    last_row = last_column = -1
    declared = 0
    for kind, at, length in _records(data, offset, budget):
        if kind in _CELL_RECORDS and length >= 4:
            row, column = _POSITION.unpack_from(data, at)
            last = column
        elif kind == _MULRK and length >= 6:
            row, column = _POSITION.unpack_from(data, at)
            last = int.from_bytes(data[at + length - 2 : at + length], "little")
        else:
            if kind == _DIMENSIONS:
                declared = max(declared, _declared_cells(data[at : at + length]))
            continue
        first_row, last_row = min(first_row, row), max(last_row, row)
        first_column, last_column = min(first_column, column), max(last_column, column, last)
    if last_row < 0:
        return 0, 0, declared
    return last_row - first_row + 1, last_column - first_column + 1, declared


def _declared_cells(record: bytes) -> int:
    """The cells calamine reserves room for from a DIMENSIONS record, with its arithmetic:
    unsigned 32-bit differences that wrap (a first row after the last asks for 4 billion)."""
    if len(record) == 14:
        first_row, last_row, first_column, last_column = struct.unpack_from("<IIHH", record)
    elif len(record) == 10:
        first_row, last_row, first_column, last_column = struct.unpack_from("<HHHH", record)
    else:
        return 0  # calamine refuses the file itself
    if last_row < 1 or last_column < 1:
        return 1
    return ((last_row - first_row) % (1 << 32)) * ((last_column - first_column) % (1 << 32))
