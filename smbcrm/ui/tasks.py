"""Long work on a worker thread: progress dialog with Cancel, and one default error path."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import shiboken6

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _
from smbcrm.core.paths import log_file
from smbcrm.core.progress import Cancelled, CancelToken

log = logging.getLogger(__name__)
SHOW_PROGRESS_AFTER_MS = 400

# fn(progress, cancel) -> result; progress(done, total, message)
Work = Callable[[Callable[[int, int, str], None], CancelToken], Any]


class _Signals(QObject):
    progress = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(object, str)
    cancelled = Signal()


def _run_work(
    work: Work, token: CancelToken, signals: _Signals, after: Callable[[], None] | None
) -> None:
    """On a worker thread. The outcome is emitted last, after the clean-up, so nothing on this
    thread touches the task once the window has heard how it ended."""
    outcome: tuple[Any, ...]
    try:
        outcome = (signals.succeeded, work(signals.progress.emit, token))
    except Cancelled:
        outcome = (signals.cancelled,)
    except Exception as error:  # every failure reaches the one error path
        outcome = (signals.failed, error, traceback.format_exc())
    finally:
        if after is not None:
            try:
                after()
            except Exception:
                log.exception("clean-up after background work failed")
    signal, *arguments = outcome
    signal.emit(*arguments)


def is_damaged_file_error(error: BaseException) -> bool:
    text = str(error).lower()
    return "malformed" in text or "file is not a database" in text


def show_error(parent: QWidget | None, error: BaseException, details: str = "") -> None:
    """The default error path: a UserError's message as it is; anything else is a bug."""
    if isinstance(error, UserError):
        QMessageBox.warning(parent, _("smbcrm"), error.message)
        return
    if is_damaged_file_error(error):
        log.error("damaged shop file: %s\n%s", error, details)
        QMessageBox.critical(
            parent,
            _("smbcrm"),
            _(
                "The shop file is damaged and the last action could not be saved. "
                "Restore a recent backup from File > Restore from backup…"
            ),
        )
        return
    log.error("unexpected error: %s\n%s", error, details)
    QMessageBox.critical(
        parent,
        _("smbcrm"),
        _(
            "Something went wrong and the last action did not finish. Your data is safe. "
            "The details are in the log: {path}"
        ).format(path=log_file()),
    )


def install_exception_hook() -> None:
    """An exception escaping a slot is a bug: log it, tell the user, keep the window alive."""

    def hook(kind, error, trace) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, trace)
            return
        show_error(None, error, "".join(traceback.format_exception(kind, error, trace)))

    sys.excepthook = hook


class Task(QObject):
    """One running piece of work; keeps itself alive until it ends."""

    finished = Signal()

    def __init__(
        self,
        runner: TaskRunner,
        work: Work,
        *,
        title: str,
        parent: QWidget | None,
        on_success: Callable[[Any], None] | None,
        on_failure: Callable[[BaseException], None] | None,
        cancellable: bool,
        show_progress: bool,
    ) -> None:
        super().__init__()
        self.runner = runner
        self.token = CancelToken()
        self.on_success = on_success
        self.on_failure = on_failure
        self.parent_widget = parent
        self.dialog: QProgressDialog | None = None
        # Results for a window that is gone are dropped, not delivered to dead widgets.
        self.abandoned = False
        if parent is not None:
            parent.destroyed.connect(self._abandon)
        if show_progress:
            dialog = QProgressDialog(title, _("Cancel") if cancellable else "", 0, 0, parent)
            dialog.setWindowTitle(title)
            dialog.setWindowModality(Qt.WindowModality.WindowModal)
            # Shown only if the work lasts: quick work should not flash a dialog.
            dialog.setMinimumDuration(1_000_000)
            QTimer.singleShot(SHOW_PROGRESS_AFTER_MS, self._show_dialog)
            dialog.setMinimumWidth(420)
            dialog.setAutoClose(False)
            dialog.setAutoReset(False)
            if not cancellable:
                dialog.setCancelButton(None)
            dialog.canceled.connect(self.cancel)
            self.dialog = dialog
        self.signals = signals = _Signals()
        self.work = work
        self.future: Future | None = None
        signals.progress.connect(self._progress, Qt.ConnectionType.QueuedConnection)
        signals.succeeded.connect(self._succeeded, Qt.ConnectionType.QueuedConnection)
        signals.failed.connect(self._failed, Qt.ConnectionType.QueuedConnection)
        signals.cancelled.connect(self._cancelled, Qt.ConnectionType.QueuedConnection)

    def _abandon(self, *_args) -> None:
        self.abandoned = True
        self.token.cancel()
        self.dialog = None  # it was a child of the window that went

    def _owner_alive(self) -> bool:
        return not self.abandoned and (
            self.parent_widget is None or shiboken6.isValid(self.parent_widget)
        )

    def _show_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.show()

    def cancel(self) -> None:
        self.token.cancel()
        if self.dialog is not None:
            self.dialog.setLabelText(_("Cancelling…"))

    def _progress(self, done: int, total: int, message: str) -> None:
        if self.dialog is None or self.token.cancelled:
            return
        self.dialog.setMaximum(max(total, 0))
        self.dialog.setValue(min(done, total) if total else 0)
        if message:
            self.dialog.setLabelText(message)

    def _close_dialog(self) -> None:
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def _succeeded(self, result: Any) -> None:
        self._close_dialog()
        try:
            if self.on_success is not None and self._owner_alive():
                self.on_success(result)
        except Exception as error:  # a bug in the window's follow-up: same error path
            show_error(self.parent_widget, error, traceback.format_exc())
        finally:
            self._end()

    def _failed(self, error: BaseException, details: str) -> None:
        self._close_dialog()
        try:
            if not self._owner_alive():
                log.error("background work failed after its window closed: %s\n%s", error, details)
            elif self.on_failure is not None:
                self.on_failure(error)
            else:
                show_error(self.parent_widget, error, details)
        finally:
            self._end()

    def _cancelled(self) -> None:
        self._close_dialog()
        self._end()

    def start(self, executor: ThreadPoolExecutor) -> None:
        self.future = executor.submit(
            _run_work, self.work, self.token, self.signals, self.runner.after_each
        )

    def _end(self) -> None:
        # The worker's last act was the emit that brought us here; let it return before the
        # signals object can go away with this task.
        if self.future is not None:
            self.future.result()
        self.finished.emit()
        self.runner.running.discard(self)


class TaskRunner(QObject):
    """Runs work on a thread pool; after each piece, the worker closes its database connection."""

    def __init__(self, after_each: Callable[[], None] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="smbcrm-task")
        # Work that lasts hours (a campaign waiting on its provider's limits) has threads of its
        # own, so it never keeps the window's short tasks waiting.
        self.long_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="smbcrm-long")
        self.after_each = after_each
        self.running: set[Task] = set()

    def run(
        self,
        work: Work,
        *,
        parent: QWidget | None,
        title: str = "",
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        cancellable: bool = True,
        show_progress: bool = True,
        long_running: bool = False,
    ) -> Task:
        task = Task(
            self,
            work,
            title=title,
            parent=parent,
            on_success=on_success,
            on_failure=on_failure,
            cancellable=cancellable,
            show_progress=show_progress,
        )
        self.running.add(task)
        task.start(self.long_executor if long_running else self.executor)
        return task

    def wait(self, msecs: int = -1) -> bool:
        """Block until the work now running has finished (its results are delivered later)."""
        futures = [task.future for task in self.running if task.future is not None]
        _done, pending = wait(futures, timeout=None if msecs < 0 else msecs / 1000)
        return not pending
