"""Long work on a worker thread: progress dialog with Cancel, and one default error path."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _
from smbcrm.core.paths import log_file
from smbcrm.core.progress import Cancelled, CancelToken

log = logging.getLogger(__name__)

# fn(progress, cancel) -> result; progress(done, total, message)
Work = Callable[[Callable[[int, int, str], None], CancelToken], Any]


class _Signals(QObject):
    progress = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(object, str)
    cancelled = Signal()


class _Worker(QRunnable):
    def __init__(self, work: Work, token: CancelToken, after: Callable[[], None] | None) -> None:
        super().__init__()
        self.work = work
        self.token = token
        self.after = after
        self.signals = _Signals()

    def run(self) -> None:
        try:
            result = self.work(self.signals.progress.emit, self.token)
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as error:  # every failure reaches the one error path
            self.signals.failed.emit(error, traceback.format_exc())
        else:
            self.signals.succeeded.emit(result)
        finally:
            if self.after is not None:
                self.after()


def show_error(parent: QWidget | None, error: BaseException, details: str = "") -> None:
    """The default error path: a UserError's message as it is; anything else is a bug."""
    if isinstance(error, UserError):
        QMessageBox.warning(parent, _("smbcrm"), error.message)
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
        if show_progress:
            dialog = QProgressDialog(title, _("Cancel") if cancellable else "", 0, 0, parent)
            dialog.setWindowTitle(title)
            dialog.setWindowModality(Qt.WindowModality.WindowModal)
            dialog.setMinimumDuration(400)
            dialog.setMinimumWidth(420)
            dialog.setAutoClose(False)
            dialog.setAutoReset(False)
            if not cancellable:
                dialog.setCancelButton(None)
            dialog.canceled.connect(self.cancel)
            self.dialog = dialog
        self.worker = _Worker(work, self.token, runner.after_each)
        signals = self.worker.signals
        signals.progress.connect(self._progress, Qt.ConnectionType.QueuedConnection)
        signals.succeeded.connect(self._succeeded, Qt.ConnectionType.QueuedConnection)
        signals.failed.connect(self._failed, Qt.ConnectionType.QueuedConnection)
        signals.cancelled.connect(self._cancelled, Qt.ConnectionType.QueuedConnection)

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
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def _succeeded(self, result: Any) -> None:
        self._close_dialog()
        try:
            if self.on_success is not None:
                self.on_success(result)
        except Exception as error:  # a bug in the window's follow-up: same error path
            show_error(self.parent_widget, error, traceback.format_exc())
        finally:
            self._end()

    def _failed(self, error: BaseException, details: str) -> None:
        self._close_dialog()
        try:
            if self.on_failure is not None:
                self.on_failure(error)
            else:
                show_error(self.parent_widget, error, details)
        finally:
            self._end()

    def _cancelled(self) -> None:
        self._close_dialog()
        self._end()

    def _end(self) -> None:
        self.runner.running.discard(self)
        self.finished.emit()


class TaskRunner(QObject):
    """Runs work on a thread pool; after each piece, the worker closes its database connection."""

    def __init__(self, after_each: Callable[[], None] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self.after_each = after_each
        self.running: set[Task] = set()

    def run(
        self,
        work: Work,
        *,
        title: str = "",
        parent: QWidget | None = None,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        cancellable: bool = True,
        show_progress: bool = True,
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
        self.pool.start(task.worker)
        return task

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)
