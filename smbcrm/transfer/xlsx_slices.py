"""A big worksheet read by calamine a slice of rows at a time, so its first rows come at once.

python-calamine reads a whole sheet before it gives the first row: 0.8 s for a 100,000-row
sheet, all of it time an import waits with nothing to write. Here the sheet's XML is cut at
row boundaries as it is decompressed, and each slice is given to calamine as a small workbook
of its own (the original's styles and shared strings included, stored uncompressed in
memory). The first rows are ready after a few milliseconds, every value is calamine's own,
and memory is bounded by the slice.

Slicing needs a plain layout: rows and cells that carry their positions, no namespace
prefixes, no CDATA section or comment that could hide a "<row", and a first column that
holds a value (calamine's grid starts at the sheet's first used column, which a slice cannot
know otherwise). When a sheet is not like that, or calamine refuses a slice, NotSliceable
says after which row the caller should go on reading the sheet whole, its usual way. Rows
written out of order across slices are refused as damage (RowsOutOfOrder), as the streaming
reader refuses them: the rows already given could no longer be those of the whole sheet.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Iterator

import python_calamine

# Sheets whose XML is smaller than this are read whole: calamine takes under 0.1 s for them.
SLICE_FROM_BYTES = 4 << 20
FIRST_SLICE_BYTES = 256 << 10  # about 450 rows of ten columns as openpyxl writes them
# Slices grow to this: a 1,000,000-row sheet peaked at 463 MB with slices of 8 MB.
MAX_SLICE_BYTES = 4 << 20
# Every slice makes calamine read the shared strings again. A sheet is sliced only when that
# adds at most an eighth to the XML calamine reads: in practice when the strings are written in
# the cells (openpyxl, streaming writers) or the shared ones are few. A sheet as Excel writes
# it, every text shared (36 MB of XML, 10 MB of shared strings), took 2.7 s sliced, 1.7 s whole.
SHARED_STRINGS_SHARE = 8
# The parts calamine reads for a sheet's values, copied into every slice whatever their size
# (lower case: calamine finds them whatever their case). Pictures, themes, pivot caches and the
# other worksheets are left out.
_PARTS = {"[content_types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
          "xl/styles.xml", "xl/sharedstrings.xml"}  # fmt: skip
_BLOCK = 1 << 20
_SHEET_DATA, _SHEET_DATA_END = b"<sheetData>", b"</sheetData>"
_SHEET_END = b"</sheetData></worksheet>"
_HIDING = (b"<![CDATA[", b"<!--")


class NotSliceable(Exception):
    """Read the rest of the sheet whole: every row up to after_row has been given already."""

    def __init__(self, after_row: int) -> None:
        super().__init__(after_row)
        self.after_row = after_row


class RowsOutOfOrder(Exception):
    """A row comes after rows numbered below it, in another slice: damage, as no spreadsheet
    program writes that (rows up to after_row have been given already)."""

    def __init__(self, after_row: int) -> None:
        super().__init__(after_row)
        self.after_row = after_row


def worth_slicing(path, member: str) -> bool:
    """True when the sheet's XML is big enough to gain from slices and the parts copied into
    each (shared strings, styles...) small enough to be read again for each (sizes from the
    zip directory, nothing inflated). 300 MB of styles, copied into every slice of a 150,000-row
    sheet, took 1.5 GB."""
    try:
        with zipfile.ZipFile(path) as archive:
            sheet = archive.getinfo(member).file_size
            copied = sum(
                info.file_size
                for info in archive.infolist()
                if info.filename.lower() in _PARTS and info.filename != member
            )
    except (KeyError, OSError, zipfile.BadZipFile):
        return False
    slices = 4 + sheet // MAX_SLICE_BYTES  # the first ones grow to MAX_SLICE_BYTES
    return sheet >= SLICE_FROM_BYTES and copied * slices * SHARED_STRINGS_SHARE <= sheet


class SlicedSheet:
    """The rows of one worksheet, read slice by slice. check(slice_xml) runs before calamine
    sees a slice: it raises to refuse the file, or returns False when the slice cannot be given
    to calamine (cells without positions, a grid too big), and the sheet is then read whole."""

    def __init__(self, path, member: str, sheet: str, check: Callable[[bytes], bool]) -> None:
        self.path, self.member, self.sheet, self.check = path, member, sheet, check
        self._archive: zipfile.ZipFile | None = None
        self._stream = None
        self._parts: dict[str, bytes] = {}

    def _open(self) -> None:
        self._archive = zipfile.ZipFile(self.path)
        for info in self._archive.infolist():
            if info.filename.lower() in _PARTS and info.filename != self.member:
                self._parts[info.filename] = self._archive.read(info)
        self._stream = self._archive.open(self.member)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._archive is not None:
            self._archive.close()
        self._parts = {}

    def grids(self) -> Iterator[tuple[int, int, list[list]]]:
        """(how many rows come before the slice, its first column, calamine's grid of the slice)
        for every slice that has cells: the grid's rows follow one another from row
        first_row + 1, each as wide as the grid, empty ones included. Raises NotSliceable when
        the rest must be read whole."""
        last = 0
        aligned = False
        try:
            self._open()
            for head, xml in self._slices():
                if not self.check(xml):
                    raise NotSliceable(last)
                start, grid = self._load(head, xml)
                if start is None:
                    continue
                first_row, first_column = start
                if first_row < last:
                    raise RowsOutOfOrder(last)
                if not aligned:
                    if first_column != 0:
                        raise NotSliceable(last)
                    aligned = True
                yield first_row, first_column, grid
                last = first_row + len(grid)
        except (_Hidden, _Refused):
            raise NotSliceable(last) from None
        except (
            python_calamine.CalamineError, ValueError, OSError, EOFError, zipfile.BadZipFile,
            zlib.error,
        ):  # fmt: skip
            # A part that cannot be read, or a slice calamine refuses: the whole sheet, read
            # its usual way, says what is wrong, if the slice was not simply cut wrong.
            raise NotSliceable(last) from None

    def _slices(self) -> Iterator[tuple[bytes, bytes]]:
        """(the sheet's XML up to <sheetData>, one slice of whole rows) as they decompress."""
        # A bytearray grows in place and drops its front without moving the rest: bytes copied
        # the whole buffer at each block, 0.05 s a 100,000-row sheet.
        buffer = bytearray()
        head = None
        size = FIRST_SLICE_BYTES
        while True:
            block = self._stream.read(_BLOCK)
            seam = buffer[-16:] + block[:16]  # a mark cut in two by the block's start
            # Both marks start with "<!", and a "!" (one byte, found many times faster than a
            # pair: 0.05 s a 100,000-row sheet) is rare in a sheet's XML.
            if (
                (b"!" in block or b"!" in seam)
                and (b"<!" in block or b"<!" in seam)
                and any(mark in block or mark in seam for mark in _HIDING)
            ):
                raise _Hidden
            buffer += block
            if head is None:
                at = buffer.find(_SHEET_DATA)
                if at < 0:
                    if not block or len(buffer) > 16 * _BLOCK:
                        raise _Hidden  # no plain <sheetData> near the start
                    continue
                head = bytes(buffer[: at + len(_SHEET_DATA)])
                del buffer[: at + len(_SHEET_DATA)]
            end = buffer.find(_SHEET_DATA_END, max(0, len(buffer) - len(block) - 16))
            limit = end if end >= 0 else len(buffer)
            while limit >= size:
                cut = _row_start(buffer, size, limit)
                if cut < 0:
                    if limit > 2 * MAX_SLICE_BYTES + _BLOCK:
                        raise _Hidden  # no plain <row> to cut at (prefixed tags?)
                    break
                yield head, bytes(buffer[:cut])
                del buffer[:cut]
                limit -= cut
                size = min(size * 2, MAX_SLICE_BYTES)
            if end >= 0:
                yield head, bytes(buffer[:limit])
                return
            if not block:
                raise _Hidden  # the sheet ends without closing its rows: damaged

    def _load(self, head: bytes, xml: bytes) -> tuple[tuple[int, int] | None, list[list]]:
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w", zipfile.ZIP_STORED) as writer:
            for name, data in self._parts.items():
                writer.writestr(name, data)
            writer.writestr(self.member, head + xml + _SHEET_END)
        package.seek(0)
        try:
            workbook = python_calamine.CalamineWorkbook.from_filelike(package)
        except BaseException as error:
            raise _Refused from _panic_or(error)
        try:
            sheet = workbook.get_sheet_by_name(self.sheet)
            start = sheet.start
            if start is None:
                return None, []
            return start, sheet.to_python(skip_empty_area=True)
        except BaseException as error:
            raise _Refused from _panic_or(error)
        finally:
            workbook.close()


class _Hidden(Exception):
    """The XML has something slicing cannot see through."""


class _Refused(Exception):
    """calamine refused a slice (an error, or a panic: some damage makes it panic)."""


def is_calamine_panic(error: BaseException) -> bool:
    """calamine panics on some damage (an .xlsb cell naming a shared string that is not there):
    pyo3 raises that as PanicException, a BaseException no `except Exception` catches."""
    return type(error).__name__ == "PanicException"


def _panic_or(error: BaseException) -> BaseException:
    """The error when calamine refused the slice; anything else (Ctrl+C, a bug) goes on up."""
    refused = isinstance(error, python_calamine.CalamineError | ValueError | OSError)
    if refused or is_calamine_panic(error):
        return error
    raise error


def _row_start(buffer: bytes, at_least: int, before: int) -> int:
    """Where the first <row> tag between at_least and before starts, or -1."""
    position = at_least
    while True:
        position = buffer.find(b"<row", position, before)
        if position < 0 or position + 4 >= before:
            return -1
        if buffer[position + 4] in b" \t\r\n>/":
            return position
        position += 4
