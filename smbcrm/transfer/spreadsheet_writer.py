"""Writing tables to .xlsx (openpyxl write-only) and .csv, safe against formula injection."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _
from smbcrm.transfer.tables import CellValue

# OWASP "CSV injection": a cell starting with one of these may be run as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")
# Characters XML 1.0 (and so xlsx) cannot hold; openpyxl refuses them.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _kind_of(path: Path, kind: str | None) -> str:
    kind = (kind or path.suffix.lstrip(".")).lower()
    if kind not in ("xlsx", "csv"):
        raise UserError(
            _(
                "smbcrm can export to .xlsx or .csv files; “{name}” is neither. Choose a name "
                "ending in .xlsx or .csv."
            ).format(name=path.name)
        )
    return kind


def csv_text(value: CellValue | Decimal) -> str:
    """A cell as CSV text: formula-like text gets a leading apostrophe, numbers stay plain."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_TRIGGERS) else value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _xlsx_value(sheet, value):
    if isinstance(value, str):
        if _ILLEGAL_XML.search(value):
            value = _ILLEGAL_XML.sub("", value)
        if value.startswith("="):
            # openpyxl would store it as a formula; a string cell is never evaluated.
            cell = WriteOnlyCell(sheet, value)
            cell.data_type = "s"
            return cell
        return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def _write_xlsx_sheet(workbook: Workbook, title: str, headers, rows) -> int:
    sheet = workbook.create_sheet(title)
    sheet.append([_xlsx_value(sheet, header) for header in headers])
    count = 0
    for row in rows:
        sheet.append([_xlsx_value(sheet, value) for value in row])
        count += 1
    return count


def _sheet_title(name: str, used: set[str]) -> str:
    title = _SHEET_NAME_FORBIDDEN.sub(" ", name).strip().strip("'")[:31] or "Data"
    base, number = title, 2
    while title.casefold() in used:
        suffix = f" ({number})"
        title = base[: 31 - len(suffix)] + suffix
        number += 1
    used.add(title.casefold())
    return title


def write_table(
    path: Path,
    headers: Sequence[str],
    rows: Iterable[Sequence[CellValue]],
    *,
    kind: str | None = None,
    delimiter: str = ",",
    sheet_name: str = "Data",
) -> int:
    """.xlsx (openpyxl write-only) or .csv (UTF-8 with BOM, so Excel shows accents; delimiter
    ',' or ';' or tab) by kind or extension; returns the number of rows written. Text that could
    run as a formula is written as a string cell in xlsx and with a leading ' in CSV; numbers
    stay numbers and dates stay dates. Streams: rows may be a generator."""
    path = Path(path)
    kind = _kind_of(path, kind)
    try:
        if kind == "csv":
            if delimiter not in (",", ";", "\t"):
                raise UserError(_("The CSV separator must be a comma, a semicolon or a tab."))
            count = 0
            with open(path, "w", encoding="utf-8-sig", newline="") as stream:
                writer = csv.writer(stream, delimiter=delimiter, lineterminator="\r\n")
                writer.writerow([csv_text(header) for header in headers])
                for row in rows:
                    writer.writerow([csv_text(value) for value in row])
                    count += 1
            return count
        workbook = Workbook(write_only=True)
        count = _write_xlsx_sheet(workbook, _sheet_title(sheet_name, set()), headers, rows)
        workbook.save(path)
        return count
    except OSError as error:
        raise _write_error(path, error) from None


def write_workbook(
    path: Path, sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[CellValue]]]]
) -> None:
    """One .xlsx with a sheet per table (for the whole-shop export). Same safety as write_table."""
    path = Path(path)
    workbook = Workbook(write_only=True)
    used: set[str] = set()
    for name, headers, rows in sheets:
        _write_xlsx_sheet(workbook, _sheet_title(name, used), headers, rows)
    try:
        workbook.save(path)
    except OSError as error:
        raise _write_error(path, error) from None


def _write_error(path: Path, error: OSError) -> UserError:
    return UserError(
        _(
            "The file {name} cannot be written ({reason}). Close it if it is open in another "
            "program, or choose another folder."
        ).format(name=path.name, reason=error.strerror or error)
    )
