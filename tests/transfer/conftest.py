"""Builders for transfer tests: workbooks written by openpyxl and, where installed, LibreOffice."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

LIBREOFFICE = shutil.which("libreoffice") or shutil.which("soffice")
needs_libreoffice = pytest.mark.skipif(LIBREOFFICE is None, reason="LibreOffice not installed")


def write_xlsx(path: Path, rows, *, title: str = "Hoja1", more_sheets=()) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    for name, extra_rows in more_sheets:
        extra = workbook.create_sheet(name)
        for row in extra_rows:
            extra.append(list(row))
    workbook.save(path)
    return path


def replace_sheet_xml(
    source: Path, target: Path, sheet_xml: bytes, member="xl/worksheets/sheet1.xml"
):
    """A copy of an xlsx with one part replaced (to build hostile or odd files)."""
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in original.infolist():
            data = sheet_xml if info.filename == member else original.read(info.filename)
            copy.writestr(info.filename, data)
    return target


def libreoffice_convert(source: Path, fmt: str, outdir: Path) -> Path:
    """Convert with LibreOffice headless; CSV input is read as UTF-8, comma-separated."""
    profile = outdir / "lo-profile"
    command = [
        LIBREOFFICE,
        f"-env:UserInstallation=file://{profile}",
        "--headless",
        "--infilter=CSV:44,34,76,1",
        "--convert-to",
        fmt,
        "--outdir",
        str(outdir),
        str(source),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return outdir / (source.stem + "." + fmt)
