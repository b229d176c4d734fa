"""The main window: navigation column, pages, menus with shortcuts, status bar, backups."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from babel.dates import format_datetime

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QWidget,
)

from smbcrm import __version__
from smbcrm.core.dates import to_local
from smbcrm.core.i18n import _, current_language
from smbcrm.core.paths import log_file
from smbcrm.services import backup as backups
from smbcrm.services import exporting
from smbcrm.services.demo import create_demo_shop
from smbcrm.services.settings import ShopProfile, save_settings, shop_profile

from smbcrm.ui.context import ShopContext
from smbcrm.ui.customers.duplicates_dialog import DuplicatesDialog
from smbcrm.ui.customers.page import CustomersPage
from smbcrm.ui.import_history_dialog import ImportHistoryDialog
from smbcrm.ui.import_wizard import ImportWizard
from smbcrm.ui.language import apply_language
from smbcrm.ui.messages.page import MessagesPage
from smbcrm.ui.reports.page import ReportsPage
from smbcrm.ui.restore_dialog import RestoreDialog
from smbcrm.ui.segments.page import SegmentsPage
from smbcrm.ui.settings.page import SettingsPage
from smbcrm.ui.tasks import TaskRunner
from smbcrm.ui.title_page import TitlePage
from smbcrm.ui.welcome_dialog import WelcomeDialog

DEMO_CUSTOMERS = 2_000


def _page_texts() -> dict[str, tuple[Callable[[], str], Callable[[], str]]]:
    return {
        "messages": (
            lambda: _("Messages"),
            lambda: _("Personal emails to your customers, sent from your own account."),
        ),
        "loyalty": (
            lambda: _("Loyalty"),
            lambda: _("Points, rewards and levels for the customers who come back."),
        ),
        "surveys": (
            lambda: _("Surveys"),
            lambda: _("Ask your customers what they think, and see their answers."),
        ),
    }


class MainWindow(QMainWindow):
    PAGES = ("customers", "segments", "messages", "loyalty", "surveys", "reports", "settings")

    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.settings = QSettings()
        self._close_backup_done = False
        self._closing = False
        self.setMinimumSize(760, 500)
        self.setAcceptDrops(True)

        self.navigation = QListWidget()
        self.navigation.setObjectName("navigation")
        self.navigation.setMinimumWidth(150)
        self.navigation.setMaximumWidth(220)
        self.navigation.setStyleSheet("QListWidget#navigation::item { padding: 9px 12px; }")
        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}
        texts = _page_texts()
        for key in self.PAGES:
            if key == "customers":
                page: QWidget = CustomersPage(context)
            elif key == "segments":
                page = SegmentsPage(context)
                page.show_customers.connect(self.show_segment_customers)
                page.changed.connect(lambda: self.pages["customers"].refresh())
            elif key == "reports":
                page = ReportsPage(context)
            elif key == "messages":
                page = MessagesPage(context)
            elif key == "settings":
                page = SettingsPage(context)
                page.saved.connect(self._settings_saved)
            else:
                page = TitlePage(*texts[key])
            page.setObjectName(f"page_{key}")
            self.pages[key] = page
            self.stack.addWidget(page)
            self.navigation.addItem("")
        self.navigation.currentRowChanged.connect(self.stack.setCurrentIndex)
        splitter = QSplitter()
        splitter.addWidget(self.navigation)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([170, 1000])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)

        self.shop_label = QLabel()
        self.backup_label = QLabel()
        self.statusBar().addWidget(self.shop_label, 1)
        self.statusBar().addPermanentWidget(self.backup_label)

        self._build_actions()
        self.backup_timer = QTimer(self)
        self.backup_timer.setInterval(backups.AUTOMATIC_INTERVAL_S * 1000)
        self.backup_timer.timeout.connect(self.automatic_backup)
        self.backup_timer.start()

        self._restore_window_state()
        self.retranslate()
        self.refresh()
        self._show_newest_backup()
        self._check_health_quietly()

    # ---- building -------------------------------------------------------------------------
    def _action(self, shortcut, slot) -> QAction:
        action = QAction(self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.actions_by_name = {
            "import": self._action("Ctrl+I", lambda: self.import_file()),
            "import_history": self._action(None, self.show_import_history),
            "export_customers": self._action("Ctrl+E", self.export_customers),
            "export_purchases": self._action(None, self.export_purchases),
            "export_shop": self._action(None, self.export_shop),
            "backup": self._action("Ctrl+B", self.backup_now),
            "restore": self._action("Ctrl+Shift+R", self.restore_from_backup),
            "quit": self._action(QKeySequence.StandardKey.Quit, self.close),
            "check": self._action(None, self.check_database),
            "duplicates": self._action("Ctrl+Shift+D", self.find_duplicates),
            "about": self._action(QKeySequence.StandardKey.HelpContents, self.show_about),
        }
        self.actions_by_name["quit"].setShortcuts(
            [QKeySequence(QKeySequence.StandardKey.Quit), QKeySequence("Ctrl+Q")]
        )
        self.page_actions = []
        for index, _key in enumerate(self.PAGES):
            action = self._action(f"Ctrl+{index + 1}", lambda _c=False, i=index: self.show_page(i))
            self.page_actions.append(action)
        bar = self.menuBar()
        self.file_menu = bar.addMenu("")
        for name in ("import", "import_history"):
            self.file_menu.addAction(self.actions_by_name[name])
        self.file_menu.addSeparator()
        for name in ("export_customers", "export_purchases", "export_shop"):
            self.file_menu.addAction(self.actions_by_name[name])
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.actions_by_name["backup"])
        self.file_menu.addAction(self.actions_by_name["restore"])
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.actions_by_name["quit"])
        self.go_menu = bar.addMenu("")
        for action in self.page_actions:
            self.go_menu.addAction(action)
        self.tools_menu = bar.addMenu("")
        self.tools_menu.addAction(self.actions_by_name["duplicates"])
        self.help_menu = bar.addMenu("")
        self.help_menu.addAction(self.actions_by_name["check"])
        self.help_menu.addSeparator()
        self.help_menu.addAction(self.actions_by_name["about"])

    def retranslate(self) -> None:
        names = {
            "customers": _("Customers"),
            "segments": _("Segments"),
            "messages": _("Messages"),
            "loyalty": _("Loyalty"),
            "surveys": _("Surveys"),
            "reports": _("Reports"),
            "settings": _("Settings"),
        }
        for index, key in enumerate(self.PAGES):
            self.navigation.item(index).setText(names[key])
            self.page_actions[index].setText(names[key])
        self.file_menu.setTitle(_("&File"))
        self.go_menu.setTitle(_("&Go"))
        self.tools_menu.setTitle(_("&Tools"))
        self.help_menu.setTitle(_("&Help"))
        texts = {
            "import": _("&Import a file…"),
            "import_history": _("Import &history…"),
            "export_customers": _("&Export the customer list…"),
            "export_purchases": _("Export &purchases…"),
            "export_shop": _("Export the &whole shop…"),
            "backup": _("&Back up now"),
            "restore": _("&Restore from backup…"),
            "quit": _("&Quit"),
            "check": _("&Check database"),
            "duplicates": _("Find &duplicates…"),
            "about": _("&About smbcrm"),
        }
        for name, text in texts.items():
            self.actions_by_name[name].setText(text)
        for page in self.pages.values():
            page.retranslate()
        self._update_title()
        self._show_newest_backup()

    def _update_title(self) -> None:
        name = self.context.profile.shop_name or _("My shop")
        self.setWindowTitle(f"{name} — smbcrm")
        demo = _(" (demo)") if self.context.profile.is_demo else ""
        self.shop_label.setText(
            _("{shop}{demo} · file {path}").format(shop=name, demo=demo, path=self.context.db.path)
        )

    def show_page(self, index: int) -> None:
        self.navigation.setCurrentRow(index)

    def show_segment_customers(self, key: str, name: str) -> None:
        """The Customers page, showing only the customers of a segment."""
        self.pages["customers"].show_segment(key, name)
        self.show_page(self.PAGES.index("customers"))

    def current_page_key(self) -> str:
        return self.PAGES[self.stack.currentIndex()]

    def refresh(self) -> None:
        """Reload what the pages show from the shop (after a demo, a restore, new settings)."""
        for page in self.pages.values():
            page.refresh()
        self._update_title()

    # ---- window state -----------------------------------------------------------------------
    def _restore_window_state(self) -> None:
        geometry = self.settings.value("main_window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1240, 720)
        page = self.settings.value("main_window/page", "customers")
        self.show_page(self.PAGES.index(page) if page in self.PAGES else 0)

    def _save_window_state(self) -> None:
        self.settings.setValue("main_window/geometry", self.saveGeometry())
        self.settings.setValue("main_window/page", self.current_page_key())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._close_backup_done:
            event.accept()
            return
        event.ignore()
        if self._closing:
            return
        self._closing = True
        self._save_window_state()
        self.backup_timer.stop()
        # Work still running is cancelled; it stops at its next step and rolls back.
        for task in list(self.context.runner.running):
            task.cancel()
        self.context.runner.wait()
        db = self.context.db

        def closed(_result) -> None:
            self._close_backup_done = True
            self.close()

        self.context.runner.run(
            lambda progress, cancel: backups.backup_if_changed(db, "on-close", progress=progress),
            title=_("Backing up your shop before closing…"),
            parent=self,
            on_success=closed,
            on_failure=lambda error: closed(None),
            cancellable=False,
        )

    # ---- first start --------------------------------------------------------------------------
    def run_welcome_if_needed(self) -> None:
        if self.context.profile.welcome_done:
            return
        dialog = WelcomeDialog(language=current_language(), parent=self)
        if dialog.exec() != WelcomeDialog.DialogCode.Accepted:
            return
        values = dialog.values()
        db = self.context.db
        if dialog.choice == WelcomeDialog.DEMO:
            shop_name = values["shop_name"]

            def make_demo(progress, cancel):
                create_demo_shop(
                    db, DEMO_CUSTOMERS, shop_name=shop_name or None, progress=progress,
                    cancel=cancel,
                )  # fmt: skip
                save_settings(db, language=values["language"])
                return shop_profile(db)

            self.context.runner.run(
                make_demo,
                title=_("Creating the demo shop…"),
                parent=self,
                on_success=self._settings_saved,
            )
        else:

            def save(progress, cancel):
                save_settings(db, welcome_done=True, **values)
                return shop_profile(db)

            self.context.runner.run(
                save, show_progress=False, on_success=self._settings_saved, parent=self
            )

    def _settings_saved(self, profile: ShopProfile) -> None:
        language_changed = profile.language != current_language()
        self.context.profile = profile
        if language_changed:
            apply_language(profile.language)
            self.retranslate()
        self.refresh()
        self.statusBar().showMessage(_("Settings saved."), 4000)

    # ---- backups --------------------------------------------------------------------------
    def _show_newest_backup(self) -> None:
        found = backups.list_backups(self.context.db.path)
        if not found:
            self.backup_label.setText(_("No backup yet"))
            return
        when = format_datetime(
            to_local(found[0].taken_at), format="short", locale=current_language()
        )
        self.backup_label.setText(_("Last backup: {when}").format(when=when))

    def _backup_finished(self, info: backups.BackupInfo | None) -> None:
        self._show_newest_backup()
        if info is not None:
            self.statusBar().showMessage(_("Backup saved: {path}").format(path=info.path), 8000)

    def backup_now(self) -> None:
        db = self.context.db

        def work(progress, cancel):
            info = backups.create_backup(db, "manual", progress=progress, cancel=cancel)
            backups.thin_backups(db.path)
            return info

        self.context.runner.run(
            work, title=_("Backing up your shop…"), parent=self, on_success=self._backup_finished
        )

    def automatic_backup(self) -> None:
        db = self.context.db
        self.context.runner.run(
            lambda progress, cancel: backups.backup_if_changed(db, "automatic", cancel=cancel),
            show_progress=False,
            on_success=self._backup_finished,
            on_failure=lambda error: self.statusBar().showMessage(
                _("The automatic backup did not work: {reason}").format(reason=error), 15000
            ),
            parent=self,
        )

    def restore_from_backup(self) -> None:
        dialog = RestoreDialog(backups.list_backups(self.context.db.path), self)
        if dialog.exec() != RestoreDialog.DialogCode.Accepted or dialog.chosen is None:
            return
        self.restore(dialog.chosen)

    def restore(self, backup: Path, *, confirm: bool = True) -> None:
        if confirm:
            answer = QMessageBox.question(
                self,
                _("Restore from a backup"),
                _(
                    "Replace the shop's data with the backup {name}? Your data as it is now is "
                    "backed up first."
                ).format(name=backup.name),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        db = self.context.db

        def work(progress, cancel):
            safety = backups.restore_backup(db, backup, progress=progress, cancel=cancel)
            return safety, shop_profile(db)

        def done(result) -> None:
            safety, profile = result
            self._settings_saved(profile)
            self._show_newest_backup()
            self.statusBar().showMessage(
                _("Restored. The data you had before is kept in {path}").format(path=safety.path),
                15000,
            )

        self.context.runner.run(work, title=_("Restoring…"), parent=self, on_success=done)

    def _check_health_quietly(self) -> None:
        """A quick_check in the background after opening: damage is reported, never hidden."""
        db = self.context.db
        self.context.runner.run(
            lambda progress, cancel: backups.check_database(db, quick=True),
            show_progress=False,
            on_success=lambda report: None if report.ok else self._report_damage(report),
            parent=self,
        )

    def _report_damage(self, report: backups.CheckReport) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, _("Check database"), "", parent=self)
        box.setText(
            "\n".join(
                [
                    _("The shop file is damaged. Restore a recent backup before going on."),
                    "",
                    *report.problems[:5],
                ]
            )
        )
        restore = box.addButton(_("&Restore from backup…"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Close)
        box.exec()
        if box.clickedButton() is restore:
            self.restore_from_backup()

    # ---- bringing data in and out ----------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.import_file(Path(files[0]))

    def import_file(self, path: Path | None = None) -> ImportWizard:
        wizard = ImportWizard(self.context, path, self)
        wizard.imported.connect(lambda _batch: self.refresh())
        wizard.finished.connect(wizard.deleteLater)
        wizard.show()
        return wizard

    def show_import_history(self) -> ImportHistoryDialog:
        dialog = ImportHistoryDialog(self.context, self)
        dialog.changed.connect(self.refresh)
        dialog.finished.connect(dialog.deleteLater)
        dialog.show()
        return dialog

    def _export(self, title: str, filters: str, work) -> None:
        chosen, _filter = QFileDialog.getSaveFileName(self, title, "", filters)
        if chosen:
            self.export_to(Path(chosen), work)

    def export_to(self, path: Path, work) -> None:
        db = self.context.db
        self.context.runner.run(
            lambda progress, cancel: work(db, path, progress, cancel),
            title=_("Exporting…"),
            parent=self,
            on_success=lambda _r: self.statusBar().showMessage(
                _("Exported to {path}").format(path=path), 10000
            ),
        )

    def export_customers(self) -> None:
        """The customers the list shows now (its search and filters), to .xlsx, .csv or .vcf."""
        query = self.pages["customers"].query()
        self._export(
            _("Export the customer list"),
            _("Excel (*.xlsx);;CSV (*.csv);;Contacts (*.vcf)"),
            lambda db, path, progress, cancel: exporting.export_customers(
                db, path, query=query, progress=progress, cancel=cancel
            ),
        )

    def export_purchases(self) -> None:
        self._export(
            _("Export purchases"),
            _("Excel (*.xlsx);;CSV (*.csv)"),
            lambda db, path, progress, cancel: exporting.export_purchases(db, path),
        )

    def export_shop(self) -> None:
        self._export(
            _("Export the whole shop"),
            _("Excel (*.xlsx)"),
            lambda db, path, progress, cancel: exporting.export_shop(db, path),
        )

    def find_duplicates(self) -> DuplicatesDialog:
        dialog = DuplicatesDialog(self.context, self)
        dialog.merged.connect(self.pages["customers"].refresh)
        dialog.finished.connect(dialog.deleteLater)
        dialog.show()
        return dialog

    def check_database(self) -> None:
        db = self.context.db

        def done(report: backups.CheckReport) -> None:
            if report.ok:
                QMessageBox.information(
                    self, _("Check database"), _("The shop file is in good health.")
                )
            else:
                QMessageBox.warning(
                    self,
                    _("Check database"),
                    "\n".join(
                        [
                            _("Problems found:"),
                            *report.problems,
                            "",
                            _("Restore a recent backup from File > Restore from backup…"),
                        ]
                    ),
                )

        self.context.runner.run(
            lambda progress, cancel: backups.check_database(db),
            title=_("Checking the shop file…"),
            parent=self,
            on_success=done,
            cancellable=False,
        )

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            _("About smbcrm"),
            _(
                "<h3>smbcrm {version}</h3><p>The customers of your shop, in one file on this "
                "computer.</p><p>Shop file: {path}<br>Log: {log}</p>"
                "<p>Free software under the GNU General Public License, version 3 or later.</p>"
            ).format(version=__version__, path=self.context.db.path, log=log_file()),
        )


def build_context(db, runner: TaskRunner | None = None) -> ShopContext:
    runner = runner or TaskRunner(after_each=lambda: db.close() if not db.is_closed() else None)
    runner.setParent(None)
    return ShopContext(db=db, runner=runner, profile=shop_profile(db))
