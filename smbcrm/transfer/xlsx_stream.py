"""Reading one .xlsx worksheet row by row, for sheets too big for calamine's whole-sheet grid.

python-calamine 0.9 has no row-by-row reader: it lays a sheet out in memory before giving the
first row (about 96 bytes a cell, 1 GB for a million rows of ten columns). This reader streams
the sheet's XML out of the zip with expat and yields the same rows calamine would, after the
same normalisation as tables._numbered_blocks: row numbers 1-based, wholly empty rows skipped,
cells starting at the sheet's first column that holds a value (as calamine's grid does).

Shared strings are kept as one UTF-8 blob and an array of offsets, decoded on access: a
million distinct strings of about 26 characters cost 33 MB that way, 93 MB as a list of str.

expat was measured against ElementTree's XMLPullParser on a 100,000-row sheet: expat with
handlers that do nothing takes 1.4 s, the pull parser 5.0 s; this reader 2.8 s (calamine 1.1 s).

It raises its own exceptions (SheetDamaged, SheetHostile, SheetTooLong); tables.py turns them
into translated UserErrors. The zip checks in tables.py run before this reader is used. One
difference from calamine is kept on purpose: an error code calamine does not know (such as
#GETTING_DATA) is an empty cell here, where calamine refuses the whole sheet.
"""

from __future__ import annotations

import math
import re
import zipfile
import zlib
from array import array
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from xml.parsers import expat

from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

MAX_SHEET_ROWS = 1_048_576
MAX_SHEET_COLUMNS = 16_384
_BLOCK = 1 << 20
_SMALL_PART_LIMIT = 16 << 20

# Number format kinds.
_OTHER, _DATETIME, _DURATION = 0, 1, 2
_BUILTIN_FORMATS = {**dict.fromkeys((*range(14, 23), 45, 47), _DATETIME), 46: _DURATION}

_MS_A_DAY = 86_400_000
_EPOCH_BEFORE_LEAP_BUG = datetime(1899, 12, 31)
_EPOCH = datetime(1899, 12, 30)
_EXCEL_1904_OFFSET = 1462
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# A column-A cell with something in it (a value, an inline string, an error): one is enough to
# know the grid starts at column A, which is where almost every sheet starts.
_VALUED_COLUMN_A_CELL = re.compile(
    rb'<c r="A[0-9]+"([^>]*)(?<!/)>(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)?(?:<v>[^<]|<is><[tr][\s>/])'
)


class SheetDamaged(Exception):
    """The worksheet's XML or zip data is broken."""


class SheetHostile(Exception):
    """The XML declares a DTD or entities: refused, never expanded."""


class SheetTooLong(Exception):
    """A row number past a spreadsheet's last row."""


def number_format_kind(code: str) -> int:
    """_DATETIME, _DURATION or _OTHER for a custom number format, by calamine's rules: date and
    time letters outside quotes, brackets and escapes in the first section; [h], [m] or [s]
    make a duration."""
    escaped = quoted = ampm = hms = False
    brackets = 0
    previous = " "
    for char in code:
        if escaped:
            escaped = False
        elif char in "_\\*":
            escaped = True
        elif quoted:
            if char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ";":
            return _OTHER
        elif char == "[":
            brackets += 1
        elif char == "]":
            if brackets == 1 and hms:
                return _DURATION
            brackets = max(brackets - 1, 0)
        elif brackets == 0 and not ampm and char in "aA":
            ampm = True
        elif brackets == 0 and char in ("pm/PM" if ampm else "dmhysDMHYS"):
            return _DATETIME
        elif not (hms and char.lower() == previous.lower()):
            hms = previous == "[" and char in "mhsMHS"
        previous = char
    return _OTHER


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _find_member(archive: zipfile.ZipFile, name: str) -> str | None:
    # calamine finds these parts whatever the case of their names.
    lowered = name.lower()
    for member in archive.namelist():
        if member.lower() == lowered:
            return member
    return None


def _read_small(archive: zipfile.ZipFile, member: str) -> bytes:
    info = archive.getinfo(member)
    if info.file_size > _SMALL_PART_LIMIT:
        raise SheetDamaged(member)
    with archive.open(info) as stream:
        data = stream.read(_SMALL_PART_LIMIT + 1)
    if len(data) > _SMALL_PART_LIMIT:
        raise SheetDamaged(member)
    return data


def _style_kinds(archive: zipfile.ZipFile) -> list[int]:
    """The number format kind of every cell style (cellXfs), by index."""
    member = _find_member(archive, "xl/styles.xml")
    if member is None:
        return []
    try:
        root = SafeElementTree.fromstring(_read_small(archive, member))
    except DefusedXmlException:
        raise SheetHostile(member) from None
    except SafeElementTree.ParseError:
        raise SheetDamaged(member) from None
    custom: dict[str, str] = {}
    kinds: list[int] = []
    for element in root:
        name = _local(element.tag)
        if name == "numFmts":
            for number_format in element:
                code = number_format.get("formatCode", "")
                if _local(number_format.tag) == "numFmt" and code:
                    custom[number_format.get("numFmtId", "")] = code
        elif name == "cellXfs":
            for xf in element:
                if _local(xf.tag) != "xf":
                    continue
                identifier = xf.get("numFmtId")
                if identifier is None:
                    kinds.append(_OTHER)
                elif identifier in custom:
                    kinds.append(number_format_kind(custom[identifier]))
                else:
                    number = int(identifier) if identifier.isdigit() else -1
                    kinds.append(
                        _BUILTIN_FORMATS.get(number, _OTHER)
                        if identifier == str(number)
                        else _OTHER
                    )
    return kinds


def _refuse_declarations(parser) -> None:
    def refuse(*_args) -> None:
        raise SheetHostile("DTD or entity declaration")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)


def _unescape(text: str) -> str:
    """Excel's _xHHHH_ escapes for characters XML cannot hold (as calamine undoes them)."""
    return _ESCAPE.sub(_unescaped, text) if "_x" in text else text


def _unescaped(found: re.Match) -> str:
    code = int(found.group(1), 16)
    # A surrogate alone is not a character: calamine keeps such an escape as it is written.
    return found.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)


_LONG_STRING = 1024


class SharedStrings:
    """The workbook's shared strings as one UTF-8 blob plus offsets, decoded on access."""

    def __init__(self) -> None:
        self._blob = bytearray()
        # 4-byte offsets: the zip checks keep every part under 1 GiB of text.
        self._ends = array("I")
        self._long: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        if index < 0:
            raise IndexError(index)
        end = self._ends[index]  # IndexError for a missing string, as intended
        start = self._ends[index - 1] if index > 0 else 0
        if end - start <= _LONG_STRING:
            return self._blob[start:end].decode()
        # Long strings are decoded once and shared: a small file whose cells all point at one
        # megabyte-long string must not make a copy per cell.
        text = self._long.get(index)
        if text is None:
            text = self._long[index] = self._blob[start:end].decode()
        return text

    def append(self, text: str) -> None:
        self._blob += text.encode()
        try:
            self._ends.append(len(self._blob))
        except OverflowError:
            raise SheetDamaged("shared strings too large") from None

    @classmethod
    def read(cls, archive: zipfile.ZipFile) -> SharedStrings:
        strings = cls()
        member = _find_member(archive, "xl/sharedStrings.xml")
        if member is None:
            return strings
        parser = expat.ParserCreate()
        parser.buffer_text = True
        _refuse_declarations(parser)
        # calamine's rules: a plain <si> is its first <t>; a rich one (<r> runs) joins every
        # <t> outside phonetic runs (<rPh>); an <si> with no <t> at all is an empty string.
        in_item = rich = phonetic = False
        text: str | None = None
        runs: list[str] = []
        collected: list[str] = []

        def start(name: str, _attributes) -> None:
            nonlocal in_item, rich, phonetic, text
            if ":" in name:
                name = name.rpartition(":")[2]
            if name == "t":
                collected.clear()
            elif name == "si":
                in_item, rich, phonetic, text = True, False, False, None
            elif name == "r":
                if in_item and text is None and not rich:
                    rich = True
                    runs.clear()
            elif name == "rPh":
                phonetic = True

        def end(name: str) -> None:
            nonlocal in_item, phonetic, text
            if ":" in name:
                name = name.rpartition(":")[2]
            if name == "t":
                if in_item and not phonetic:
                    if rich:
                        runs.append("".join(collected))
                    elif text is None:
                        text = "".join(collected)
            elif name == "si":
                in_item = False
                value = "".join(runs) if rich else text
                strings.append(_unescape(value) if value is not None else "")
            elif name == "rPh":
                phonetic = False

        parser.CharacterDataHandler = collected.append
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        _parse_member(archive, member, parser, lambda: False, collected)
        return strings


def _parse_member(archive: zipfile.ZipFile, member: str, parser, finished, text=None) -> None:
    """Feed a zip member to an expat parser block by block (for parts read whole)."""
    for _block in _feed(archive, member, parser, finished, text):
        pass


# The text collected for one cell or string: Excel's cells hold at most 32,767 characters.
# Beyond this the part is refused: 900 MB of text in one cell (5 MB zipped) took 927 MB.
_MAX_TEXT_CHARS = 1 << 20
_MAX_TEXT_PARTS = 100_000  # expat hands text over in pieces (one per entity, for one)


def _feed(archive: zipfile.ZipFile, member: str, parser, finished, text=None) -> Iterator[None]:
    """Parse the member block by block; text is the list the parser collects character data
    in, checked after each block."""
    try:
        with archive.open(member) as stream:
            while not finished():
                block = stream.read(_BLOCK)
                parser.Parse(block, not block)
                if text and (len(text) > _MAX_TEXT_PARTS or sum(map(len, text)) > _MAX_TEXT_CHARS):
                    raise SheetDamaged("a text far longer than a cell holds")
                yield
                if not block:
                    break
    except expat.ExpatError as error:
        raise SheetDamaged(str(error)) from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as error:
        raise SheetDamaged(str(error)) from None


def _column_index(letters: str) -> int:
    """A column's 0-based index from its letters; SheetDamaged past XFD, the last column."""
    if not (letters.isascii() and letters.isalpha() and len(letters) <= 3):
        raise SheetDamaged(f"bad column {letters[:20]!r}")
    number = 0
    for letter in letters.upper():
        number = number * 26 + (ord(letter) - 64)
    if number > MAX_SHEET_COLUMNS:
        raise SheetDamaged(f"column {letters!r} past the last one")
    return number - 1


def _excel_date(value: float, epoch_1904: bool, kind: int):
    """A date-formatted number as calamine and normalise_cell give it: date, datetime, a
    time's ISO text, or a duration's text; the number itself when out of range."""
    if kind == _DURATION:
        try:
            return str(timedelta(milliseconds=math.floor(value * _MS_A_DAY + 0.5)))
        except (OverflowError, ValueError):  # infinite, or past timedelta's 999,999,999 days
            return int(value) if value.is_integer() else value
    try:
        if value < 1.0:
            # A time of day: negative values wrap round the clock, as calamine shows them.
            milliseconds = math.floor(value * _MS_A_DAY + 0.5) % _MS_A_DAY
            moment = datetime.min + timedelta(milliseconds=milliseconds)
            return time(moment.hour, moment.minute, moment.second, moment.microsecond).isoformat()
        days = value + _EXCEL_1904_OFFSET if epoch_1904 else value
        epoch = _EPOCH_BEFORE_LEAP_BUG if days < 60 else _EPOCH
        moment = epoch + timedelta(milliseconds=math.floor(days * _MS_A_DAY + 0.5))
    except (OverflowError, ValueError):
        return int(value) if value.is_integer() else value
    if moment.hour == moment.minute == moment.second == moment.microsecond == 0:
        return moment.date()
    return moment


def _iso_cell(text: str):
    # python-calamine reads t="d" cells as datetime, date or time by their shape.
    try:
        if "T" in text:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                return text  # calamine gives a time with its zone as the text written
            if moment.time() == time(0):
                return moment.date()
            return moment.replace(tzinfo=None)
        if ":" in text:
            return time.fromisoformat(text).isoformat()
        return date.fromisoformat(text)
    except ValueError:
        return text if text.strip() else None


_ABSENT = object()  # a cell calamine leaves out of its grid (no value at all)


class XlsxSheetReader:
    """One worksheet of an .xlsx, read row by row. Open, iterate rows() once, close()."""

    def __init__(self, path: Path, member: str, *, epoch_1904: bool) -> None:
        self._member = member
        self._epoch_1904 = epoch_1904
        self._rows: Iterator | None = None
        try:
            self._archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise SheetDamaged(str(error)) from None
        try:
            self._style_kinds = _style_kinds(self._archive)
            self._strings = SharedStrings.read(self._archive)
            if member not in self._archive.NameToInfo:
                raise SheetDamaged(member)
            self._first_column = self._find_first_column()
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as error:
            self.close()
            raise SheetDamaged(str(error)) from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop reading and close the file (also when rows() was left half read)."""
        rows, self._rows = self._rows, None
        if rows is not None:
            rows.close()  # its part of the zip closes with it
        archive, self._archive = self._archive, None
        if archive is not None:
            archive.close()

    def _find_first_column(self) -> int:
        """The first column with a value anywhere in the sheet (calamine's grid starts there).
        A regular-expression scan finds a column-A value in the first block for almost every
        sheet; otherwise one full parse finds the column exactly."""
        carry = b""
        with self._archive.open(self._member) as stream:
            while block := stream.read(_BLOCK):
                data = carry + block
                for found in _VALUED_COLUMN_A_CELL.finditer(data):
                    if b"inlineStr" not in found.group(1) or b"<is>" in found.group(0):
                        return 0
                carry = data[-4096:]
        first = None
        for _row, _cells, leftmost in self._parse(0, want_leftmost=True):
            if leftmost is not None and (first is None or leftmost < first):
                first = leftmost
        return first or 0

    def rows(self) -> Iterator[tuple[int, list]]:
        """(1-based row number, cells) for every row with something in it."""
        self._rows = (
            (number, cells)
            for number, cells, _leftmost in self._parse(self._first_column, want_leftmost=False)
        )
        return self._rows

    def _parse(
        self, first_column: int, want_leftmost: bool
    ) -> Iterator[tuple[int, list, int | None]]:
        # The handlers run a few times per cell, ten million times for a big sheet: their
        # state lives in closure variables, and they test the commonest tags first.
        strings = self._strings
        style_kinds = self._style_kinds
        style_cache: dict[str | None, int] = {None: _OTHER}
        epoch_1904 = self._epoch_1904
        parser = expat.ParserCreate()
        parser.buffer_text = True
        _refuse_declarations(parser)

        ready: list[tuple[int, list, int | None]] = []
        text_parts: list[str] = []
        # Row and column indexes (0-based) for cells and rows without a position.
        row_index = next_column = 0
        cell_column = cell_row = 0
        cell_type: str | None = None
        cell_style: str | None = None
        value: object = _ABSENT
        in_cell = False
        # Inline strings: the runs of a rich one, or the first <t> of a plain one.
        inline: list[str] | None = None
        inline_text: str | None = None
        rich = phonetic = False
        done = False
        leftmost: int | None = None
        row_cells: list = []
        other_rows: dict[int, list] = {}
        last_row = -1  # the last row given out: rows must come in order
        prefixes: list[str] = []
        row_text = "1"
        row_length = 1
        columns = _COLUMNS

        def kind_of(style: str | None) -> int:
            kind = style_cache.get(style)
            if kind is None:
                index = int(style) if style.isdigit() else 0
                kind = style_kinds[index] if index < len(style_kinds) else _OTHER
                style_cache[style] = kind
            return kind

        def number_value(text: str):
            try:
                if cell_type is None and ("_" in text or text != text.strip()):
                    raise ValueError(text)
                number = float(text)
            except ValueError:
                if cell_type is None:  # calamine keeps an untyped non-number as text
                    return text if not text.isspace() else None
                raise SheetDamaged(f"not a number: {text[:40]!r}") from None
            kind = style_cache[cell_style] if cell_style in style_cache else kind_of(cell_style)
            if kind == _OTHER:
                return int(number) if number.is_integer() else number
            return _excel_date(number, epoch_1904, kind)

        def other_value(text: str):
            if cell_type == "s":
                try:
                    string = strings[int(text)]
                except (ValueError, IndexError):
                    raise SheetDamaged(f"shared string {text[:20]!r} not found") from None
                return string if string and not string.isspace() else None
            if cell_type == "str":
                if "_x" in text:
                    text = _unescape(text)
                return text if text and not text.isspace() else None
            if cell_type == "b":
                return text != "0"
            if cell_type == "e":
                return None  # calamine shows #N/A, #DIV/0! and the like as empty
            if cell_type == "d":
                return _iso_cell(text)
            raise SheetDamaged(f"unknown cell type {cell_type[:20]!r}")

        def start(name: str, attributes: dict) -> None:
            nonlocal row_index, row_text, row_length, next_column, cell_column, cell_row
            nonlocal cell_type, cell_style, value, in_cell, inline, inline_text, rich, phonetic
            if name == "c":
                reference = attributes.get("r")
                # The common case, a cell in its row's numbered row: no parsing of digits.
                if reference is not None and (
                    (column := columns.get(reference[:-row_length])) is not None
                    and reference.endswith(row_text)
                ):
                    cell_column = next_column = column
                    cell_row = row_index
                elif reference is not None:
                    letters = reference.rstrip("0123456789")
                    digits = reference[len(letters) :]
                    if not letters or not digits or not digits.strip("0"):
                        raise SheetDamaged(f"bad cell reference {reference[:20]!r}")
                    column = _COLUMNS.get(letters)
                    if column is None:
                        column = _column_index(letters)
                    cell_column = next_column = column
                    cell_row = int(digits) - 1
                else:
                    cell_column = next_column
                    cell_row = row_index
                cell_type = attributes.get("t")
                cell_style = attributes.get("s")
                value = _ABSENT
                in_cell = True
                text_parts.clear()  # formulas and spaces between cells are not kept
            elif name == "v" or name == "t":
                text_parts.clear()
            elif name == "is":
                if in_cell:
                    inline = []
                    inline_text = None
                    rich = phonetic = False
            elif name == "row":
                reference = attributes.get("r")
                if reference is not None:
                    if not (reference.isascii() and reference.isdigit() and reference.strip("0")):
                        raise SheetDamaged(f"bad row number {reference[:20]!r}")
                    row_index = int(reference) - 1
                if row_index <= last_row:
                    # calamine's grid merges such rows; no spreadsheet program writes them.
                    raise SheetDamaged(f"row {row_index + 1} out of order")
                row_text = str(row_index + 1)
                row_length = len(row_text)
                next_column = 0
                row_cells.clear()
                if row_index >= MAX_SHEET_ROWS:
                    raise SheetTooLong(row_index + 1)
            elif name == "r":
                if inline is not None and inline_text is None:
                    rich = True
            elif name == "rPh":
                phonetic = True
            elif name.endswith(":worksheet") and not prefixes:
                # A writer that prefixes the main namespace (x:c, x:row): strip it first.
                prefix_length = len(name) - len("worksheet")
                prefixes.append(name[:prefix_length])
                parser.StartElementHandler = lambda name, attributes: start(
                    name[prefix_length:] if name.startswith(prefixes[0]) else ":" + name,
                    attributes,
                )
                parser.EndElementHandler = lambda name: end(
                    name[prefix_length:] if name.startswith(prefixes[0]) else ":" + name
                )

        def end(name: str) -> None:
            nonlocal row_index, next_column, value, in_cell, inline, inline_text, phonetic
            nonlocal done, leftmost, last_row
            if name == "c":
                in_cell = False
                next_column += 1
                if value is _ABSENT:
                    return
                column = cell_column
                if want_leftmost and (leftmost is None or column < leftmost):
                    leftmost = column
                if value is None:
                    return
                cells = row_cells if cell_row == row_index else other_rows.setdefault(cell_row, [])
                index = column - first_column
                length = len(cells)
                if index == length:
                    cells.append(value)
                elif index > length:
                    cells.extend([None] * (index - length))
                    cells.append(value)
                elif index >= 0:
                    cells[index] = value
            elif name == "t":
                if inline is not None and not phonetic:
                    text = "".join(text_parts)
                    if rich:
                        inline.append(text)
                    elif inline_text is None:
                        inline_text = text
            elif name == "is":
                if inline is not None:
                    text = "".join(inline) if rich else inline_text
                    inline = None
                    if text is not None:
                        if "_x" in text:
                            text = _unescape(text)
                        value = text if text and not text.isspace() else None
            elif name == "v":
                if in_cell and cell_type != "inlineStr" and cell_type != "is":
                    text = "".join(text_parts)
                    if not text:
                        # A formula's empty text result is a cell for calamine (its grid may start
                        # there) though it holds nothing; any other empty value is no cell at all.
                        value = None if cell_type == "str" else _ABSENT
                    elif cell_type is None or cell_type == "n":
                        value = number_value(text)
                    else:
                        value = other_value(text)
            elif name == "row":
                text_parts.clear()
                if other_rows:
                    if min(other_rows) <= last_row:
                        raise SheetDamaged(f"a cell of row {min(other_rows) + 1} out of order")
                    # Cells positioned in other rows than their row element's: in row order,
                    # as calamine's grid gives them.
                    if row_cells:
                        other_rows.setdefault(row_index, []).extend(row_cells)
                    for other in sorted(other_rows):
                        if other >= MAX_SHEET_ROWS:
                            raise SheetTooLong(other + 1)
                        if other_rows[other]:
                            ready.append((other + 1, other_rows[other], leftmost))
                    last_row = max(row_index, *other_rows)
                    other_rows.clear()
                else:
                    if row_cells:
                        ready.append((row_index + 1, row_cells.copy(), leftmost))
                    last_row = row_index
                row_cells.clear()
                row_index += 1
            elif name == "rPh":
                phonetic = False
            elif name == "sheetData":
                done = True

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text_parts.append
        for _fed in _feed(self._archive, self._member, parser, lambda: done, text_parts):
            if ready:
                yield from ready
                ready.clear()
        if ready:
            yield from ready


# Column letters -> index for the first 702 columns (A..ZZ), the ones real sheets use.
_COLUMNS = {
    **{chr(65 + first): first for first in range(26)},
    **{
        chr(65 + first) + chr(65 + second): 26 + first * 26 + second
        for first in range(26)
        for second in range(26)
    },
}
