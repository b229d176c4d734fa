"""Starting the window: the Qt application, opening the shop file (or explaining why not)."""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from smbcrm import APP_ID, APP_NAME, __version__
from smbcrm.core.errors import DatabaseFileError, UserError
from smbcrm.core.i18n import DEFAULT_LANGUAGE, _, environment_language
from smbcrm.core.paths import RESOURCES
from smbcrm.models.database import ShopDatabase
from smbcrm.services.backup import list_backups, replace_file_with_backup
from smbcrm.services.settings import shop_profile
from smbcrm.services.shop import open_shop

from smbcrm.ui.language import apply_language
from smbcrm.ui.main_window import MainWindow, build_context
from smbcrm.ui.restore_dialog import RestoreDialog
from smbcrm.ui.tasks import install_exception_hook, show_error

log = logging.getLogger(__name__)
SHOP_FILTER = "smbcrm (*.db *.sqlite);;*"


def create_application(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication(argv)
    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)
    QApplication.setDesktopFileName(APP_ID)
    icon = RESOURCES / "icons" / "smbcrm.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def _restore_damaged(path: Path) -> bool:
    """Put a backup in place of a file that cannot be opened; the damaged one is kept aside."""
    dialog = RestoreDialog(list_backups(path))
    if dialog.exec() != RestoreDialog.DialogCode.Accepted or dialog.chosen is None:
        return False
    try:
        aside = replace_file_with_backup(path, dialog.chosen)
    except UserError as error:
        show_error(None, error)
        return False
    QMessageBox.information(
        None,
        _("Restore from a backup"),
        _("The backup is in place. The file that could not be opened is kept as {path}.").format(
            path=aside
        ),
    )
    return True


def open_shop_interactively(path: Path) -> ShopDatabase | None:
    """Open the shop file; when it cannot be opened, say why and offer another file or a backup."""
    while True:
        try:
            return open_shop(path)
        except DatabaseFileError as error:
            log.warning("cannot open %s: %s", path, error)
            box = QMessageBox(QMessageBox.Icon.Warning, _("smbcrm"), error.message)
            other = box.addButton(_("Open &another file…"), QMessageBox.ButtonRole.AcceptRole)
            restore = None
            if error.can_restore:
                restore = box.addButton(_("&Restore a backup…"), QMessageBox.ButtonRole.ActionRole)
            box.addButton(_("&Quit"), QMessageBox.ButtonRole.RejectRole)
            box.exec()
            clicked = box.clickedButton()
            if clicked is other:
                chosen, _filter = QFileDialog.getSaveFileName(
                    None,
                    _("Open or create a shop file"),
                    str(path.parent),
                    SHOP_FILTER,
                    options=QFileDialog.Option.DontConfirmOverwrite,
                )
                if not chosen:
                    return None
                path = Path(chosen)
            elif restore is not None and clicked is restore:
                _restore_damaged(path)
            else:
                return None


def _report_when_shown(app: QApplication, target: str) -> None:
    """For benchmarks/startup.py: record when the window is on screen and the memory, then quit."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(target).write_text(json.dumps({"shown_at": time.time(), "rss_mb": usage / 1024}))
    app.quit()


def start_window(db: ShopDatabase) -> MainWindow:
    profile = shop_profile(db)
    apply_language(
        profile.language if profile.welcome_done else environment_language(DEFAULT_LANGUAGE)
    )
    window = MainWindow(build_context(db))
    window.show()
    return window


def run_window(path: Path, argv: list[str]) -> int:
    app = create_application(argv)
    install_exception_hook()
    apply_language(environment_language(DEFAULT_LANGUAGE))
    db = open_shop_interactively(Path(path))
    if db is None:
        return 1
    try:
        window = start_window(db)
        report = os.environ.get("SMBCRM_REPORT_SHOWN")
        if report:
            QTimer.singleShot(0, lambda: _report_when_shown(app, report))
        else:
            QTimer.singleShot(0, window.run_welcome_if_needed)
        status = app.exec()
        window.context.runner.wait()
        return status
    finally:
        db.close_for_good()


def selftest_window(path: Path) -> int:
    """Open the real main window on a throwaway shop, visit every page, close; 0 when it works."""
    app = create_application(sys.argv[:1])
    db = open_shop(path)
    try:
        window = start_window(db)
        for index in range(len(window.PAGES)):
            window.show_page(index)
            app.processEvents()
        ok = window.isVisible() and window.stack.count() == len(window.PAGES)
        window.context.runner.wait(10_000)
        app.processEvents()
        window.context.runner.wait(10_000)
        window.hide()
        window.deleteLater()
        app.processEvents()
        print("selftest ok" if ok else "selftest FAILED")
        return 0 if ok else 1
    finally:
        db.close_for_good()
