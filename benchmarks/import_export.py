"""Import and export figures; prints one JSON object as its last line.

    .venv/bin/python benchmarks/import_export.py [--customers N] [--lines N] [--skip-purchases]
                                                 [--skip-export] [--big-xlsx N]

import_100k_xlsx_s: a 100,000-row, 10-column customer workbook imported into an empty shop
(validation and normalisation included); calamine_read_100k_s: python-calamine alone reading the
same file; import_ratio: their ratio. purchases_1m_csv_s: 1,000,000 purchase lines from CSV.
export_100k_xlsx_s: the 100,000 customers exported to xlsx; openpyxl_write_100k_s: openpyxl's
write-only mode writing the same rows; export_ratio. peak_rss_mb: the peak memory of this
process and its children together (a big file is read and checked in a child process).
The customer import always runs (the other parts need its customers); --skip-purchases and
--skip-export leave the slower parts out while working on one of them. --big-xlsx N runs on its
own: it imports an N-row workbook and reports big_xlsx_import_s and its peak_rss_mb; with
--shared-strings the workbook's strings are moved to xl/sharedStrings.xml first (in a child
process, so its memory is not counted), as Excel writes them: openpyxl writes inline strings.

smbcrm's modules are compiled to bytecode first, as an installed smbcrm runs (pip and the
bundle write the bytecode, and Python writes it on a first run): this machine sets
PYTHONDONTWRITEBYTECODE, and without it each reading child compiled the sources again, about
0.05 s of its start that no user waits for.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook
from python_calamine import CalamineWorkbook

import smbcrm
from smbcrm.services import exporting, importing
from smbcrm.services.customers import CustomerQuery, customer_ids
from smbcrm.services.demo import FEMALE, MALE, SURNAMES, _slug
from smbcrm.services.shop import open_shop

HEADERS = ["Código", "Nombre", "Apellidos", "Correo electrónico", "Teléfono", "Ciudad",
           "Departamento", "Fecha de nacimiento", "Etiquetas", "Notas"]  # fmt: skip


def customer_rows(count: int, rng: random.Random):
    for number in range(count):
        first = rng.choice(FEMALE + MALE)
        last = f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
        digits = f"30{number:08d}"  # unique, so every row is a new customer
        phone = f"{digits[:3]} {digits[3:6]} {digits[6:]}"
        birthday = date(1950, 1, 1) + timedelta(days=rng.randint(0, 20_000))
        yield [f"C{number:06d}", first, last, f"{_slug(first)}.{_slug(last.split()[0])}{number}@gmail.com",
               phone, "Medellín", "Antioquia", birthday.strftime("%d/%m/%Y"),
               rng.choice(["", "VIP", "Vecino", "VIP, Vecino"]), ""]  # fmt: skip


def write_customers(path: Path, count: int, rng: random.Random) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Clientes")
    sheet.append(HEADERS)
    for row in customer_rows(count, rng):
        sheet.append(row)
    book.save(path)


def calamine_read(path: Path) -> float:
    started = time.perf_counter()
    reader = CalamineWorkbook.from_path(str(path))
    for _row in reader.get_sheet_by_index(0).iter_rows():
        pass
    reader.close()
    return time.perf_counter() - started


def _rss_kib(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[str]:
    # Linux lists each thread's children: a few small reads. Scanning every process in /proc
    # instead, twenty times a second, took the interpreter lock from the import it measured.
    try:
        return [
            child
            for task in os.listdir(f"/proc/{pid}/task")
            for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        ]
    except OSError:
        pass
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(entry)
            except (OSError, ValueError, IndexError):
                continue
    return found


class _Watch:
    """The largest memory this process and its children (the import's reading child) held
    at once, sampled every 50 ms: ru_maxrss counts one process only."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.05):
            total = _rss_kib(str(me)) + sum(_rss_kib(child) for child in _children(me))
            self.peak_kib = max(self.peak_kib, total)


WATCH: _Watch | None = None


def peak_rss_mb() -> float:
    """The peak of this process, or of it and its children together when that is larger."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    together = WATCH.peak_kib if WATCH is not None else 0
    return round(max(own, together) / 1024, 1)


_INLINE_CELL = re.compile(rb'(<c r="[A-Z]+[0-9]+") t="inlineStr"><is><t>(.*?)</t></is></c>')
_SHEET = "xl/worksheets/sheet1.xml"


def share_strings(source: Path, target: Path) -> None:
    """A copy of an openpyxl workbook with its strings in xl/sharedStrings.xml, one entry per
    distinct string, as Excel writes them."""
    index: dict[bytes, int] = {}

    def shared(found: re.Match) -> bytes:
        number = index.setdefault(found.group(2), len(index))
        return found.group(1) + b' t="s"><v>' + str(number).encode() + b"</v></c>"

    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in original.infolist():
            if info.filename != _SHEET:
                copy.writestr(info.filename, original.read(info.filename))
                continue
            with original.open(info) as reader, copy.open(_SHEET, "w", force_zip64=True) as writer:
                carry = b""
                while block := reader.read(8 << 20):
                    data = carry + block
                    cut = data.rfind(b"</row>") + len(b"</row>")
                    data, carry = data[:cut], data[cut:]
                    writer.write(_INLINE_CELL.sub(shared, data))
                writer.write(_INLINE_CELL.sub(shared, carry))
        main = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
        with copy.open("xl/sharedStrings.xml", "w", force_zip64=True) as writer:
            writer.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="' + main + b'">')
            for text in index:
                writer.write(b"<si><t>" + text + b"</t></si>")
            writer.write(b"</sst>")


def big_xlsx(folder: Path, count: int, shared_strings: bool = False) -> dict:
    """Peak memory of importing one large workbook (run alone, so the peak is its own)."""
    source = folder / "grande.xlsx"
    write_customers(source, count, random.Random(1))
    if shared_strings:
        inline, source = source, folder / "grande-compartidas.xlsx"
        child = multiprocessing.get_context("fork").Process(
            target=share_strings, args=(inline, source)
        )
        child.start()
        child.join()
        assert child.exitcode == 0, child.exitcode
        inline.unlink()
    written_rss = peak_rss_mb()
    global WATCH
    WATCH = _Watch()  # from here on: the import and its reading child
    db = open_shop(folder / "shop.db")
    started = time.perf_counter()
    result = importing.import_customers(db, source)
    seconds = time.perf_counter() - started
    assert result.created == count, result.as_json() | {"errors": result.errors[:3]}
    db.close_for_good()
    return {"big_xlsx_rows": count, "big_xlsx_shared_strings": shared_strings,
            "big_xlsx_import_s": round(seconds, 2),
            "rss_after_writing_mb": written_rss, "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--skip-purchases", action="store_true")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--big-xlsx", type=int, default=0)
    parser.add_argument("--shared-strings", action="store_true")
    options = parser.parse_args()
    compileall.compile_dir(Path(smbcrm.__file__).parent, quiet=1)
    folder = Path(tempfile.mkdtemp(prefix="smbcrm-bench-"))
    os.environ["SMBCRM_DATA_DIR"] = str(folder)
    rng = random.Random(1)
    figures: dict = {}
    try:
        if options.big_xlsx:
            print(json.dumps(big_xlsx(folder, options.big_xlsx, options.shared_strings)))
            return
        source = folder / "clientes.xlsx"
        write_customers(source, options.customers, rng)
        calamine_s = calamine_read(source)
        global WATCH
        WATCH = _Watch()

        db = open_shop(folder / "shop.db")
        started = time.perf_counter()
        result = importing.import_customers(db, source)
        import_s = time.perf_counter() - started
        assert result.created == options.customers, result.as_json() | {"errors": result.errors[:3]}
        figures |= {"customers": options.customers, "import_100k_xlsx_s": round(import_s, 2),
                    "calamine_read_100k_s": round(calamine_s, 2),
                    "import_ratio": round(import_s / calamine_s, 2)}  # fmt: skip

        if not options.skip_purchases:
            sales = folder / "ventas.csv"
            emails = [row[0] for row in db.execute_sql("SELECT email FROM customer")]
            with sales.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(
                    ["Correo", "Fecha", "Factura", "Producto", "Categoría", "Cantidad", "Total"]
                )
                for line in range(options.lines):
                    receipt = line // 2
                    day = date(2025, 1, 1) + timedelta(days=receipt % 700)
                    writer.writerow([emails[receipt % len(emails)], day.isoformat(), f"F-{receipt}",
                                     f"Producto {line % 60}", f"Categoría {line % 10}", 1, 12_500])  # fmt: skip
            started = time.perf_counter()
            purchases = importing.import_purchases(db, sales)
            purchases_s = time.perf_counter() - started
            assert purchases.created == options.lines, purchases.as_json() | {
                "errors": purchases.errors[:3]
            }
            figures |= {
                "purchase_lines": options.lines,
                "purchases_1m_csv_s": round(purchases_s, 2),
            }

        if not options.skip_export:
            started = time.perf_counter()
            exporting.export_customers(db, folder / "salida.xlsx")
            export_s = time.perf_counter() - started
            ids = customer_ids(db, CustomerQuery())
            rows = list(exporting._customer_rows(db, ids, []))
            started = time.perf_counter()
            plain = Workbook(write_only=True)
            plain_sheet = plain.create_sheet("Clientes")
            for row in rows:
                plain_sheet.append(row)
            plain.save(folder / "plain.xlsx")
            openpyxl_s = time.perf_counter() - started
            figures |= {"export_100k_xlsx_s": round(export_s, 2),
                        "openpyxl_write_100k_s": round(openpyxl_s, 2),
                        "export_ratio": round(export_s / openpyxl_s, 2)}  # fmt: skip
        db.close_for_good()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(figures | {"peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    sys.exit(main())
