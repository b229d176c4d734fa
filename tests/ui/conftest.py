"""Qt fixtures: one offscreen application, window settings in a temporary folder, modal answers."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest

from PySide6.QtCore import QCoreApplication, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from smbcrm.core.i18n import set_language

from smbcrm.ui.application import create_application
from smbcrm.ui.language import apply_language
from smbcrm.ui.main_window import MainWindow, build_context


@pytest.fixture(scope="session")
def qapp_cls():
    return QApplication


@pytest.fixture(scope="session", autouse=True)
def _tear_down_qt_before_python(qapp):
    """Deliver every queued event and destroy Qt's objects while Python can still free theirs."""
    yield
    qapp.processEvents()
    QCoreApplication.sendPostedEvents(None, 0)
    gc.collect()
    if hasattr(qapp, "shutdown"):
        qapp.shutdown()


@pytest.fixture(autouse=True)
def window_settings(tmp_path, qapp):
    create_application([])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings")
    )
    QCoreApplication.setOrganizationName("smbcrm-tests")
    apply_language("en")
    yield
    set_language("en")


def answer_modal(kind: type, action: Callable[[QWidget], None], timeout_ms: int = 10_000):
    """Run action on the next modal window of type kind, once it is open."""
    waited = [0]

    def poll() -> None:
        widget = QApplication.activeModalWidget()
        if isinstance(widget, kind) and widget.isVisible():
            action(widget)
        elif waited[0] < timeout_ms:
            waited[0] += 20
            QTimer.singleShot(20, poll)

    QTimer.singleShot(0, poll)


@pytest.fixture
def open_window(qtbot):
    """Open the real main window on a shop; waits for its background work when closing."""
    windows = []

    def opener(db) -> MainWindow:
        window = MainWindow(build_context(db))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield opener
    for window in windows:
        window._close_backup_done = True  # the backup on closing has a test of its own
        window.close()
        window.context.runner.wait(20_000)
        QApplication.processEvents()  # deliver their results while the widgets still exist


def wait_idle(qtbot, window: MainWindow, timeout: int = 20_000) -> None:
    qtbot.waitUntil(lambda: not window.context.runner.running, timeout=timeout)
