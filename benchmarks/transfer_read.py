"""Reading speed of smbcrm.transfer against python-calamine alone; prints one JSON line.

Keys: calamine_read_100k_s (python-calamine alone, 100,000 x 10 xlsx), open_table_read_100k_s
(open_table + Table.rows over the same file), csv_read_1m_s (1,000,000-row CSV through
Table.rows), peak_rss_mb (peak resident memory of this process).
"""

from __future__ import annotations

import csv
import json
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import python_calamine
from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smbcrm.transfer.tables import open_table  # noqa: E402

HEADERS = [
    "Nombre",
    "Apellidos",
    "Correo electrónico",
    "Teléfono",
    "Ciudad",
    "Departamento",
    "Fecha de nacimiento",
    "Código",
    "Total compras",
    "Notas",
]
CITIES = ["Bogotá", "Medellín", "Cali", "Barranquilla", "Cartagena", "Bucaramanga"]


def customer_row(index: int) -> list:
    return [
        f"Nombre{index}",
        f"Apellido{index % 977}",
        f"cliente{index}@example.com",
        3_000_000_000 + index,
        CITIES[index % len(CITIES)],
        "Antioquia",
        date(1960, 1, 1) + timedelta(days=index % 15_000),
        f"C{index:07d}",
        (index % 500) * 1_000.5,
        "cliente frecuente" if index % 3 == 0 else None,
    ]


def write_xlsx(path: Path, rows: int) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Clientes")
    sheet.append(HEADERS)
    for index in range(rows):
        sheet.append(customer_row(index))
    workbook.save(path)


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream, delimiter=";")
        writer.writerow(["Email cliente", "Fecha", "Producto", "Categoría", "Cantidad", "Total"])
        for index in range(rows):
            writer.writerow(
                [
                    f"cliente{index % 100_000}@example.com",
                    f"{1 + index % 28:02d}/{1 + index % 12:02d}/2025",
                    f"Producto {index % 300}",
                    "Café" if index % 2 else "Pan",
                    1 + index % 4,
                    f"{(index % 900) * 100},50",
                ]
            )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        xlsx = Path(folder) / "clientes.xlsx"
        big_csv = Path(folder) / "compras.csv"
        write_xlsx(xlsx, 100_000)
        write_csv(big_csv, 1_000_000)

        started = time.perf_counter()
        workbook = python_calamine.CalamineWorkbook.from_path(str(xlsx))
        sheet = workbook.get_sheet_by_name(workbook.sheet_names[0])
        calamine_rows = sum(1 for _row in sheet.iter_rows())
        workbook.close()
        calamine_seconds = time.perf_counter() - started

        started = time.perf_counter()
        with open_table(xlsx) as table:
            table_rows = sum(1 for _row in table.rows())
        table_seconds = time.perf_counter() - started

        started = time.perf_counter()
        with open_table(big_csv) as table:
            csv_rows = sum(1 for _row in table.rows())
        csv_seconds = time.perf_counter() - started

    assert calamine_rows == 100_001 and table_rows == 100_000 and csv_rows == 1_000_000
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "calamine_read_100k_s": round(calamine_seconds, 3),
                "open_table_read_100k_s": round(table_seconds, 3),
                "open_table_ratio": round(table_seconds / calamine_seconds, 2),
                "csv_read_1m_s": round(csv_seconds, 3),
                "peak_rss_mb": round(peak_kib / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
