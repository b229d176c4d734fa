"""The memory calamine would ask for each sheet of an old .xls workbook, bounded from its records
before calamine sees the file.

calamine reads every sheet of the sheet list (worksheets, charts and macro sheets alike) when it
opens an .xls, each from its offset to the first EOF record. For each it reserves room for the
cells its DIMENSIONS record declares, then keeps the cells it reads and lays them out densely from
the first to the last row and column any of them names. A cell record holds its row and column as
16-bit numbers, so a 5 KB file with one cell at row 65,536, column 65,536 made calamine ask for
137 GB and abort the whole program; a DIMENSIONS record declaring 4 billion rows did the same.

This reads the workbook stream of the OLE container (olefile) and measures both, for each sheet,
as calamine reads it (github.com/tafia/calamine, src/xls.rs, parse_workbook; src/cfb.rs for the
stream it picks). calamine also turns every formula into text at open, inserting each space a
formula's space tokens ask for at the front of the text: thousands of them took minutes.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple

import olefile

_BOF, _EOF, _BOUNDSHEET, _FILEPASS, _DIMENSIONS = 0x0809, 0x000A, 0x0085, 0x002F, 0x0200
# The records calamine keeps a cell for (row, then column, first in the record): NUMBER, LABEL,
# BOOLERR, RK, LABELSST. Blank cells (BLANK, MULBLANK) and rich strings are skipped by calamine,
# so not counted.
_CELL_RECORDS = frozenset((0x0203, 0x0204, 0x0205, 0x027E, 0x00FD))
_FORMULA = 0x0006  # a cell, and one in calamine's grid of formula texts
_STRING = 0x0207  # a formula's text value: a cell where the last formula was (A1 before any)
_MULRK = 0x00BD  # a row, its first column, then a 6-byte value for each column from there
# PtgAttrSpace (and its variant), then a byte of kind and the count of spaces it asks for.
_SPACE_TOKENS = (b"\x19\x40", b"\x19\x41")
_FORMULA_TOKENS_AT = 22  # after position, format, value, flags, cache and the tokens' size
# Spaces squared, summed over the formulas: what calamine's text building costs (one insert at
# the front of the text for each). Real formulas have a few spaces each.
XLS_MAX_FORMULA_SPACES_COST = 1_000_000_000
# Directory entries are 128 bytes: a UTF-16 name of 64, then (at 116) first sector and size.
_DIRECTORY_ENTRY = 128
_MINI_STREAM_CUTOFF = 4096  # calamine's, whatever the header says
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
    formulas: int  # the cells of calamine's grid of formula texts
    spaces_cost: int  # what turning its formulas into text costs (see XLS_MAX_FORMULA_SPACES_COST)


def xls_sheet_extents(path: Path) -> list[XlsSheetExtent]:
    """The extent of each sheet of the sheet list, in the workbook's order. Raises XlsEncrypted,
    or XlsDamaged when the file cannot be read this way (calamine is then not trusted with it)."""
    try:
        with olefile.OleFileIO(str(path)) as container:
            data = _workbook_stream(container)
    except (OSError, ValueError, IndexError, struct.error, RecursionError, AttributeError):
        # olefile's own errors derive from OSError; a damaged directory can raise the others.
        raise XlsDamaged from None
    # Real sheets follow each other: each record is read once. Sheets that overlap (crafted)
    # would be read again for each; past twice the stream's bytes, the file is refused.
    budget = [2 * len(data)]
    measured: dict[int, tuple[int, int, int, int, int]] = {}
    extents = []
    for name, offset in _sheets(data):
        if offset not in measured:
            measured[offset] = _measure(data, offset, budget)
        extents.append(XlsSheetExtent(name, *measured[offset]))
    return extents


def _workbook_stream(container: olefile.OleFileIO) -> bytes:
    """The stream calamine reads: the first directory entry named exactly "Workbook", else
    "Book", in the directory's order, reachable from the storage tree or not (olefile's own
    look-up ignores case and keeps the last of two names: another stream)."""
    if container.minisectorcutoff != _MINI_STREAM_CUTOFF:
        raise XlsDamaged  # olefile would read a small stream otherwise than calamine
    directory = container.directory_fp.getvalue()
    wide_sizes = container.sectorsize != 512
    entries = {}
    for at in range(0, len(directory) - _DIRECTORY_ENTRY + 1, _DIRECTORY_ENTRY):
        name = directory[at : at + 64].decode("utf-16-le", "ignore").split("\0", 1)[0]
        if name in ("Workbook", "Book") and name not in entries:
            start = int.from_bytes(directory[at + 116 : at + 120], "little")
            size = int.from_bytes(directory[at + 120 : at + (128 if wide_sizes else 124)], "little")
            entries[name] = (start, size)
    found = entries.get("Workbook") or entries.get("Book")
    if found is None:
        raise XlsDamaged
    start, size = found
    return container._open(start, size).read()  # olefile's reader of a sector chain


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


class _Box:
    """The smallest grid holding some positions."""

    def __init__(self) -> None:
        self.first_row = self.first_column = 1 << 32
        self.last_row = self.last_column = -1

    def add(self, row: int, first_column: int, last_column: int) -> None:
        self.first_row, self.last_row = min(self.first_row, row), max(self.last_row, row)
        self.first_column = min(self.first_column, first_column)
        self.last_column = max(self.last_column, last_column)

    @property
    def size(self) -> tuple[int, int]:
        if self.last_row < 0:
            return 0, 0
        return self.last_row - self.first_row + 1, self.last_column - self.first_column + 1


def _measure(data: bytes, offset: int, budget: list[int]) -> tuple[int, int, int, int, int]:
    """(rows, columns, declared cells, formula grid cells, formula spaces cost) of the sheet
    whose records start at offset."""
    cells, formulas = _Box(), _Box()
    declared = cost = 0
    formula = (0, 0)
    for kind, at, length in _records(data, offset, budget):
        if kind in _CELL_RECORDS and length >= 4:
            row, column = _POSITION.unpack_from(data, at)
            cells.add(row, column, column)
        elif kind == _FORMULA and length >= 4:
            formula = _POSITION.unpack_from(data, at)
            cells.add(formula[0], formula[1], formula[1])
            formulas.add(formula[0], formula[1], formula[1])
            cost += _spaces(data[at + _FORMULA_TOKENS_AT : at + length]) ** 2
        elif kind == _STRING:
            cells.add(formula[0], formula[1], formula[1])
        elif kind == _MULRK and length >= 6:
            # calamine writes one cell a 6-byte value from the first column on, past the
            # record's own last column when that field lies (its check wraps at 65,536).
            row, column = _POSITION.unpack_from(data, at)
            cells.add(row, column, column + max(1, (length - 6) // 6) - 1)
        elif kind == _DIMENSIONS:
            declared = max(declared, _declared_cells(data[at : at + length]))
    rows, columns = cells.size
    formula_rows, formula_columns = formulas.size
    return rows, columns, declared, formula_rows * formula_columns, cost


def _spaces(tokens: bytes) -> int:
    """The spaces a formula's space tokens ask for (found by their bytes: a number that looks
    like one only makes the count larger)."""
    total = 0
    for mark in _SPACE_TOKENS:
        at = tokens.find(mark)
        while at >= 0:
            total += tokens[at + 3] if at + 3 < len(tokens) else 0
            at = tokens.find(mark, at + 2)
    return total


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
