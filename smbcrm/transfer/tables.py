"""Reading tables from spreadsheets and CSV: file kind by content, hostile-file checks, header row."""

from __future__ import annotations

import bisect
import codecs
import csv
import html
import io
import itertools
import operator
import re
import zipfile
import zlib
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import chain
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import python_calamine
from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _, format_count
from smbcrm.transfer.xls_extent import (
    XLS_MAX_DECLARED_CELLS,
    XLS_MAX_FORMULA_COST,
    XLS_MAX_FORMULA_TEXT,
    XlsDamaged,
    XlsEncrypted,
    xls_sheet_extents,
)
from smbcrm.transfer.xlsx_slices import (
    NotSliceable,
    RowsOutOfOrder,
    SlicedSheet,
    is_calamine_panic,
    worth_slicing,
)
from smbcrm.transfer.xlsx_stream import SheetDamaged, SheetHostile, SheetTooLong, XlsxSheetReader

CellValue = str | int | float | date | datetime | bool | None

# Excel's own grid limit: a sheet with more rows was not written by a spreadsheet program.
MAX_SHEET_ROWS = 1_048_576
MAX_SHEET_COLUMNS = 16_384
# No shop has more; the limit keeps a runaway file from running for ever.
MAX_ROWS = 2_000_000
# calamine holds a sheet as a dense grid of 32-byte cells: bound it before calamine allocates.
MAX_SHEET_CELLS = 25_000_000
# Sheets with more cells than this (as _check_sheet_extent bounds them) are streamed by
# xlsx_stream instead of laid out by calamine: calamine's grid costs about 96 bytes a cell, so
# 2,000,000 cells stay under 200 MB, while a 100,000-row sheet of ten columns keeps calamine's speed.
STREAM_SHEET_CELLS = 2_000_000
# calamine copies a shared string into every cell that shows it: a 7 KB file whose 300 cells all
# point at one 1 MB string took 364 MB, and 30,000 such cells would take 36 GB. A sheet whose
# cells times its longest shared string pass this is streamed instead (xlsx_stream decodes each
# string once and shares it). A 100,000-row sheet of ten columns keeps calamine up to 256-byte
# strings; longer notes make it streamed, four times slower but safe.
MAX_SHARED_TEXT_BYTES = 256 << 20
# calamine holds every shared string of an .xlsx as its own string, about 48 bytes each before
# its text: past this many the sheet is streamed (xlsx_stream keeps them in one compact blob).
# A gigabyte of "<si/>" (5 MB zipped, within the zip checks) would have asked for 5 GB.
CALAMINE_SHARED_STRINGS = 2_000_000
# More different texts than any shop's file holds (a million rows of ten unique texts is ten
# million): refused rather than read, even streamed (4 bytes of index each).
MAX_SHARED_STRINGS = 20_000_000
MAX_UNCOMPRESSED_BYTES = 1024**3
MAX_COMPRESSION_RATIO = 200
BIG_MEMBER_BYTES = 10 * 1024**2
MAX_ZIP_MEMBERS = 10_000
HEADER_SEARCH_ROWS = 30
DELIMITERS = (",", ";", "\t", "|")

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_WORKBOOK_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


@dataclass(frozen=True)
class TableInfo:
    kind: str  # "xlsx" | "xls" | "xlsb" | "ods" | "csv"
    sheets: tuple[str, ...]  # () for csv
    sheet: str | None  # the sheet read
    encoding: str | None  # csv only
    delimiter: str | None  # csv only
    header_row: int  # 1-based row number in the file
    headers: tuple[str, ...]  # cleaned header texts ('' for empty header cells)
    # True when an xlsx workbook uses the 1904 date system. calamine already turns date cells
    # into the right dates; this matters only for serial numbers in cells not formatted as dates.
    # Read from xlsx only; always False for xls, xlsb and ods (calamine does not report it).
    epoch_1904: bool = False


def normalise_cell(value: object) -> CellValue:
    """The one place where reader types become CellValues: integral floats become int,
    midnight datetimes become dates, empty or blank text becomes None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date()
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return value
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def clean_header(value: CellValue) -> str:
    """A header cell as one line of text ('' when empty); numbers without a trailing '.0'."""
    value = normalise_cell(value)
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime | date) else str(value)
    return " ".join(text.split())


class RowBlock(NamedTuple):
    """Consecutive data rows of a table by column: columns[c][i] is the cell in column c of row
    numbers[i] (1-based, as a spreadsheet program numbers them), every column as long as
    numbers. Readers hand rows on a block at a time: a generator step per row in each layer
    between calamine and the customer check, and rows turned into columns and back, took
    0.45 s of a 100,000-row sheet, blocks 0.09 s."""

    numbers: list[int]
    columns: list[list[CellValue]]


def rows_of(blocks: Iterable[RowBlock]) -> Iterator[tuple[int, list[CellValue]]]:
    """(row number, cells) of every row of the blocks."""
    for numbers, columns in blocks:
        if columns:
            yield from zip(numbers, map(list, zip(*columns, strict=True)), strict=True)
        else:
            yield from ((number, []) for number in numbers)


def _cut_block(block: RowBlock, start: int, stop: int | None = None) -> RowBlock:
    return RowBlock(block.numbers[start:stop], [column[start:stop] for column in block.columns])


class Table:
    """An open table: its info and a stream of its data rows. Use it as a context manager."""

    def __init__(
        self,
        info: TableInfo,
        data_blocks: Iterator[RowBlock],
        closer=None,
        max_rows: int = MAX_ROWS,
    ) -> None:
        self.info = info
        self._data_blocks = data_blocks
        self._closer = closer
        self._max_rows = max_rows
        self._consumed = False

    def blocks(self) -> Iterator[RowBlock]:
        """The data rows after the header row, a block at a time, wholly empty rows skipped;
        every block has one column per header (cells past them dropped, missing ones None).
        The rows can be read once, as blocks or as rows."""
        if self._consumed:
            raise RuntimeError("Table.rows() can be read only once")
        self._consumed = True
        width = len(self.info.headers)
        count = 0
        for block in self._data_blocks:
            numbers, columns = block
            if len(columns) > width:
                columns = columns[:width]
            elif len(columns) < width:
                columns = columns + [[None] * len(numbers) for _ in range(width - len(columns))]
            count += len(numbers)
            if count > self._max_rows:
                keep = len(numbers) - (count - self._max_rows)
                if keep > 0:
                    yield _cut_block(RowBlock(numbers, columns), 0, keep)
                raise UserError(
                    _(
                        "The table has more than {limit} rows, more than smbcrm can import "
                        "at once. Split the file into smaller files and import them one by one."
                    ).format(limit=format_count(self._max_rows))
                )
            yield RowBlock(numbers, columns)

    def rows(self) -> Iterator[tuple[int, list[CellValue]]]:
        """(1-based row number in the file, cells) for every data row after the header row,
        skipping wholly empty rows; cells padded/truncated to len(headers). Read once."""
        return rows_of(self.blocks())

    def close(self) -> None:
        if self._closer is not None:
            closer, self._closer = self._closer, None
            closer()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_table(
    path: Path,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    max_rows: int = MAX_ROWS,
) -> Table:
    """Open a spreadsheet or CSV file, find its header row, and return it ready to stream.
    Raises UserError for files that are not tables, are protected, damaged or hostile."""
    path = Path(path)
    kind = detect_kind(path)
    if kind == "csv":
        return _open_csv(path, encoding=encoding, delimiter=delimiter, max_rows=max_rows)
    return _open_workbook(path, kind, sheet=sheet, max_rows=max_rows)


# ---------------------------------------------------------------- file kind


def detect_kind(path: Path) -> str:
    """ "xlsx", "xlsb", "ods", "xls" or "csv" from the file's content; UserError otherwise."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(8192)
    except FileNotFoundError:
        raise UserError(_("The file {name} was not found.").format(name=path.name)) from None
    except OSError as error:
        raise UserError(
            _(
                "The file {name} cannot be read ({reason}). Check that it is not open elsewhere."
            ).format(name=path.name, reason=error.strerror or error)
        ) from None
    if not head:
        raise UserError(_("The file {name} is empty.").format(name=path.name))
    extension = path.suffix.lower()
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(path)
    if head.startswith(_OLE_MAGIC):
        return _ole_kind(path)
    text_like = _looks_like_text(head)
    if text_like and head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(
        (b"<!doctype html", b"<html", b"<?xml", b"<table", b"<meta")
    ):
        raise UserError(
            _(
                "The file {name} is a web page (HTML or XML), not a spreadsheet, even though its "
                "name says otherwise. Open it in Excel or LibreOffice and save it as .xlsx or "
                ".csv, then import that file."
            ).format(name=path.name)
        )
    if text_like:
        if extension in _WORKBOOK_EXTENSIONS:
            raise UserError(
                _(
                    "The file {name} is named like a workbook ({extension}) but is really a text "
                    "(CSV) file. Rename it to end in .csv and import it again."
                ).format(name=path.name, extension=extension)
            )
        return "csv"
    raise UserError(
        _(
            "The file {name} is not a spreadsheet or CSV file smbcrm can read. Save it from "
            "your spreadsheet program as .xlsx or .csv and import that file."
        ).format(name=path.name)
    )


def _looks_like_text(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if _utf16_without_bom(head):
        return True
    if b"\x00" in head:
        return False
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13, 12))
    return controls <= len(head) // 100


def _utf16_without_bom(head: bytes) -> str | None:
    sample = head[:4096]
    if len(sample) < 4:
        return None
    even_zeros = sample[0::2].count(0)
    odd_zeros = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_zeros > half * 0.4 and even_zeros < half * 0.05:
        return "utf-16-le"
    if even_zeros > half * 0.4 and odd_zeros < half * 0.05:
        return "utf-16-be"
    return None


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "xl/workbook.bin" in names:
                return "xlsb"
            if "content.xml" in names and (
                "mimetype" not in names or archive.read("mimetype")[:100].strip() == _ODS_MIMETYPE
            ):
                return "ods"
    except (zipfile.BadZipFile, OSError, EOFError):
        raise UserError(
            _(
                "The file {name} is damaged: it looks like a workbook but cannot be opened. "
                "Open it in your spreadsheet program, save it again and import the new file."
            ).format(name=path.name)
        ) from None
    raise UserError(
        _(
            "The file {name} is a compressed archive but not a spreadsheet (.xlsx, .xlsb or "
            ".ods). Extract the spreadsheet from it and import that."
        ).format(name=path.name)
    )


def _ole_kind(path: Path) -> str:
    # An OLE container holds old .xls workbooks and also every password-protected Office file,
    # whose real workbook is an "EncryptedPackage" stream inside it.
    marker = "EncryptedPackage".encode("utf-16-le")
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            if marker in block:
                raise _password_error(path)
            if stream.tell() > 64 << 20:
                break
    return "xls"


# calamine builds the grid of every sheet of an .xls, .xlsb or .ods it opens and keeps them
# all (none of them is streamed): about 36 bytes a cell (eight sheets of 2,000,000 took 570 MB).
# A whole .xls sheet of 65,536 rows fits up to 61 columns (about 260 MB while it is read).
CALAMINE_WORKBOOK_CELLS = 4_000_000


def _check_xls_extent(path: Path) -> None:
    """Bound what calamine builds for an .xls at open: every sheet's grid, of cells and of
    formula texts, the room its DIMENSIONS records reserve, and the work of its formulas."""
    try:
        sheets = xls_sheet_extents(path)
    except XlsEncrypted:
        raise _password_error(path) from None
    except XlsDamaged:
        raise _damaged_error(path) from None
    total = text = cost = 0
    for sheet in sheets:
        if sheet.declared > XLS_MAX_DECLARED_CELLS:
            raise _damaged_error(path)  # more than any .xls holds: room calamine cannot get
        if sheet.rows * sheet.columns > CALAMINE_WORKBOOK_CELLS:
            raise _save_as_xlsx_error(path, sheet.name, sheet.rows, sheet.columns)
        total += sheet.rows * sheet.columns + sheet.formulas
        text, cost = text + sheet.formula_text, cost + sheet.formula_cost
    if total > CALAMINE_WORKBOOK_CELLS:
        raise _workbook_too_large_error(path, total)
    if text > XLS_MAX_FORMULA_TEXT or cost > XLS_MAX_FORMULA_COST:
        raise UserError(
            _(
                "The formulas of {name} are too long to read safely from an old .xls file. "
                "Save it as an Excel workbook (.xlsx) and import that file."
            ).format(name=path.name)
        )


def _save_as_xlsx_error(path: Path, sheet: str, rows: int, columns: int) -> UserError:
    return UserError(
        _(
            "The sheet “{sheet}” of {name} spans {rows} rows by {columns} columns, too large to "
            "read safely from this kind of file. Save it as an Excel workbook (.xlsx) and "
            "import that file."
        ).format(
            sheet=sheet, name=path.name, rows=format_count(rows), columns=format_count(columns)
        )
    )


def _workbook_too_large_error(path: Path, cells: int) -> UserError:
    return UserError(
        _(
            "The sheets of {name} span {cells} cells in all, too many to read safely from this "
            "kind of file. Save it as an Excel workbook (.xlsx) and import that file."
        ).format(name=path.name, cells=format_count(cells))
    )


def _password_error(path: Path) -> UserError:
    return UserError(
        _(
            "The workbook {name} is protected with a password, so smbcrm cannot read it. Open it "
            "in Excel, remove the password (File > Info > Protect Workbook), save, and import it "
            "again."
        ).format(name=path.name)
    )


# ---------------------------------------------------------------- workbooks


def _open_workbook(path: Path, kind: str, *, sheet: str | None, max_rows: int) -> Table:
    epoch_1904 = False
    sheet_members: dict[str, str] = {}
    if kind in ("xlsx", "xlsb", "ods"):
        _check_zip(path)
    if kind == "ods":
        _check_ods_extent(path)
    if kind == "xlsb":
        _check_xlsb_extent(path)
    if kind == "xls":
        _check_xls_extent(path)
    if kind == "xlsx":
        sheet_members, epoch_1904 = _xlsx_workbook_parts(path)
    # An xlsx names its worksheets itself, so a big sheet is streamed without calamine ever
    # opening the workbook (calamine reads every shared string at open).
    names = _xlsx_worksheet_names(sheet_members)
    shared = _shared_strings_shape(path) if kind == "xlsx" else _SharedShape(0, 0)
    if shared.count > MAX_SHARED_STRINGS or (not names and shared.count > CALAMINE_SHARED_STRINGS):
        raise _too_many_texts_error(path, shared.count)
    workbook = _OpenOnce(path) if names else _OpenOnce(path, _open_calamine(path))
    try:
        if not names:
            names = tuple(
                meta.name
                for meta in workbook.get().sheets_metadata
                if meta.typ == python_calamine.SheetTypeEnum.WorkSheet
            ) or tuple(workbook.get().sheet_names)
        if sheet is not None and sheet not in names:
            raise UserError(
                _(
                    "The workbook {name} has no sheet called “{sheet}”. Its sheets are: {sheets}."
                ).format(name=path.name, sheet=sheet, sheets=", ".join(names))
            )
        candidates = [sheet] if sheet is not None else list(names)
        for candidate in candidates:
            sheet_rows = _SheetRows(path, kind, candidate, sheet_members.get(candidate),
                                    epoch_1904, workbook, shared)  # fmt: skip
            try:
                found = _find_header(sheet_rows.blocks())
            except BaseException:
                sheet_rows.close()
                raise
            if found is None:
                sheet_rows.close()
                continue  # an empty sheet: look at the next one unless one was asked for
            header_row, headers, buffered, rest = found
            info = TableInfo(
                kind=kind,
                sheets=names,
                sheet=candidate,
                encoding=None,
                delimiter=None,
                header_row=header_row,
                headers=headers,
                epoch_1904=epoch_1904,
            )
            return Table(info, chain(buffered, rest), sheet_rows.close, max_rows)
        raise UserError(
            _("The sheet “{sheet}” of {name} is empty. Pick a sheet that has the data.").format(
                sheet=sheet, name=path.name
            )
            if sheet is not None
            else _("The workbook {name} has no data in any sheet.").format(name=path.name)
        )
    except BaseException:
        workbook.close()
        raise


class _OpenOnce:
    """calamine's workbook, opened when a sheet is first read whole (and only then: opening
    reads every shared string), shared by the sheets tried and closed with the table."""

    def __init__(self, path: Path, workbook=None) -> None:
        self.path, self.workbook = path, workbook

    def get(self):
        if self.workbook is None:
            self.workbook = _open_calamine(self.path)
        return self.workbook

    def close(self) -> None:
        if self.workbook is not None:
            workbook, self.workbook = self.workbook, None
            workbook.close()


class _SheetRows:
    """One sheet's numbered rows: sliced when it is big and plain (xlsx_slices), otherwise,
    or from where slicing gave up, read whole by calamine after the extent check, or streamed
    when even that would hold too many cells."""

    def __init__(self, path: Path, kind: str, sheet: str, member: str | None,
                 epoch_1904: bool, workbook: _OpenOnce, shared: _SharedShape) -> None:  # fmt: skip
        self.path, self.kind, self.sheet, self.member = path, kind, sheet, member
        self.epoch_1904, self.workbook, self.shared = epoch_1904, workbook, shared
        self._readers: list = []
        self._columns = 0  # the last column the slices checked so far name

    def blocks(self) -> Iterator[RowBlock]:
        if (
            self.kind == "xlsx"
            and self.member is not None
            and worth_slicing(self.path, self.member)
        ):
            return self._sliced_then_whole()
        return self._whole()

    def _sliced_then_whole(self) -> Iterator[RowBlock]:
        sliced = SlicedSheet(self.path, self.member, self.sheet, self._check_slice)
        self._readers.append(sliced)
        try:
            for first_row, first_column, grid in sliced.grids():
                block = _normalised_block(grid, False, first_row)
                if first_column:
                    empty = [[None] * len(block.numbers) for _ in range(first_column)]
                    block = RowBlock(block.numbers, empty + block.columns)
                if block.numbers:
                    yield block
        except RowsOutOfOrder:
            raise _sheet_damaged_error(self.path, self.sheet) from None
        except NotSliceable as stop:
            sliced.close()
            for block in self._whole():
                if block.numbers[-1] > stop.after_row:
                    yield _cut_block(block, bisect.bisect_right(block.numbers, stop.after_row))

    def _check_slice(self, xml: bytes) -> bool:
        extent = _Extent(columns=self._columns)  # bound by the widest slice so far
        extent.measure(xml)
        self._columns = extent.columns
        if extent.unpositioned_rows or extent.widest_unpositioned_row:
            return False
        cells = _check_extent(extent, self.path, self.sheet)
        if cells > STREAM_SHEET_CELLS:
            cells = _grid_cells(xml)  # past row 99,999 the bound counts from row 1
        return cells <= STREAM_SHEET_CELLS and not self._too_much_text(cells)

    def _too_much_text(self, cells: int) -> bool:
        """Whether calamine would copy too much shared text into these cells, or hold too
        many shared strings: then the sheet is streamed."""
        return (
            cells * self.shared.longest > MAX_SHARED_TEXT_BYTES
            or self.shared.count > CALAMINE_SHARED_STRINGS
        )

    def _whole(self) -> Iterator[RowBlock]:
        cells = None
        if self.kind == "xlsx":
            if self.member is None:
                # Unresolvable sheet part: check every worksheet rather than trust calamine.
                for other in _worksheet_members(self.path):
                    bound = _check_sheet_extent(self.path, other, self.sheet) or 0
                    if self._too_much_text(bound):
                        raise _repeated_text_error(self.path, self.sheet)
            else:
                cells = _check_sheet_extent(self.path, self.member, self.sheet)
        if cells is not None and (cells > STREAM_SHEET_CELLS or self._too_much_text(cells)):
            reader = _open_stream(self.path, self.member, self.sheet, self.epoch_1904)
            self._readers.append(reader)
            return _blocks_of(_streamed_rows(reader, self.path, self.sheet))
        calamine_sheet = _load_sheet(self.workbook.get(), self.sheet, self.path)
        end = calamine_sheet.end
        if end is not None and end[0] + 1 > MAX_SHEET_ROWS:
            raise _too_many_rows_error(self.path, self.sheet)
        return _numbered_blocks(calamine_sheet.iter_rows())

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers.clear()
        self.workbook.close()


def _open_calamine(path: Path):
    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError:
        raise _password_error(path) from None
    except (python_calamine.CalamineError, OSError, ValueError) as error:
        raise _unreadable_workbook_error(path, error) from None
    except BaseException as error:
        if is_calamine_panic(error):
            raise _unreadable_workbook_error(path, error) from None
        raise


def _unreadable_workbook_error(path: Path, error: BaseException) -> UserError:
    return UserError(
        _(
            "The workbook {name} cannot be read ({reason}). Open it in your spreadsheet "
            "program, save it again as .xlsx and import the new file."
        ).format(name=path.name, reason=str(error)[:200])
    )


def _xlsx_worksheet_names(sheet_members: dict[str, str]) -> tuple[str, ...]:
    """The workbook's worksheets in order (chart and dialog sheets left out, as calamine
    does), or () when their parts cannot be resolved and calamine must say."""
    return tuple(
        name
        for name, member in sheet_members.items()
        if member.lower().split("/")[1:2] == ["worksheets"]  # any case, as other writers spell it
    )


def _sheet_damaged_error(path: Path, sheet: str) -> UserError:
    return UserError(
        _(
            "The sheet “{sheet}” of {name} is damaged and cannot be read. Open the workbook "
            "in your spreadsheet program, save it again and import the new file."
        ).format(sheet=sheet, name=path.name)
    )


def _xml_tricks_error(path: Path) -> UserError:
    return UserError(
        _(
            "The workbook {name} contains XML tricks (entity definitions) used to attack "
            "programs, so it was refused. Save the data again from the program that made it."
        ).format(name=path.name)
    )


@contextmanager
def _stream_errors(path: Path, sheet: str) -> Iterator[None]:
    """The streaming reader's refusals in plain words."""
    try:
        yield
    except SheetHostile:
        raise _xml_tricks_error(path) from None
    except SheetTooLong:
        raise _too_many_rows_error(path, sheet) from None
    except SheetDamaged:
        raise _sheet_damaged_error(path, sheet) from None


def _open_stream(path: Path, member: str, sheet: str, epoch_1904: bool) -> XlsxSheetReader:
    with _stream_errors(path, sheet):
        return XlsxSheetReader(path, member, epoch_1904=epoch_1904)


def _streamed_rows(
    reader: XlsxSheetReader, path: Path, sheet: str
) -> Iterator[tuple[int, list[CellValue]]]:
    with _stream_errors(path, sheet):
        yield from reader.rows()


def _load_sheet(workbook, name: str, path: Path):
    try:
        return workbook.get_sheet_by_name(name)
    except python_calamine.PasswordError:
        raise _password_error(path) from None
    except python_calamine.CalamineError as error:
        raise _unreadable_sheet_error(path, name, error) from None
    except BaseException as error:
        if is_calamine_panic(error):
            raise _unreadable_sheet_error(path, name, error) from None
        raise


def _unreadable_sheet_error(path: Path, sheet: str, error: BaseException) -> UserError:
    return UserError(
        _(
            "The sheet “{sheet}” of {name} cannot be read ({reason}). Open the workbook in "
            "your spreadsheet program, save it again and import the new file."
        ).format(sheet=sheet, name=path.name, reason=str(error)[:200])
    )


def _numbered_blocks(
    rows: Iterable, numbered: bool = False, normalised: bool = False
) -> Iterator[RowBlock]:
    """Rows a block at a time (_normalised_block). rows are lists of cells, or (number, cells)
    when numbered; python-calamine's iter_rows starts at the sheet's first row (A1), so row i
    is row i+1. normalised: the reader normalised the cells and left out empty rows already.
    The first blocks are small, so the first rows come at once; the rows a reader gave before
    it failed come before its error."""
    reading = iter(rows)
    size, count = _FIRST_BLOCK, 0
    while True:
        block: list = []
        try:
            block.extend(itertools.islice(reading, size))
        except Exception:
            # The reader stopped (NotSliceable, damage...): the rows it gave come first.
            if block and (found := _normalised_block(block, numbered, count, normalised)).numbers:
                yield found
            raise
        if not block:
            return
        if (found := _normalised_block(block, numbered, count, normalised)).numbers:
            yield found
        count += len(block)
        size = min(2 * size, _LAST_BLOCK)


def _blocks_of(rows: Iterable[tuple[int, list[CellValue]]]) -> Iterator[RowBlock]:
    """Numbered rows whose reader normalised them (CSV, the streaming reader), in blocks."""
    return _numbered_blocks(rows, numbered=True, normalised=True)


_FIRST_BLOCK, _LAST_BLOCK = 16, 512
_EMPTY_TEXT: dict[str, None] = {"": None}


def _normalised_block(
    block: list, numbered: bool, before: int, normalised: bool = False
) -> RowBlock:
    """A non-empty list of rows as a RowBlock as wide as its widest row, its cells normalised a
    column at a time and its wholly empty rows left out. A column of text only, no cell of it
    blank (most of a sheet), takes a few C-level passes instead of a Python step per cell
    (0.26 s for the million cells of a 100,000-row sheet)."""
    if numbered:
        numbers = [number for number, _cells in block]
        block = [cells for _number, cells in block]
    else:
        numbers = list(range(before + 1, before + len(block) + 1))
    width = max(map(len, block))
    if width == 0:
        return RowBlock([], [])
    if min(map(len, block)) < width:
        block = [cells + [None] * (width - len(cells)) for cells in block]
    # A column at a time: zip(*block) took twice as long on slices of thousands of rows.
    columns = [list(map(operator.itemgetter(at), block)) for at in range(width)]
    if normalised:
        return RowBlock(numbers, columns)
    for at, column in enumerate(columns):
        try:
            plain = not any(map(str.isspace, column))  # TypeError: a cell that is not text
        except TypeError:
            plain = False
        if not plain:
            columns[at] = _normalised_cells(column)
        elif "" in column:
            columns[at] = list(map(_EMPTY_TEXT.get, column, column))
    if any(None not in column for column in columns):
        return RowBlock(numbers, columns)  # no row is empty
    kept = [at for at, cells in enumerate(zip(*columns, strict=True)) if cells.count(None) != width]
    if len(kept) == len(numbers):
        return RowBlock(numbers, columns)
    return RowBlock(
        [numbers[at] for at in kept], [[column[at] for at in kept] for column in columns]
    )


def _normalised_cells(values) -> list[CellValue]:
    # normalise_cell inlined for the two commonest types: this runs once per cell.
    return [
        (value if value and not value.isspace() else None)
        if value.__class__ is str
        else (int(value) if value.is_integer() else value)
        if value.__class__ is float
        else normalise_cell(value)
        for value in values
    ]


class _SharedShape(NamedTuple):
    longest: int  # the longest entry, in bytes of XML: at least its text's bytes in UTF-8
    count: int  # how many entries (an upper bound)


def _shared_strings_shape(path: Path) -> _SharedShape:
    """The longest entry of the workbook's shared strings and their number, in one pass of
    plain byte splits and counts, no parsing (about 50 ms for 10 MB of shared strings).
    calamine finds the part whatever its case."""
    longest = count = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.lower() != "xl/sharedstrings.xml":
                    continue
                with archive.open(info) as stream:
                    current, tail = 0, b""  # the entry still open; a "<si" cut by the block
                    while block := stream.read(1 << 20):
                        data = tail + block
                        pieces = data.split(b"<si")
                        count += len(pieces) - 1 + data.count(b":si")  # "<x:si": prefixed
                        current += len(pieces[0])
                        if len(pieces) > 1:
                            longest = max(longest, current, max(map(len, pieces[1:-1]), default=0))
                            current = len(pieces[-1])
                        tail = block[-2:]
                    longest = max(longest, current)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error):
        # Unreadable here: stream the sheet, whose reader says in plain words what is wrong.
        return _SharedShape(MAX_SHARED_TEXT_BYTES + 1, 0)
    return _SharedShape(longest, count)


def _too_many_texts_error(path: Path, count: int) -> UserError:
    return UserError(
        _(
            "The workbook {name} holds {count} different texts, far more than a shop's data "
            "has, so it was refused for safety. Save the data again from the program that "
            "made it."
        ).format(name=path.name, count=format_count(count))
    )


def _repeated_text_error(path: Path, sheet: str) -> UserError:
    return UserError(
        _(
            "The sheet “{sheet}” of {name} repeats very long texts in so many cells that "
            "reading it could use up the computer's memory, so it was refused. Save the data "
            "again from the program that made it."
        ).format(sheet=sheet, name=path.name)
    )


def _too_many_rows_error(path: Path, sheet: str) -> UserError:
    return UserError(
        _(
            "The sheet “{sheet}” of {name} has more rows than a spreadsheet can hold "
            "({limit}), so the file was not written by a spreadsheet program or is damaged. "
            "Save the data again from the program that made it."
        ).format(sheet=sheet, name=path.name, limit=format_count(MAX_SHEET_ROWS))
    )


_SPREADSHEET_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def _check_zip(path: Path) -> None:
    """Refuse zip bombs from the declared sizes, before anything decompresses a byte, and
    parts no spreadsheet program writes."""
    damaged = UserError(
        _(
            "The file {name} is damaged and cannot be opened. Open it in your spreadsheet "
            "program, save it again and import the new file."
        ).format(name=path.name)
    )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError):
        raise damaged from None
    for member in members:
        # Spreadsheets store their parts plain or deflated, never zip-encrypted (a workbook with
        # a password is not a zip at all). Anything else would fail deep in a reader, with
        # errors (RuntimeError, NotImplementedError, LZMAError) no reader expects.
        if member.flag_bits & 0x1 or member.compress_type not in _SPREADSHEET_COMPRESSION:
            raise damaged
    bomb = UserError(
        _(
            "The file {name} expands to far more data than a real spreadsheet, so it was "
            "refused for safety (it may be a “zip bomb”). If you trust it, open it in your "
            "spreadsheet program, save it again and import the new file."
        ).format(name=path.name)
    )
    if len(members) > MAX_ZIP_MEMBERS:
        raise bomb
    total = 0
    for member in members:
        total += member.file_size
        if total > MAX_UNCOMPRESSED_BYTES:
            raise bomb
        if member.file_size > BIG_MEMBER_BYTES and member.file_size > MAX_COMPRESSION_RATIO * max(
            member.compress_size, 1
        ):
            raise bomb


def _read_small_member(archive: zipfile.ZipFile, name: str, limit: int = 16 << 20) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise ValueError("part too large")
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError("part too large")
    return data


def _xlsx_workbook_parts(path: Path) -> tuple[dict[str, str], bool]:
    """Sheet name -> zip member of its XML, and whether the workbook counts dates from 1904.
    Parsed with defusedxml: entity tricks are refused, never expanded."""
    try:
        with zipfile.ZipFile(path) as archive:
            workbook = SafeElementTree.fromstring(_read_small_member(archive, "xl/workbook.xml"))
            try:
                rels = SafeElementTree.fromstring(
                    _read_small_member(archive, "xl/_rels/workbook.xml.rels")
                )
            except KeyError:
                rels = None
    except DefusedXmlException:
        raise _xml_tricks_error(path) from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, SafeElementTree.ParseError):
        raise UserError(
            _(
                "The workbook {name} is damaged and cannot be read. Open it in your spreadsheet "
                "program, save it again and import the new file."
            ).format(name=path.name)
        ) from None
    properties = workbook.find(f"{_NS_MAIN}workbookPr")
    epoch_1904 = properties is not None and properties.get("date1904", "").lower() in (
        "1",
        "true",
    )
    targets = _relationship_targets(rels) if rels is not None else {}
    members: dict[str, str] = {}
    sheets = workbook.find(f"{_NS_MAIN}sheets")
    for element in sheets if sheets is not None else ():
        member = targets.get(element.get(f"{_NS_REL}id", ""))
        if member:
            members[element.get("name", "")] = member
    return members, epoch_1904


def _relationship_targets(rels) -> dict[str, str]:
    """Relationship id -> the zip member it points to, from a workbook's relationships part."""
    targets: dict[str, str] = {}
    for relationship in rels.iter(f"{_NS_PKG_REL}Relationship"):
        target = relationship.get("Target", "")
        member = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        # Resolve "xl/../x" without touching the file system.
        parts: list[str] = []
        for part in member.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        targets[relationship.get("Id", "")] = "/".join(parts)
    return targets


def _worksheet_members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return [
            name
            for name in archive.namelist()
            if name.startswith("xl/worksheets/") and name.endswith(".xml")
        ]


# Any r="..." attribute (rows r="12", cells r="AB12"). Matching "r=" without the space before it
# also catches other attributes ending in r: harmless, the bound only grows.
_REFERENCE = re.compile(rb'r="([A-Za-z]{0,4})([0-9]{1,12})"')
_LONG_ROW_REFERENCE = re.compile(rb'r="[A-Za-z]{0,4}([0-9]{6,12})"')
_FIVE_DIGIT_ROW_REFERENCE = re.compile(rb'r="[A-Za-z]{0,4}([0-9]{5,12})"')
_WIDE_COLUMN_REFERENCE = re.compile(rb'r="([A-Za-z]{2,4})[0-9]')
# A cell or row tag whose first attribute is not its position (or that has no attributes).
_UNPOSITIONED_TAG = re.compile(rb'<(?:c|row)(?:[>/]|\s+(?!r="))')
_CELL_TAG = re.compile(rb"<(?:[\w.-]+:)?c[\s/>]")
_CELL_WITH_REFERENCE = re.compile(rb'<(?:[\w.-]+:)?c\s[^>]*?\br="')
_ROW_TAG = re.compile(rb"<(?:[\w.-]+:)?row[\s/>]")
_ROW_WITH_REFERENCE = re.compile(rb'<(?:[\w.-]+:)?row\s[^>]*?\br="')


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + (letter - 64)
    return number


# A single-letter reference past column n (A=1): one regular-expression scan of a block says
# whether a later column appears (substring searches for each letter took 1.5 s a sheet).
_LATER_SINGLE_LETTER = [
    re.compile(b'r="[' + bytes([65 + n]) + b"-Z" + bytes([97 + n]) + b"-z][0-9]") for n in range(26)
]


# A reference past column n (A=1, up to Z=26): of two letters or more, of one letter after the
# nth, or of a row of six digits or more.
_REFERENCE_BEYOND = [
    re.compile(
        rb'r="(?:[A-Za-z]{2}|[A-Za-z]?[0-9]{6}'
        + (b"|[" + bytes([65 + n]) + b"-Z" + bytes([97 + n]) + b"-z]" if n < 26 else b"")
        + b")"
    )
    for n in range(27)
]


def _last_single_letter_column(data: bytes, known: int) -> int:
    while known < 26:
        found = _LATER_SINGLE_LETTER[known].search(data)
        if found is None:
            break
        known = data[found.start() + 3] % 32  # the letter's place in the alphabet, either case
    return known


@dataclass
class _Extent:
    rows: int = 0  # upper bound of the last row number
    columns: int = 0  # upper bound of the last column number
    unpositioned_rows: int = 0
    widest_unpositioned_row: int = 0
    # Cell tags (an upper bound): calamine keeps each cell it reads before laying them out, so
    # cells written over each other cost memory the grid does not show (16,000,000 at one
    # position, 450 MB of XML within the zip limits, took 650 MB and 10 s; streamed, 43 s).
    tags: int = 0

    def measure(self, data: bytes) -> None:
        # A colon is looked for first: one byte is found many times faster than two, and most
        # sheets have none outside their first lines.
        prefixed = b":" in data and (b":c" in data or b":row" in data)
        if prefixed or _UNPOSITIONED_TAG.search(data):
            self._measure_exactly(data)
            return
        # The common case (every cell and row starts with its position), in a few fast passes.
        # Here every cell tag is "<c" and a space before its position (a tag with no
        # attributes takes the exact path): <col>, <cfRule>, <color>... are not counted. The
        # other spaces are looked for only in blocks that have them at all (a byte is found
        # many times faster than a pair: 0.12 s of 0.43 s a 100,000-row sheet).
        self.tags += data.count(b"<c ") + sum(
            data.count(b"<c" + space) for space in (b"\t", b"\n", b"\r") if space in data
        )
        if 0 < self.columns <= 26 and _REFERENCE_BEYOND[self.columns].search(data) is None:
            # No reference past the known last column, nor past row 99,999: what the passes
            # below would find, in one of them (the check of a 100,000-row sheet's slices
            # took 0.26-0.37 s so, 0.36-0.45 s before).
            self.rows = max(self.rows, 99_999)
            return
        wide = set(_WIDE_COLUMN_REFERENCE.findall(data))
        if wide:
            self.columns = max(self.columns, *(_column_number(letters) for letters in wide))
        else:
            # Columns A to Z only: the last letter present, found by plain substring searches (a
            # bound of 26 would refuse a real 1,000,000-row sheet of ten columns).
            self.columns = _last_single_letter_column(data, max(self.columns, 1))
        long_rows = _LONG_ROW_REFERENCE.findall(data)
        if long_rows:
            self.rows = max(self.rows, max(int(digits) for digits in long_rows))
        elif wide:
            rows = _FIVE_DIGIT_ROW_REFERENCE.findall(data)
            self.rows = max(self.rows, max((int(digits) for digits in rows), default=9_999))
        else:
            self.rows = max(self.rows, 99_999)

    def _measure_exactly(self, data: bytes) -> None:
        references = _REFERENCE.findall(data)
        if references:
            self.rows = max(self.rows, max(int(digits) for _letters, digits in references))
            letters = {letters for letters, _digits in references if letters}
            self.columns = max(self.columns, *(_column_number(item) for item in letters), 1)
        self.unpositioned_rows += len(_ROW_TAG.findall(data)) - len(
            _ROW_WITH_REFERENCE.findall(data)
        )
        tags = len(_CELL_TAG.findall(data))
        self.tags += tags
        if tags != len(_CELL_WITH_REFERENCE.findall(data)):
            # Cells without a position follow the previous one: bound the row's width.
            for segment in data.split(b"row"):
                self.widest_unpositioned_row = max(
                    self.widest_unpositioned_row, len(_CELL_TAG.findall(segment))
                )

    @property
    def height(self) -> int:
        return self.rows + self.unpositioned_rows

    @property
    def width(self) -> int:
        return self.columns + self.widest_unpositioned_row


def _check_sheet_extent(path: Path, member: str, sheet: str) -> int | None:
    """Bound a sheet's extent from its XML before calamine lays it out as a dense grid (two
    far-apart cells would make it allocate hundreds of gigabytes and abort the process).
    The <dimension> element is ignored: it can lie. Returns the bound of its cells (rows by
    columns), or None when the part is missing."""
    extent = _Extent()
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
            carry = b""
            while True:
                block = stream.read(4 << 20)
                data = carry + block
                if block:
                    cut = data.rfind(b"<")
                    if cut <= 0:
                        if len(data) > _LONGEST_TEXT_RUN:
                            raise _sheet_damaged_error(path, sheet)
                        carry = data
                        continue
                    data, carry = data[:cut], data[cut:]
                else:
                    carry = b""
                if data:
                    extent.measure(data)
                if not block:
                    break
    except KeyError:
        return None  # calamine will report the missing part itself
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error):
        raise _sheet_damaged_error(path, sheet) from None
    return _check_extent(extent, path, sheet)


def _grid_cells(xml: bytes) -> int:
    """The cells of the grid calamine lays out for these rows: from the first to the last row
    and column that any position in them names (one pass over every position)."""
    references = _REFERENCE.findall(xml)
    if not references:
        return 0
    rows = [int(digits) for _letters, digits in references]
    columns = [_column_number(letters) for letters in {letters for letters, _ in references}
               if letters]  # fmt: skip
    width = max(columns) - min(columns) + 1 if columns else 1
    return (max(rows) - min(rows) + 1) * width


# Cell tags a sheet may have beyond its grid's places before it counts as cells written over
# each other (each costs calamine a few dozen bytes): far more than a writer's slip makes.
_OTHER_C_TAGS = 100_000
# Text between two tags of a sheet: a cell holds at most 32,767 characters. 900 MB of text in
# one cell (5 MB zipped) kept the scan copying a growing buffer: 69 s and 2.75 GB.
_LONGEST_TEXT_RUN = 8 << 20


def _check_extent(extent: _Extent, path: Path, sheet: str) -> int:
    """Refuse a sheet (or a slice of one) too big for calamine's grid, or with more cells than
    its grid has places (cells written over each other); the bound of its cells."""
    if extent.rows > MAX_SHEET_ROWS:
        raise _too_many_rows_error(path, sheet)
    height = extent.height
    cells = height * max(extent.width, 1)
    if cells > MAX_SHEET_CELLS:
        raise _too_large_error(path, sheet, height, extent.width)
    if extent.tags > cells + _OTHER_C_TAGS:
        raise _sheet_damaged_error(path, sheet)
    return cells


def _too_large_error(path: Path, sheet: str, rows: int, columns: int) -> UserError:
    return UserError(
        _(
            "The sheet “{sheet}” of {name} spans {rows} rows by {columns} columns, too "
            "large to read safely. Delete the empty rows and columns far from the data (or "
            "copy the data to a new workbook), save and import again."
        ).format(
            sheet=sheet, name=path.name, rows=format_count(rows), columns=format_count(columns)
        )
    )


def _damaged_error(path: Path) -> UserError:
    return UserError(
        _(
            "The file {name} is damaged and cannot be opened. Open it in your spreadsheet "
            "program, save it again and import the new file."
        ).format(name=path.name)
    )


# ---------------------------------------------------------------- .ods extent
#
# calamine reads every table of an .ods at open and lays each one out as a dense grid, repeats
# ("number-rows-repeated", "number-columns-repeated") written out. python-calamine 0.9 caps a
# grid at 100 million cells, but that is over 3 GB: a one-row file repeating a cell 16,000 times
# across 6,000 rows aborts the process where memory is short (measured: killed at 2 GB). This
# scan counts as calamine does (runs of empty rows and cells after the data cost nothing) and
# refuses a table over MAX_SHEET_CELLS before calamine reads a byte.

_ATTRIBUTES = rb"""((?:[^<>"']|"[^"]*"|'[^']*')*)"""
_ODS_TOKEN = re.compile(
    # Self-closing tables and rows are skipped by calamine too: (?<!/) keeps them out.
    rb"<table:table(?=[\s>])" + _ATTRIBUTES + rb"(?<!/)>"
    # A row's content stops at the next row tag, so a file of unclosed rows costs linear time.
    rb"|<table:table-row(?=[\s>])" + _ATTRIBUTES + rb"(?<!/)>"
    rb"([^<]*(?:<(?!/?table:table-row[\s>/])[^<]*)*)</table:table-row>"
)
_ODS_CELL = re.compile(rb"<table:(?:covered-)?table-cell(?=[\s>/])" + _ATTRIBUTES + rb">")
_ODS_ROWS_REPEATED = re.compile(rb"""table:number-rows-repeated\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ODS_COLUMNS_REPEATED = re.compile(
    rb"""table:number-columns-repeated\s*=\s*(?:"([^"]*)"|'([^']*)')"""
)
_ODS_TOKEN_START = re.compile(rb"<table:table(?:-row)?[\s>/]")
_ODS_NAME = re.compile(rb"""table:name\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# A cell calamine may count as holding something: any value, value type or formula.
_ODS_VALUE_MARKS = (b"office:value", b"-value=", b"-value =", b"table:formula")
_LONGEST_ODS_ROW = 64 << 20


def _repeats(pattern: re.Pattern, attributes: bytes, unescape: bool) -> int:
    found = pattern.search(attributes)
    if found is None:
        return 1
    text = (found.group(1) if found.group(1) is not None else found.group(2)).decode("latin-1")
    if unescape:
        text = html.unescape(text)
    text = text[1:] if text.startswith("+") else text
    return int(text) if text.isascii() and text.isdigit() else 1  # else calamine refuses it


@dataclass
class _OdsTable:
    name: str
    rows: int = 0  # from the first row with content to the last, repeats included
    columns: int = 0
    empty_rows_pending: int = 0

    def add_row(self, attributes: bytes, content: bytes) -> None:
        repeats = _repeats(_ODS_ROWS_REPEATED, attributes, unescape=True)
        width = _ods_row_width(content)
        if width == 0:
            if self.rows:
                self.empty_rows_pending += repeats
            return
        self.rows += self.empty_rows_pending + repeats
        self.empty_rows_pending = 0
        self.columns = max(self.columns, width)


def _ods_row_width(content: bytes) -> int:
    """Cells calamine keeps for a row: up to its last cell with something in it, repeats
    included (0: an empty row). Runs of empty cells after the last value cost nothing, as
    LibreOffice writes on every row, so only the part up to that cell is counted."""
    last_mark = max(content.rfind(mark) for mark in _ODS_VALUE_MARKS)
    if last_mark < 0:
        return 0
    tag_start = content.rfind(b"<table:", 0, last_mark)
    last_cell = _ODS_CELL.match(content, tag_start) if tag_start >= 0 else None
    if last_cell is None or b"-repeated" not in content:
        if last_cell is None and b"-repeated" in content:  # odd markup: count cell by cell
            return _ods_row_width_exactly(content)
        return content.count(b"<table:table-cell") + content.count(b"<table:covered-table")
    head = content[: last_cell.end()]
    width = head.count(b"<table:table-cell") + head.count(b"<table:covered-table")
    for cell in _ODS_CELL.finditer(head) if b"-repeated" in head else ():
        width += _repeats(_ODS_COLUMNS_REPEATED, cell.group(1), unescape=False) - 1
    return width


def _ods_row_width_exactly(content: bytes) -> int:
    width = position = 0
    for cell in _ODS_CELL.finditer(content):
        position += _repeats(_ODS_COLUMNS_REPEATED, cell.group(1), unescape=False)
        if any(mark in cell.group(1) for mark in _ODS_VALUE_MARKS):
            width = position
    return width


def _check_ods_extent(path: Path) -> None:
    """calamine builds every table of an .ods at open and keeps them all: bound each, and
    all of them together (eight 800-byte tables of 5,000 x 5,000 repeated cells aborted it)."""
    done = 0  # the cells of the tables already measured

    def check(table: _OdsTable | None, finished: bool = False) -> None:
        nonlocal done
        if table is None:
            return
        if table.rows > MAX_SHEET_ROWS:
            raise _too_many_rows_error(path, table.name)
        cells = table.rows * table.columns
        if cells > MAX_SHEET_CELLS:
            raise _too_large_error(path, table.name, table.rows, table.columns)
        if cells > CALAMINE_WORKBOOK_CELLS:  # an .ods is not streamed
            raise _save_as_xlsx_error(path, table.name, table.rows, table.columns)
        if done + cells > CALAMINE_WORKBOOK_CELLS:
            raise _workbook_too_large_error(path, done + cells)
        if finished:
            done += cells

    table = None
    try:
        with zipfile.ZipFile(path) as archive, archive.open("content.xml") as stream:
            pending = b""
            while True:
                block = stream.read(4 << 20)
                data = pending + block
                end = 0
                for token in _ODS_TOKEN.finditer(data):
                    end = token.end()
                    if token.group(2) is None:
                        check(table, finished=True)
                        name = _ODS_NAME.search(token.group(1))
                        raw = (name.group(1) or name.group(2) or b"") if name else b""
                        table = _OdsTable(html.unescape(raw.decode("utf-8", "replace")))
                    elif table is not None:
                        table.add_row(token.group(2), token.group(3))
                        if table.rows > MAX_SHEET_ROWS or table.columns > MAX_SHEET_COLUMNS:
                            check(table)
                if not block:
                    break
                pending = data[end:]
                # Keep from the first unfinished table or row on (or a tag cut in two).
                start = _ODS_TOKEN_START.search(pending)
                pending = pending[start.start() :] if start else pending[-64:]
                if len(pending) > _LONGEST_ODS_ROW:
                    raise _damaged_error(path)
                check(table)
    except KeyError:
        return  # calamine will report the missing part itself
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error):
        raise _damaged_error(path) from None
    check(table, finished=True)


# ---------------------------------------------------------------- .xlsb extent
#
# calamine trusts an .xlsb's declared dimension (BrtWsDim) only to reserve room for fewer than
# 100,000 cells, so a lying one costs nothing. It keeps the cells that hold something and then
# lays them out densely between the first and the last: two cells far apart make the same grid
# blow-up as in an xlsx. This scan reads the sheet's records (type and length as 7-bit groups)
# and bounds that grid from the rows (BrtRowHdr) and the columns of the cells with a value.

_XLSB_ROW_HEADER = 0x0000
# BrtCellRk .. BrtFmlaError and BrtCellRString; BrtCellBlank (1) is a formatted empty cell,
# skipped by calamine, so not counted.
_XLSB_VALUE_CELLS = frozenset((*range(0x0002, 0x000C), 0x003E))


_XLSB_CELL_ISST = 0x0007  # a cell showing a shared string: column, style, then its index
_XLSB_SST_ITEM = 0x0013  # one shared string: flags, then its length in UTF-16 units


class _XlsbOdd(ValueError):
    """An .xlsb record calamine would read otherwise than this scan: too short (calamine
    fills the rest from the record before: a 2-byte row header made it ask for 512 GB) or a
    shared string where calamine does not count one; or a part padded with records nobody
    reads, or with more cells than a sheet holds. No spreadsheet program writes these, so the
    file is refused as damaged rather than measured wrongly, or for minutes."""


_XLSB_BEGIN_SST, _XLSB_END_SST = 0x009F, 0x00A0
_XLSB_FRT_BEGIN, _XLSB_FRT_END = 0x0023, 0x0024  # a "future record" block, skipped by calamine
# Records of other kinds that a part may hold. This scan passes each in Python (0.3 µs), where
# calamine passes it in compiled code: the zip limits let 1 GB of two-byte records through,
# 500 million, minutes here. A real part holds few besides its rows and cells, so past a million
# more than this many per row, cell or formatted empty cell, it is refused.
_XLSB_SKIPPED_FREE = 1_000_000
_XLSB_SKIPPED_PER_KEPT = 4
_XLSB_CELL_BLANK = 0x0001  # a formatted empty cell: templates have millions
# Rows, cells and formatted empty cells of a sheet within MAX_SHEET_CELLS; more are refused
# (nine seconds of scanning at most).
_XLSB_MAX_RECORDS = MAX_SHEET_CELLS + MAX_SHEET_ROWS + _XLSB_SKIPPED_FREE


def _xlsb_records(stream, kinds: frozenset[int], prefix: int) -> Iterator[tuple[int, int, bytes]]:
    """(kind, payload length, the first bytes of the payload, up to prefix) for each record of
    these kinds in one part of an .xlsb, read in blocks; long records are skipped unread.
    Raises _XlsbOdd when the part is padded with records of other kinds."""
    data, position = b"", 0
    kept = passed = 0  # records yielded, records of other kinds
    while True:
        if len(data) - position < 1 << 16:
            data = data[position:] + stream.read(4 << 20)
            position = 0
        if position >= len(data):
            return
        try:
            kind = data[position]
            position += 1
            if kind & 0x80:
                kind = (kind & 0x7F) | ((data[position] & 0x7F) << 7)
                position += 1
            length = shift = 0
            for _index in range(4):
                byte = data[position]
                position += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
        except IndexError:
            return  # a record cut short at the end: calamine reports it
        if kind in kinds:
            wanted = min(prefix, length)
            while len(data) < position + wanted:
                more = stream.read(4 << 20)
                if not more:
                    break
                data += more
            if len(data) < position + wanted:
                return
            kept += 1
            yield kind, length, data[position : position + wanted]
        elif kind == _XLSB_CELL_BLANK:
            kept += 1
        else:
            passed += 1
            if passed > _XLSB_SKIPPED_FREE + _XLSB_SKIPPED_PER_KEPT * kept:
                raise _XlsbOdd("padded with records nobody reads")
        if kept > _XLSB_MAX_RECORDS:
            raise _XlsbOdd("more rows and cells than a sheet holds")
        position += length
        while position > len(data):  # a long record: skip what is not read yet
            skipped = stream.read(min(position - len(data), 4 << 20))
            if not skipped:
                return
            position -= len(skipped)


class _XlsbTooManyTexts(Exception):
    """More shared strings than calamine can hold: it keeps each as a string of its own (about
    50 bytes before its text: 5,000,000 empty ones took 280 MB), and an .xlsb is not streamed."""


class _XlsbSharedLengths:
    """The UTF-8 size bound (3 bytes a UTF-16 unit) of each shared string of an .xlsb."""

    def __init__(self, stream=None) -> None:
        self.lengths = array("I")
        self.longest = 0
        if stream is None:
            return
        kinds = frozenset((_XLSB_SST_ITEM, _XLSB_BEGIN_SST, _XLSB_END_SST, _XLSB_FRT_BEGIN,
                           _XLSB_FRT_END))  # fmt: skip
        begun = ended = False
        future = 0
        for kind, length, head in _xlsb_records(stream, kinds, 5):
            if kind == _XLSB_BEGIN_SST:
                begun = True
            elif kind == _XLSB_END_SST:
                ended = True
            elif kind == _XLSB_FRT_BEGIN:
                future += 1
            elif kind == _XLSB_FRT_END:
                future = max(0, future - 1)
            elif not begun or ended or future or length < 5:
                raise _XlsbOdd("shared string calamine would number otherwise")
            elif len(self.lengths) >= CALAMINE_SHARED_STRINGS:
                raise _XlsbTooManyTexts
            else:
                size = 3 * int.from_bytes(head[1:5], "little")
                self.longest = max(self.longest, size)
                self.lengths.append(min(size, 0xFFFFFFFF))

    def __getitem__(self, index: int) -> int:
        # An index past the last string: calamine's damage, bounded by the longest.
        return self.lengths[index] if index < len(self.lengths) else self.longest


def _xlsb_sheet_extent(stream, shared: _XlsbSharedLengths | None = None) -> tuple[int, int, int]:
    """(rows, columns) calamine would lay out for one worksheet part of an .xlsb, and the bytes
    of shared strings it would copy into the cells (calamine copies one per cell)."""
    shared = shared or _XlsbSharedLengths()
    row = 0
    first_row = first_column = None
    last_row = last_column = 0
    text = 0
    cells = headers = 0
    kinds = frozenset((_XLSB_ROW_HEADER, *_XLSB_VALUE_CELLS))
    for kind, length, head in _xlsb_records(stream, kinds, 12):
        needed = 4 if kind == _XLSB_ROW_HEADER else 12 if kind == _XLSB_CELL_ISST else 8
        if length < needed:
            raise _XlsbOdd("record too short")
        number = int.from_bytes(head[:4], "little")
        if kind == _XLSB_ROW_HEADER:
            row = number
            headers += 1
            if headers > MAX_SHEET_ROWS:
                raise _XlsbOdd("more row headers than a sheet has rows")
            continue
        first_row = row if first_row is None else min(first_row, row)
        first_column = number if first_column is None else min(first_column, number)
        last_row, last_column = max(last_row, row), max(last_column, number)
        cells += 1
        if cells > CALAMINE_WORKBOOK_CELLS:
            # calamine keeps every cell before laying them out: too big a grid already, or
            # cells written over each other, which only damage or a crafted file does.
            extent = _extent_or_empty(first_row, first_column, last_row, last_column)
            if extent[0] * extent[1] > CALAMINE_WORKBOOK_CELLS:
                return (*extent, text)
            raise _XlsbOdd("more cells than its grid")
        if kind == _XLSB_CELL_ISST:
            text += shared[int.from_bytes(head[8:12], "little")]
    return (*_extent_or_empty(first_row, first_column, last_row, last_column), text)


def _extent_or_empty(first_row, first_column, last_row: int, last_column: int) -> tuple[int, int]:
    if first_row is None or first_column is None:
        return 0, 0
    return last_row - first_row + 1, last_column - first_column + 1


_XLSB_BUNDLE_SHEET = 0x9C  # BrtBundleSh: a sheet's state, tab id, relationship id and name
_XLSB_END_BUNDLE_SHEETS = 0x90  # BrtEndBundleShs: the list of sheets ends here
# The list of sheets comes first in workbook.bin (a few kilobytes in Excel's files): only this
# much is read for it, so padding before the list cannot keep the check busy.
_XLSB_SHEET_LIST_BYTES = 1 << 20


def _xlsb_wide_string(data: bytes, at: int) -> tuple[str | None, int]:
    """An XLWideString (a count of UTF-16 units, then the units) at data[at:], and where the
    next field starts; None for the null string or one cut short."""
    count = int.from_bytes(data[at : at + 4], "little")
    end = at + 4 + 2 * count
    if len(data) < at + 4 or count == 0xFFFFFFFF or end > len(data):
        return None, end
    return data[at + 4 : end].decode("utf-16-le", "replace"), end


def _xlsb_sheet_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part -> the sheet's name as the spreadsheet program shows it ("Hoja1", not
    "sheet1"), for messages; parts it cannot name are left out."""
    try:
        rels = SafeElementTree.fromstring(_read_small_member(archive, "xl/_rels/workbook.bin.rels"))
        targets = _relationship_targets(rels)
        names: dict[str, str] = {}
        kinds = frozenset({_XLSB_BUNDLE_SHEET, _XLSB_END_BUNDLE_SHEETS})
        with archive.open("xl/workbook.bin") as stream:
            start = io.BytesIO(stream.read(_XLSB_SHEET_LIST_BYTES))
        for kind, _length, data in _xlsb_records(start, kinds, 4096):
            if kind == _XLSB_END_BUNDLE_SHEETS:
                break  # the rest of the part says nothing about sheets
            relationship, end = _xlsb_wide_string(data, 8)
            name, _end = _xlsb_wide_string(data, end)
            if relationship in targets and name:
                names[targets[relationship]] = name
        return names
    except (KeyError, ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile,
            DefusedXmlException, SafeElementTree.ParseError):  # fmt: skip
        return {}  # the extent check names the part instead; calamine reports the damage


def _check_xlsb_extent(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            parts = [
                name
                for name in archive.namelist()
                if name.startswith("xl/worksheets/") and name.endswith(".bin")
            ]
            sheet_names = _xlsb_sheet_names(archive)
            shared = _XlsbSharedLengths()
            for name in archive.namelist():
                if name.lower() == "xl/sharedstrings.bin":
                    with archive.open(name) as stream:
                        shared = _XlsbSharedLengths(stream)
            for part in parts:
                with archive.open(part) as stream:
                    rows, columns, text = _xlsb_sheet_extent(stream, shared)
                sheet = sheet_names.get(part) or PurePosixPath(part).stem
                if rows > MAX_SHEET_ROWS:
                    raise _too_many_rows_error(path, sheet)
                if rows * columns > MAX_SHEET_CELLS:
                    raise _too_large_error(path, sheet, rows, columns)
                if rows * columns > CALAMINE_WORKBOOK_CELLS:  # an .xlsb is not streamed
                    raise _save_as_xlsx_error(path, sheet, rows, columns)
                if text > MAX_SHARED_TEXT_BYTES:
                    raise _repeated_text_error(path, sheet)
    except _XlsbTooManyTexts:
        raise UserError(
            _(
                "The workbook {name} holds more than {count} different texts, too many to read "
                "safely from an .xlsb file. Save it as an Excel workbook (.xlsx) and import "
                "that file."
            ).format(name=path.name, count=format_count(CALAMINE_SHARED_STRINGS))
        ) from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error):
        raise _damaged_error(path) from None


# ---------------------------------------------------------------- header row


def _is_header_text(value: CellValue) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    if not text or len(text) > 60:
        return False
    stripped = text.replace(".", "").replace(",", "").replace("-", "").replace(" ", "")
    return not stripped.isdigit() and "@" not in text


def _header_score(cells: list[CellValue]) -> tuple[int, int]:
    filled = [cell for cell in cells if cell is not None]
    return len(filled), sum(1 for cell in filled if _is_header_text(cell))


def _find_header(
    blocks: Iterator[RowBlock],
) -> tuple[int, tuple[str, ...], list[RowBlock], Iterator[RowBlock]] | None:
    """Pick the header row among the first non-empty rows: the first row whose cells are
    mostly short texts and fill most of the table's width (title rows above it fill one or two
    cells). Returns (row number, headers, the data rows read after it, the other blocks)."""
    read: list[RowBlock] = []
    sample: list[tuple[int, list[CellValue]]] = []
    for block in blocks:
        read.append(block)
        sample += itertools.islice(rows_of([block]), HEADER_SEARCH_ROWS - len(sample))
        if len(sample) >= HEADER_SEARCH_ROWS:
            break
    if not sample:
        return None
    width = max(_header_score(cells)[0] for _number, cells in sample)
    chosen = 0
    for index, (_number, cells) in enumerate(sample):
        filled, texts = _header_score(cells)
        if filled == 0:
            continue
        wide_enough = filled >= max(1, round(width * 0.6)) if width > 1 else True
        if not (wide_enough and texts >= max(1, filled * 0.7)):
            continue
        following = sample[index + 1][1] if index + 1 < len(sample) else None
        if following is not None and index + 1 < len(sample):
            following_filled, following_texts = _header_score(following)
            # Two header-like rows in a row where the next one is wider: this one is a title.
            if following_texts >= following_filled * 0.7 and following_filled > filled + 1:
                continue
        chosen = index
        break
    header_number, header_cells = sample[chosen]
    last = len(header_cells)
    while last > 0 and header_cells[last - 1] is None:
        last -= 1
    headers = tuple(clean_header(cell) for cell in header_cells[:last])
    after = [
        _cut_block(block, bisect.bisect_right(block.numbers, header_number))
        for block in read
        if block.numbers[-1] > header_number
    ]
    return header_number, headers, after, blocks


# ---------------------------------------------------------------- CSV


def _open_csv(path: Path, *, encoding: str | None, delimiter: str | None, max_rows: int) -> Table:
    if encoding is None:
        encoding = detect_encoding(path)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UserError(
                _("“{encoding}” is not a text encoding smbcrm knows. Try utf-8 or cp1252.").format(
                    encoding=encoding
                )
            ) from None
    if delimiter is not None and delimiter not in DELIMITERS:
        raise UserError(
            _("The separator must be one of: comma, semicolon, tab or vertical bar (|).")
        )
    _check_line_lengths(path, encoding)
    stream = open(path, encoding=encoding, newline="", errors="strict")  # noqa: SIM115
    try:
        if delimiter is None:
            sample = stream.read(256 * 1024)
            stream.seek(0)
            delimiter = detect_delimiter(sample)
        found = _find_header(_blocks_of(_numbered_csv_rows(path, stream, delimiter, encoding)))
        if found is None:
            raise UserError(_("The file {name} has no data.").format(name=path.name))
        header_row, headers, buffered, rest = found
    except UnicodeDecodeError:
        stream.close()
        raise _encoding_error(path, encoding) from None
    except BaseException:
        stream.close()
        raise
    info = TableInfo(
        kind="csv",
        sheets=(),
        sheet=None,
        encoding=encoding,
        delimiter=delimiter,
        header_row=header_row,
        headers=headers,
    )
    return Table(info, chain(buffered, rest), stream.close, max_rows)


# The csv module builds a whole record before anything can look at it: a line of 250 MB of
# commas would make 250 million fields (2 GB). A table's line is far shorter than this.
MAX_CSV_LINE_BYTES = 16 << 20
_LINE_CHECK_BLOCK = 1 << 20  # smaller than the limit: a line inside one block is short enough


def _check_line_lengths(path: Path, encoding: str) -> None:
    """Refuse a file with a line longer than MAX_CSV_LINE_BYTES (any line end: LF, CR, CRLF),
    found by searches over blocks before the csv module reads it: over the bytes, where a line
    end byte is always one (ASCII, UTF-8, cp1252), or over the text (UTF-16)."""
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    text = {"encoding": encoding, "errors": "replace", "newline": ""} if wide else {}
    newline, carriage = ("\n", "\r") if wide else (b"\n", b"\r")
    limit = MAX_CSV_LINE_BYTES // 2 if wide else MAX_CSV_LINE_BYTES
    run = 0  # bytes (characters) since the last line end
    with open(path, "r" if wide else "rb", **text) as stream:
        while block := stream.read(_LINE_CHECK_BLOCK):
            ends = [at for at in (block.find(newline), block.find(carriage)) if at >= 0]
            if ends:
                longest = run + min(ends)  # lines inside a block are shorter than the block
                run = len(block) - 1 - max(block.rfind(newline), block.rfind(carriage))
            else:
                run += len(block)
                longest = run
            if longest > limit:
                raise UserError(
                    _(
                        "The file {name} has a line longer than {size} MB, far more than a row "
                        "of a table. Save the data again from the program that made it."
                    ).format(name=path.name, size=MAX_CSV_LINE_BYTES >> 20)
                )


def _encoding_error(path: Path, encoding: str) -> UserError:
    return UserError(
        _(
            "The file {name} is not valid {encoding} text. Choose another encoding in the "
            "import (cp1252 for files saved by Excel in Spanish, utf-8 for most others)."
        ).format(name=path.name, encoding=encoding)
    )


_FORMULA_ESCAPE = ("'=", "'+", "'-", "'@", "'\t", "'\r", "'\x00")


def _numbered_csv_rows(
    path: Path, stream, delimiter: str, encoding: str
) -> Iterator[tuple[int, list[CellValue]]]:
    """CSV records numbered as a spreadsheet program shows them (record n is row n, even when a
    quoted field spans several lines); empty cells become None. A leading apostrophe that
    guards a formula character (as our own export writes) is removed."""
    lines = _RecordLines(stream)
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    number = 0
    try:
        for record in reader:
            number += 1
            lines.size = 0
            if len(record) > MAX_SHEET_COLUMNS:
                # Matching 2,000,000 headers to fields took minutes (an 8 MB file).
                raise UserError(
                    _(
                        "Row {row} of {name} has {count} columns, more than a spreadsheet can "
                        "hold ({limit}). Save the data again from the program that made it."
                    ).format(
                        row=number,
                        name=path.name,
                        count=format_count(len(record)),
                        limit=format_count(MAX_SHEET_COLUMNS),
                    )  # fmt: skip
                )
            # One comprehension per record, the escape pass only for records with an apostrophe:
            # this loop runs a million times for a year of sales lines.
            cells: list[CellValue] = [
                field if field and not field.isspace() else None for field in record
            ]
            if cells.count(None) == len(cells):
                continue
            if "'" in "".join(record):
                cells = [
                    field[1:] if field is not None and field.startswith(_FORMULA_ESCAPE) else field
                    for field in cells
                ]
            yield number, cells
    except UnicodeDecodeError:
        raise _encoding_error(path, encoding) from None
    except (csv.Error, _RecordTooLong) as error:
        reason = (
            _("longer than {size} MB").format(size=MAX_CSV_LINE_BYTES >> 20)
            if isinstance(error, _RecordTooLong)
            else error
        )
        raise UserError(
            _(
                "Row {row} of {name} cannot be read as CSV ({reason}). Check the quotes in that "
                "row, or open the file in a spreadsheet program and save it again."
            ).format(row=number + 1, name=path.name, reason=reason)
        ) from None


class _RecordTooLong(Exception):
    pass


class _RecordLines:
    """The lines the csv module reads, refusing a record longer than MAX_CSV_LINE_BYTES before
    the module builds it: a record goes on across line ends inside quotes, so short lines do
    not make a short record (1 MB of commas then a quoted line end, a hundred times, made a
    record of 100 million fields). The reader sets size to 0 after each record."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.size = 0

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = next(self.stream)
        self.size += len(line)
        if self.size > MAX_CSV_LINE_BYTES:
            raise _RecordTooLong
        return line


def detect_encoding(path: Path) -> str:
    """ "utf-8-sig", "utf-16", "utf-16-le"/"utf-16-be" (no mark), "utf-8" when the whole file
    is valid UTF-8, else "cp1252" (as Excel saves CSV in Spanish), or "latin-1" for bytes
    cp1252 leaves undefined."""
    with open(path, "rb") as stream:
        head = stream.read(8192)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        without_mark = _utf16_without_bom(head)
        if without_mark:
            return without_mark
        stream.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        undefined_in_cp1252 = False
        try:
            while block := stream.read(1 << 20):
                decoder.decode(block)
                undefined_in_cp1252 = undefined_in_cp1252 or any(
                    byte in block for byte in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
                )
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        while not undefined_in_cp1252 and (block := stream.read(1 << 20)):
            undefined_in_cp1252 = any(
                byte in block for byte in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
            )
    return "latin-1" if undefined_in_cp1252 else "cp1252"


def detect_delimiter(sample: str) -> str:
    """The separator among , ; TAB | that splits the sample's rows into the same number of
    fields most consistently (quotes and quoted line breaks respected)."""
    if len(sample) >= 256 * 1024:
        cut = sample.rfind("\n")
        if cut > 0:
            sample = sample[:cut]
    best, best_score = ",", -1.0
    for candidate in DELIMITERS:
        try:
            records = list(csv.reader(io.StringIO(sample), delimiter=candidate))[:200]
        except csv.Error:
            continue
        counts = [len(record) for record in records if any(field.strip() for field in record)]
        counts = [count for count in counts if count > 1]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        score = counts.count(mode) * (1 + min(mode, 50) / 100)
        if score > best_score:
            best, best_score = candidate, score
    return best
