"""A generator in a child process: batches arrive in order, errors arrive as they were, Cancel
ends the child. Real spawned processes, as an import uses them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import current_language, set_language, set_message_locale
from smbcrm.core.worker_process import WorkerCrashed, batches
from tests.core import worker_jobs


@pytest.mark.parametrize("in_child", [True, False])
def test_batches_arrive_whole_and_in_order(in_child):
    received = list(batches(worker_jobs.count_up, 50, 200, in_child=in_child))
    assert [number for batch in received for number in batch] == list(range(10_000))


def test_a_user_error_in_the_child_arrives_translated_as_the_window_speaks():
    before = current_language()
    set_language("es")
    try:
        received = []
        with pytest.raises(UserError) as raised:
            for batch in batches(worker_jobs.refuse_after, 3, in_child=True):
                received.extend(batch)
    finally:
        set_language(before)
    assert received == [0, 1, 2]
    assert raised.value.message == "El archivo x.csv está vacío."


def test_numbers_in_the_childs_messages_are_written_as_the_shop_writes_them():
    set_language("es")
    for locale, written in (("es_CO", "2.000.000"), ("es_MX", "2,000,000")):
        set_message_locale(locale)
        with pytest.raises(UserError, match=f"más de {written} filas"):
            for _batch in batches(worker_jobs.refuse_a_count, 2_000_000, in_child=True):
                pass


def test_a_bug_in_the_child_arrives_with_its_trace():
    with pytest.raises(WorkerCrashed, match="KeyError: 'a bug'"):
        list(batches(worker_jobs.fail_with_a_bug, in_child=True))


def test_a_child_that_dies_is_reported_not_waited_for():
    with pytest.raises(WorkerCrashed, match="exit code 3"):
        list(batches(worker_jobs.die_hard, in_child=True))


def test_closing_the_batches_ends_the_child(tmp_path):
    pid_file = tmp_path / "child.pid"
    stream = batches(worker_jobs.endless, str(pid_file), in_child=True)
    next(stream)
    child = int(pid_file.read_text())
    stream.close()  # what Cancel does, through the import's finally
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the child process is still running")


def test_a_batch_that_cannot_be_sent_arrives_as_a_crash_with_its_trace():
    with pytest.raises(WorkerCrashed, match="pickle"):
        list(batches(worker_jobs.unpicklable, in_child=True))


@pytest.mark.parametrize("run_as", ["script", "module"])
def test_the_child_does_not_run_the_parents_main_module(tmp_path, run_as):
    # The installed smbcrm command is a script that imports the whole program: a child that ran
    # it first (spawn does, as __mp_main__, for a script or a module run with python -m) would
    # start later for nothing.
    marker = tmp_path / "ran"
    script = tmp_path / "launcher.py"
    script.write_text(
        "import sys\n"
        f"sys.path[:0] = {[str(Path(__file__).parents[2])]!r}\n"
        "if __name__ != '__main__':\n"
        f"    open({str(marker)!r}, 'a').write(__name__)\n"
        "from smbcrm.core.worker_process import batches\n"
        "from tests.core import worker_jobs\n"
        "if __name__ == '__main__':\n"
        "    before = (__file__, __spec__)\n"
        "    received = list(batches(worker_jobs.count_up, 3, 10, in_child=True))\n"
        "    print(sum(map(len, received)), (__file__, __spec__) == before)\n",
        encoding="utf-8",
    )
    command = (
        [sys.executable, str(script)] if run_as == "script" else [sys.executable, "-m", "launcher"]
    )
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path
    )
    assert done.stdout.split() == ["30", "True"], done.stderr
    assert not marker.exists()
