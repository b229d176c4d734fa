"""A process killed with SIGKILL while writing leaves a sound file: each transaction all or nothing."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest

from smbcrm.services.backup import check_database
from smbcrm.services.shop import open_shop

CUSTOMERS = 1_500
WRITER = """
import sys
from smbcrm.services.demo import create_demo_shop
from smbcrm.services.shop import open_shop
db = open_shop(sys.argv[1])
print("ready", flush=True)
create_demo_shop(db, int(sys.argv[2]), seed=int(sys.argv[3]))
print("done", flush=True)
"""


def run_writer(path, seed, kill_after=None):
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(CUSTOMERS), str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready"
    started = time.monotonic()
    if kill_after is None:
        child.wait(timeout=60)
    else:
        time.sleep(kill_after)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    return time.monotonic() - started


def counts(db):
    tables = ("customer", "customer_tag", "category", "product", "purchase", "purchase_line")
    return {t: db.execute_sql(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_half_a_transaction(tmp_path):
    full_time = run_writer(tmp_path / "reference.db", seed=1)
    reference = open_shop(tmp_path / "reference.db")
    complete = counts(reference)
    reference.close_for_good()
    assert complete["customer"] == CUSTOMERS

    rng = random.Random(20261122)
    outcomes = {"absent": 0, "present": 0}
    for attempt in range(20):
        path = tmp_path / f"killed-{attempt}.db"
        run_writer(path, seed=1, kill_after=rng.uniform(0, full_time * 1.2))
        db = open_shop(path)
        try:
            assert check_database(db).ok
            found = counts(db)
            settings = db.execute_sql("SELECT COUNT(*) FROM setting").fetchone()[0]
        finally:
            db.close_for_good()
        if found["customer"] == 0:
            assert set(found.values()) == {0} and settings == 0
            outcomes["absent"] += 1
        else:
            assert found == complete and settings > 0
            outcomes["present"] += 1
    print(outcomes)
    assert sum(outcomes.values()) == 20
