"""Segment figures on a demo shop of 100,000 customers (about 1,000,000 purchase lines); prints
one JSON object as its last line.

    .venv/bin/python benchmarks/segments.py [--customers N] [--cache DIR]

three_condition_count_ms: the live count (count and example names) of: city is Bogotá or
Medellín AND bought from the category "Calzado" in the last 180 days AND spent at least
500,000 COP in the last 365 days (median of 5 runs after one warm-up; the cold first run is
printed too). builtins_and_rfm_s: the counts of every built-in segment (new, active, at risk,
lapsed, top customers, value tiers) and the RFM grid (median of 3).

The demo shop is a grocery store: its "Café" category (about 1 line in 7) is renamed "Calzado"
in the benchmark's copy so the rule reads as the issue wrote it. The demo file is cached in
/tmp between runs (it takes about 30 s to make).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def cached_demo(customers: int, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"segments-demo-{customers}-{date.today()}.db"
    if not path.exists():
        for old in cache.glob(f"segments-demo-{customers}-*.db*"):
            old.unlink()
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        subprocess.run(
            [sys.executable, "-m", "smbcrm", "--db", str(partial), "demo", "--customers",
             str(customers)],
            check=True, capture_output=True,
        )  # fmt: skip
        partial.rename(path)
        Path(f"{partial}.lock").unlink(missing_ok=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/smbcrm-bench-cache"))
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="smbcrm-bench-"))
    os.environ["SMBCRM_DATA_DIR"] = str(folder)
    db_path = folder / "shop.db"
    shutil.copy(cached_demo(options.customers, options.cache), db_path)
    try:
        print(json.dumps(measure(db_path)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(db_path: Path) -> dict[str, float]:
    from smbcrm.core.money import to_minor
    from smbcrm.services.segments import builtin_counts, count_rule, rfm_grid
    from smbcrm.services.shop import open_shop

    db = open_shop(db_path)
    db.execute_sql("UPDATE category SET name = 'Calzado' WHERE name = 'Café'")
    category = db.execute_sql("SELECT id FROM category WHERE name = 'Calzado'").fetchone()[0]
    rule = {
        "version": 1,
        "rule": {
            "match": "all",
            "items": [
                {"type": "place", "field": "city", "op": "in", "values": ["Bogotá", "Medellín"]},
                {"type": "bought_category", "category": category, "times": 1, "days": 180},
                {"type": "total_spent", "op": "at_least", "amount": to_minor(500_000, "COP"),
                 "days": 365},
            ],
        },
    }  # fmt: skip

    def timed(work) -> float:
        started = time.perf_counter()
        work()
        return time.perf_counter() - started

    cold = timed(lambda: count_rule(db, rule))
    counts = [timed(lambda: count_rule(db, rule)) for _run in range(5)]
    matched = count_rule(db, rule).count

    def builtins() -> None:
        grid = rfm_grid(db)  # the grid the Segments page draws
        builtin_counts(db, grid=grid)  # every built-in segment, RFM groups from the grid

    everything = [timed(builtins) for _run in range(3)]
    customers = db.execute_sql("SELECT COUNT(*) FROM customer").fetchone()[0]
    lines = db.execute_sql("SELECT COUNT(*) FROM purchase_line").fetchone()[0]
    db.close_for_good()
    return {
        "customers": customers,
        "purchase_lines": lines,
        "three_condition_matches": matched,
        "three_condition_cold_ms": round(cold * 1000, 1),
        "three_condition_count_ms": round(statistics.median(counts) * 1000, 1),
        "builtins_and_rfm_s": round(statistics.median(everything), 3),
    }


if __name__ == "__main__":
    main()
