"""Start-up figures on a 100,000-customer demo shop; prints one JSON object as its last line.

    .venv/bin/python benchmarks/startup.py [--customers N] [--runs R]

window_shown_s: process start to main window shown (median of R runs, offscreen unless DISPLAY
is set); rss_mb: peak memory of the app at that moment; demo_100k_s: `smbcrm demo` of N customers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def smbcrm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smbcrm", *args], env=env, capture_output=True, text=True, check=True
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smbcrm-bench-") as folder:
        env = {**os.environ, "SMBCRM_DATA_DIR": folder, "SMBCRM_LANGUAGE": "es"}
        if not env.get("DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        db = str(Path(folder) / "shop.db")
        started = time.perf_counter()
        smbcrm("--db", db, "demo", "--customers", str(options.customers), env=env)
        demo_s = time.perf_counter() - started

        shown, memory = [], []
        report = Path(folder) / "shown.json"
        for _run in range(options.runs):
            report.unlink(missing_ok=True)
            started_at = time.time()
            subprocess.run(
                [sys.executable, "-m", "smbcrm", "--db", db],
                env={**env, "SMBCRM_REPORT_SHOWN": str(report)},
                check=True,
                timeout=120,
            )
            figures = json.loads(report.read_text())
            shown.append(figures["shown_at"] - started_at)
            memory.append(figures["rss_mb"])
    result = {
        "customers": options.customers,
        "window_shown_s": round(statistics.median(shown), 3),
        "window_shown_worst_s": round(max(shown), 3),
        "rss_mb": round(max(memory), 1),
        "demo_100k_s": round(demo_s, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
