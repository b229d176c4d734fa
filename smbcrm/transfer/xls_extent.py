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
import sys
from array import array
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
# What calamine's formula texts cost, estimated from their tokens' bytes (a byte of an operand
# that looks like a token only makes the estimate larger): their length (a defined or sheet
# name is written out for each 5-byte token that names it: 85 times a file's size), and the
# characters moved by what it inserts at the front of a text (each space of a space token, a
# sign, a parenthesis). Real formulas are far from both bounds.
# A LibreOffice workbook of 40,000 formulas with spaces, signs and a sheet reference measured
# 9 MB and 272 million: a full .xls of five such columns stays within both.
XLS_MAX_FORMULA_TEXT = 256 << 20
XLS_MAX_FORMULA_COST = 20_000_000_000
_CHARACTERS_A_TOKEN_BYTE = 4  # a reference "AB123" from 5 bytes, a function name from 4...
_NAME_TOKENS = bytes((0x23, 0x43, 0x63, 0x39, 0x59, 0x79))  # a defined name, written out
_SHEET_TOKENS = bytes((0x3A, 0x5A, 0x7A, 0x3B, 0x5B, 0x7B, 0x3C, 0x5C, 0x7C, 0x3D, 0x5D, 0x7D))
# Tokens after which calamine moves the text built so far: unary signs and parentheses insert
# at its front; binary operators (0x03-0x11) and function calls cut their operands off its end
# and paste them back (21,800 nested ABS in one formula took 50 ms, with a long name 0.7 s).
_FRONT_TOKENS = bytes((0x12, 0x13, 0x15, 0x21, 0x41, 0x61, 0x22, 0x42, 0x62, *range(0x03, 0x12)))
_NAME = 0x0018  # a defined name: its length in characters at byte 3
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
    formula_text: int  # bytes of formula text calamine builds, estimated (XLS_MAX_FORMULA_TEXT)
    formula_cost: int  # characters it moves building them, estimated (XLS_MAX_FORMULA_COST)


def xls_sheet_extents(path: Path) -> list[XlsSheetExtent]:
    """The extent of each sheet of the sheet list, in the workbook's order. Raises XlsEncrypted,
    or XlsDamaged when the file cannot be read this way (calamine is then not trusted with it)."""
    _check_chains(path)
    try:
        with olefile.OleFileIO(str(path)) as container:
            data = _workbook_stream(container)
    except (OSError, ValueError, IndexError, struct.error, RecursionError, AttributeError):
        # olefile's own errors derive from OSError; a damaged directory can raise the others.
        raise XlsDamaged from None
    # Real sheets follow each other: each record is read once. Sheets that overlap (crafted)
    # would be read again for each; past twice the stream's bytes, the file is refused.
    budget = [2 * len(data)]
    measured: dict[int, tuple[int, int, int, int, int, int]] = {}
    extents = []
    sheets = _sheets(data)
    longest = _longest_names(data, [name for name, _offset in sheets])
    for name, offset in sheets:
        if offset not in measured:
            measured[offset] = _measure(data, offset, budget, longest)
        extents.append(XlsSheetExtent(name, *measured[offset]))
    return extents


_FREE, _END, _SPECIAL = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFA  # sector ids from _SPECIAL on


def _check_chains(path: Path) -> None:
    """Follow the container's sector chains as calamine does before it reads any stream, and
    refuse what would make it loop or copy the same sectors over and over: calamine follows the
    DIFAT chain from the header's start whatever the header's count says, loads every FAT
    sector it names (the same one named thousands of times took gigabytes), and follows the
    directory chain to its end (a chain that loops back aborted it). olefile checks neither."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        raise XlsDamaged from None
    if len(data) < 512:
        raise XlsDamaged
    size = {0x0009: 512, 0x000C: 4096}.get(int.from_bytes(data[30:32], "little"))
    if size is None:
        raise XlsDamaged
    count = (len(data) - size) // size  # sectors after the header's

    def sector(number: int) -> bytes:
        if number >= count:
            raise XlsDamaged
        return data[size + number * size : size + (number + 1) * size]

    difat = list(struct.unpack_from("<109I", data, 76))
    seen: set[int] = set()
    number = int.from_bytes(data[68:72], "little")
    while number < _SPECIAL:
        if number in seen:
            raise XlsDamaged
        seen.add(number)
        difat += struct.unpack(f"<{size // 4}I", sector(number))
        number = difat.pop()
    fat_sectors = [number for number in difat if number < _SPECIAL]  # markers are skipped
    if len(fat_sectors) > count:
        raise XlsDamaged  # FAT sectors named again and again
    fat = array("I", b"".join(sector(number) for number in fat_sectors))  # damaged past the end
    if fat.itemsize != 4:
        raise XlsDamaged  # no 32-bit unsigned type here: never on the platforms we build for
    if sys.byteorder != "little":
        fat.byteswap()
    visited = bytearray(len(fat))
    number = int.from_bytes(data[48:52], "little")
    while number != _END:
        if number >= len(fat) or visited[number]:
            raise XlsDamaged  # a directory chain that loops, or leaves the file
        visited[number] = 1
        number = fat[number]


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


def _longest_names(data: bytes, sheets: list[str]) -> tuple[int, int]:
    """The most UTF-8 bytes a sheet name, and a defined name, take in a formula's text."""
    sheet = max((len(name.encode("utf-8")) + 3 for name in sheets), default=0)  # quotes, "!"
    defined = 0
    for kind, at, length in _records(data, 0):
        if kind == _NAME and length >= 4:
            wide = length > 14 and data[at + 14] & 1  # 16-bit characters: up to 3 bytes each
            defined = max(defined, (3 if wide else 2) * data[at + 3])
    return sheet, defined


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


def _measure(
    data: bytes, offset: int, budget: list[int], longest: tuple[int, int]
) -> tuple[int, int, int, int, int, int]:
    """(rows, columns, declared cells, formula grid cells, formula text, formula cost) of the
    sheet whose records start at offset; longest: the longest name a formula may write out."""
    cells, formulas = _Box(), _Box()
    declared = text = cost = 0
    formula = (0, 0)
    for kind, at, length in _records(data, offset, budget):
        if kind in _CELL_RECORDS and length >= 4:
            row, column = _POSITION.unpack_from(data, at)
            cells.add(row, column, column)
        elif kind == _FORMULA and length >= 4:
            formula = _POSITION.unpack_from(data, at)
            cells.add(formula[0], formula[1], formula[1])
            formulas.add(formula[0], formula[1], formula[1])
            written, moved = _formula_text(data[at + _FORMULA_TOKENS_AT : at + length], longest)
            text, cost = text + written, cost + moved
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
    return rows, columns, declared, formula_rows * formula_columns, text, cost


def _formula_text(tokens: bytes, longest: tuple[int, int]) -> tuple[int, int]:
    """(text length, characters moved) calamine's text of one formula may take, from its
    tokens: each byte a few characters, each sheet or name token a whole name (longest: the
    longest sheet and defined names), each front insert or operator a move of the text."""
    spaces = _spaces(tokens)
    sheets = len(tokens) - len(tokens.translate(None, _SHEET_TOKENS))
    names = len(tokens) - len(tokens.translate(None, _NAME_TOKENS))
    fronts = len(tokens) - len(tokens.translate(None, _FRONT_TOKENS)) + tokens.count(b"\x19\x10")
    text = _CHARACTERS_A_TOKEN_BYTE * len(tokens) + sheets * longest[0] + names * longest[1]
    return text + spaces, (spaces + fronts) * (text + spaces)


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
