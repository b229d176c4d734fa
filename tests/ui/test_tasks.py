"""The background task runner: results, cancel from the progress dialog, one error path."""

from __future__ import annotations

import threading
import time

from PySide6.QtWidgets import QMessageBox, QPushButton

from smbcrm.core.errors import UserError
from tests.ui.conftest import answer_modal

from smbcrm.ui.tasks import TaskRunner


def test_work_runs_off_the_window_thread_and_reports_back(qtbot):
    runner = TaskRunner()
    results, progress_seen = [], []

    def work(progress, cancel):
        progress(1, 2, "half")
        return threading.current_thread().name

    task = runner.run(work, on_success=results.append, show_progress=False, parent=None)
    task.signals.progress.connect(lambda done, total, message: progress_seen.append(message))
    qtbot.waitUntil(lambda: bool(results))
    assert results[0].startswith("smbcrm-task")
    assert not runner.running


def test_cancel_in_the_progress_dialog_stops_the_work(qtbot):
    runner = TaskRunner()
    outcome = []

    def work(progress, cancel):
        for step in range(500):
            progress(step, 500, "working")
            cancel.raise_if_cancelled()
            time.sleep(0.01)
        outcome.append("finished")

    task = runner.run(work, title="Long work", on_success=outcome.append, parent=None)
    qtbot.waitUntil(lambda: task.dialog is not None and task.dialog.isVisible(), timeout=5000)
    cancel_button = task.dialog.findChild(QPushButton)
    assert cancel_button.text() == "Cancel"
    cancel_button.click()
    qtbot.waitUntil(lambda: not runner.running, timeout=5000)
    assert outcome == []


def test_a_user_error_is_shown_as_its_message(qtbot):
    runner = TaskRunner()
    shown = []
    answer_modal(QMessageBox, lambda box: (shown.append(box.text()), box.accept()))

    def work(progress, cancel):
        raise UserError("That file is not a spreadsheet.")

    runner.run(work, show_progress=False, parent=None)
    qtbot.waitUntil(lambda: bool(shown))
    assert shown == ["That file is not a spreadsheet."]


def test_a_bug_is_logged_and_shown_as_something_went_wrong(qtbot, caplog):
    runner = TaskRunner()
    shown = []
    answer_modal(QMessageBox, lambda box: (shown.append(box.text()), box.accept()))

    def work(progress, cancel):
        return 1 / 0

    runner.run(work, show_progress=False, parent=None)
    qtbot.waitUntil(lambda: bool(shown))
    assert shown[0].startswith("Something went wrong")
    assert "ZeroDivisionError" in caplog.text


def test_clean_up_runs_on_the_worker_after_each_piece_of_work(qtbot):
    threads = []
    runner = TaskRunner(after_each=lambda: threads.append(threading.current_thread().name))
    done = []
    runner.run(
        lambda progress, cancel: None, on_success=done.append, show_progress=False, parent=None
    )
    qtbot.waitUntil(lambda: bool(done))
    assert threads and threads[0].startswith("smbcrm-task")


def test_results_for_a_closed_window_are_dropped(qtbot):
    import threading

    from PySide6.QtWidgets import QWidget

    runner = TaskRunner()
    owner = QWidget()
    release = threading.Event()
    delivered = []

    def work(progress, cancel):
        release.wait(5)
        return "late"

    task = runner.run(work, parent=owner, on_success=delivered.append, show_progress=False)
    owner.deleteLater()
    qtbot.waitUntil(lambda: task.abandoned)
    release.set()
    qtbot.waitUntil(lambda: not runner.running)
    assert delivered == []
