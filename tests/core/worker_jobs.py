"""Jobs for test_worker_process: module-level, so a spawned child can import them by name."""

from __future__ import annotations

import os
import time

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _, format_count


def count_up(batches: int, size: int):
    for start in range(0, batches * size, size):
        yield list(range(start, start + size))


def refuse_after(good: int):
    yield from ([number] for number in range(good))
    raise UserError(_("The file {name} is empty.").format(name="x.csv"))


def refuse_a_count(number: int):
    yield []
    raise UserError(_("The table has more than {limit} rows, more than smbcrm can import at once. "
                      "Split the file into smaller files and import them one by one.").format(
        limit=format_count(number)
    ))  # fmt: skip


def fail_with_a_bug():
    yield [1]
    raise KeyError("a bug")


def die_hard():
    yield [os.getpid()]
    os._exit(3)


def endless(pid_file: str):
    with open(pid_file, "w") as handle:
        handle.write(str(os.getpid()))
    while True:
        yield [0] * 1000
        time.sleep(0.001)


def unpicklable():
    import threading

    yield [threading.Lock()]
