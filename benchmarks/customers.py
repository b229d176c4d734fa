"""Customers page figures on a 100,000-customer demo shop; prints one JSON object as its last line.

    .venv/bin/python benchmarks/customers.py [--customers N] [--db EXISTING_DEMO.db]

first_paint_s: Customers page created to its first rows painted; rss_mb: the process's peak
memory then (the whole app, window included); search_p95_ms: per keystroke while typing real
queries (ids of the result + the first page of rows, as the page does); profile_open_ms: a
customer with 500 timeline events, profile dialog built and its first timeline page shown.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

QUERIES = ("maria gomez", "300 123", "+57 315", "medellin", "vecino", "gmail", "juan david",
           "lopez", "cali", "3104")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="a demo shop made earlier (copied, not changed)")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="smbcrm-bench-"))
    os.environ["SMBCRM_DATA_DIR"] = str(folder)
    db_path = folder / "shop.db"
    if options.db:
        shutil.copy(options.db, db_path)
    else:
        subprocess.run(
            [sys.executable, "-m", "smbcrm", "--db", str(db_path), "demo", "--customers",
             str(options.customers)],
            check=True, capture_output=True,
        )  # fmt: skip
    try:
        print(json.dumps(measure(db_path)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(db_path: Path) -> dict[str, float]:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from smbcrm.models.tables import Customer, Purchase
    from smbcrm.services.customers import CustomerLister, CustomerQuery, add_note, customer_rows
    from smbcrm.services.shop import open_shop

    from smbcrm.ui.application import create_application
    from smbcrm.ui.customers.page import CustomersPage
    from smbcrm.ui.customers.profile_dialog import ProfileDialog
    from smbcrm.ui.main_window import build_context

    app: QApplication = create_application(sys.argv[:1])
    db = open_shop(db_path)
    context = build_context(db)

    started = time.perf_counter()
    page = CustomersPage(context)
    page.resize(1100, 700)
    page.show()
    loaded = QEventLoop()
    page.model.modelReset.connect(loaded.quit)
    page.refresh()
    loaded.exec()  # waits like the real event loop does, without spinning against the worker
    page.table.viewport().repaint()
    app.processEvents()
    first_paint = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    lister = CustomerLister(db)
    lister.ids(CustomerQuery())  # the page has read the list order once already
    timings = []
    for text in QUERIES:
        for end in range(1, len(text) + 1):
            began = time.perf_counter()
            ids = lister.ids(CustomerQuery(text=text[:end]))
            customer_rows(db, ids[:200])
            timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    search_p95 = timings[int(len(timings) * 0.95) - 1]

    busy = Customer.select().order_by(Customer.purchase_count.desc()).first()
    purchases = Purchase.select().where(Purchase.customer == busy.id).count()
    with db.atomic():
        for day in range(max(0, 450 - purchases)):
            Purchase.create(customer=busy.id, purchased_at=datetime(2025, 1, 1) + timedelta(hours=day),
                            total=100_000, currency="COP")  # fmt: skip
        for number in range(50):
            add_note(db, busy.id, f"Nota de prueba {number}")
    events = db.execute_sql(
        "SELECT (SELECT COUNT(*) FROM purchase WHERE customer_id = ?) + "
        "(SELECT COUNT(*) FROM activity WHERE customer_id = ?)", (busy.id, busy.id)
    ).fetchone()[0]  # fmt: skip
    opened = []
    for _attempt in range(5):
        began = time.perf_counter()
        dialog = ProfileDialog(context, busy.id)
        dialog.show()
        dialog.tabs.setCurrentIndex(1)
        app.processEvents()
        opened.append((time.perf_counter() - began) * 1000)
        dialog.close()
        dialog.deleteLater()
        app.processEvents()
    context.runner.wait()
    customers = Customer.select().count()
    db.close_for_good()
    return {
        "customers": customers,
        "first_paint_s": round(first_paint, 3),
        "rss_mb": round(rss_mb, 1),
        "search_p95_ms": round(search_p95, 1),
        "search_median_ms": round(statistics.median(timings), 1),
        "profile_open_ms": round(statistics.median(opened), 1),
        "profile_timeline_events": events,
    }


if __name__ == "__main__":
    main()
