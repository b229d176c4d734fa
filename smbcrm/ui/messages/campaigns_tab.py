"""Messages > Campaigns: create, check, send, pause, resume and cancel; live progress."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from smbcrm.core.dates import to_local, utc_now
from smbcrm.core.i18n import _, ngettext
from smbcrm.services import campaigns
from smbcrm.services.email_accounts import account as load_account

from smbcrm.ui.context import ShopContext
from smbcrm.ui.messages.campaign_dialogs import CheckDialog, NewCampaignDialog
from smbcrm.ui.messages.passwords import ask_password_if_needed, password_store
from smbcrm.ui.tasks import Task, show_error

COLUMNS = (
    lambda: _("Campaign"),
    lambda: _("Who gets it"),
    lambda: _("State"),
    lambda: _("Sent"),
    lambda: _("Not delivered"),
    lambda: _("Waiting"),
    lambda: _("Notes"),
)
MAX_TIMER_MS = 24 * 3600 * 1000
RESUME_AFTER_START_MS = 3000
LIVE_REFRESH_MS = 2000


class _Progress(QObject):
    """Carries the sender's progress from its worker thread to the window."""

    changed = Signal(int, int, str)


class CampaignsTab(QWidget):
    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.sending: dict[int, Task] = {}
        self.timers: dict[int, QTimer] = {}
        self.new_button = QPushButton()
        self.send_button = QPushButton()
        self.pause_button = QPushButton()
        self.resume_button = QPushButton()
        self.cancel_button = QPushButton()
        self.uncertain_button = QPushButton()
        self.new_button.clicked.connect(self.new_campaign)
        self.send_button.clicked.connect(self.check_and_send)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.cancel_button.clicked.connect(self.cancel_campaign)
        self.uncertain_button.clicked.connect(self.decide_uncertain)
        QShortcut(QKeySequence.StandardKey.New, self, activated=self.new_campaign)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.send_button, self.pause_button,
                       self.resume_button, self.cancel_button, self.uncertain_button):  # fmt: skip
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch
        )
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        self.progress = _Progress(self)
        self.progress.changed.connect(self._progress)
        # The counts in the list follow the sending while it runs.
        self.live_timer = QTimer(self)
        self.live_timer.setInterval(LIVE_REFRESH_MS)
        self.live_timer.timeout.connect(self._live_refresh)
        self.retranslate()
        # The outbox goes on by itself after a restart, like a mail program's.
        QTimer.singleShot(RESUME_AFTER_START_MS, self, self.resume_waiting_campaigns)

    def retranslate(self) -> None:
        self.new_button.setText(_("&New campaign…"))
        self.send_button.setText(_("Check and s&end…"))
        self.pause_button.setText(_("&Pause"))
        self.resume_button.setText(_("&Resume"))
        self.cancel_button.setText(_("Cancel campai&gn"))
        self.uncertain_button.setText(_("&Uncertain messages…"))
        self.table.setHorizontalHeaderLabels([title() for title in COLUMNS])

    # ---- the list ------------------------------------------------------------------------

    def refresh(self) -> None:
        keep = self.selected_id()
        found = campaigns.list_campaigns(self.context.db)
        self.table.setRowCount(len(found))
        for row, info in enumerate(found):
            state = info.state_text
            if info.id in self.sending:
                state = _("Sending now")
            cells = (
                info.name, campaigns.audience_label(info.audience, self.context.db), state,
                str(info.counts.get("sent", 0)), str(info.counts.get("failed", 0)),
                str(info.remaining), self._notes(info),
            )  # fmt: skip
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, info)
                self.table.setItem(row, column, item)
            if info.id == keep:
                self.table.selectRow(row)
        for column in range(len(COLUMNS) - 1):  # the notes take the rest of the width
            self.table.resizeColumnToContents(column)
        if self.selected_id() is None and found:
            self.table.selectRow(0)
        self._update_buttons()

    def _notes(self, info: campaigns.CampaignInfo) -> str:
        notes = []
        if info.pause_reason:
            notes.append(info.pause_reason)
        if info.counts.get("uncertain"):
            notes.append(
                ngettext(
                    "{count} may or may not have arrived",
                    "{count} may or may not have arrived",
                    info.counts["uncertain"],
                ).format(count=info.counts["uncertain"])
            )
        if info.counts.get("suppressed"):
            notes.append(
                ngettext("{count} left out", "{count} left out", info.counts["suppressed"]).format(
                    count=info.counts["suppressed"]
                )
            )
        return " · ".join(notes)

    def selected(self) -> campaigns.CampaignInfo | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def selected_id(self) -> int | None:
        info = self.selected()
        return info.id if info else None

    def _update_buttons(self) -> None:
        info = self.selected()
        running = info is not None and info.id in self.sending
        state = info.state if info else ""
        self.send_button.setEnabled(info is not None and state == "draft")
        self.pause_button.setEnabled(running or state == "queued")
        self.resume_button.setEnabled(not running and state in ("paused", "queued"))
        self.cancel_button.setEnabled(not running and state in ("draft", "queued", "paused"))
        self.uncertain_button.setEnabled(
            not running and info is not None and info.counts.get("uncertain", 0) > 0
        )

    # ---- actions -------------------------------------------------------------------------

    def new_campaign(self) -> None:
        dialog = NewCampaignDialog(self.context, self)
        if dialog.exec() and dialog.created is not None:
            self.refresh()
            self._select(dialog.created.id)

    def _select(self, campaign_id: int) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole).id == campaign_id:
                self.table.selectRow(row)

    def check_and_send(self) -> None:
        info = self.selected()
        if info is None:
            return
        db = self.context.db

        def checked(check: campaigns.CampaignCheck) -> None:
            dialog = CheckDialog(check, info.name, self)
            if dialog.exec():
                self._write(
                    lambda: campaigns.queue_campaign(db, check),
                    lambda _info: self.start_sending(info.id),
                )

        self.context.runner.run(
            lambda progress, cancel: campaigns.check_campaign(db, info.id, progress, cancel),
            parent=self,
            title=_("Checking every message…"),
            on_success=checked,
        )

    def start_sending(self, campaign_id: int) -> None:
        if campaign_id in self.sending:
            return
        info = campaigns.campaign(self.context.db, campaign_id)
        if info.account_id is None:
            QMessageBox.warning(self, _("Messages"), _("Choose an email account first."))
            return
        if not ask_password_if_needed(self, load_account(self.context.db, info.account_id)):
            return
        db, store, signal = self.context.db, password_store(), self.progress.changed

        def work(progress, cancel) -> campaigns.SendOutcome:
            return campaigns.send_campaign(
                db,
                campaign_id,
                passwords=store,
                progress=lambda done, total, text: signal.emit(done, total, text),
                cancel=cancel,
            )

        task = self.context.runner.run(
            work,
            parent=self,
            on_success=lambda outcome: self._sent(campaign_id, outcome),
            on_failure=lambda error: self._send_failed(campaign_id, error),
            show_progress=False,
            long_running=True,
        )
        self.sending[campaign_id] = task
        self.live_timer.start()
        self.progress_bar.setVisible(True)
        self.progress_bar.setRange(0, 0)
        self.status_label.setText(_("Sending “{name}”…").format(name=info.name))
        self.refresh()

    def _live_refresh(self) -> None:
        if self.sending:
            self.refresh()
        else:
            self.live_timer.stop()

    def _progress(self, done: int, total: int, text: str) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(min(done, total))
        self.status_label.setText(text)

    def _sent(self, campaign_id: int, outcome: campaigns.SendOutcome) -> None:
        self.sending.pop(campaign_id, None)
        self.progress_bar.setVisible(bool(self.sending))
        self.status_label.setText(outcome.message)
        if outcome.resume_at is not None:
            self._resume_later(campaign_id, outcome.resume_at)
        self.refresh()

    def _send_failed(self, campaign_id: int, error: BaseException) -> None:
        self.sending.pop(campaign_id, None)
        self.progress_bar.setVisible(bool(self.sending))
        self.status_label.setText("")
        show_error(self, error)
        self.refresh()

    def _resume_later(self, campaign_id: int, moment: datetime) -> None:
        """The account's limit or a retry: go on by itself at that time while the window is open."""
        delay = int((moment - utc_now()).total_seconds() * 1000) + 1000
        if delay > MAX_TIMER_MS:
            return
        timer = self.timers.pop(campaign_id, None) or QTimer(self)
        timer.setSingleShot(True)
        timer.timeout.connect(lambda: self.start_sending(campaign_id))
        timer.start(max(delay, 1000))
        self.timers[campaign_id] = timer
        self.status_label.setText(
            self.status_label.text()
            + " "
            + _("Sending goes on by itself at {time}.").format(
                time=to_local(moment).strftime("%H:%M")
            )
        )

    def resume_waiting_campaigns(self) -> None:
        """Campaigns left sending when smbcrm closed go on, when their password is at hand
        (never a password prompt at start-up; Resume asks for it)."""
        db, store = self.context.db, password_store()
        for info in campaigns.list_campaigns(db):
            if info.state != "queued" or info.id in self.sending or info.account_id is None:
                continue
            if not any(info.counts.get(state) for state in ("queued", "deferred", "sending")):
                continue  # 'sending' rows left by a crash are settled when it starts
            account = load_account(db, info.account_id)
            if account.username and not store.get(account.password_key):
                continue
            self.start_sending(info.id)

    def pause(self) -> None:
        info = self.selected()
        if info is None:
            return
        task = self.sending.get(info.id)
        if task is not None:
            task.cancel()
        timer = self.timers.pop(info.id, None)
        if timer is not None:
            timer.stop()
        db, reason = self.context.db, _("Paused by you.")
        self._write(lambda: campaigns.pause_campaign(db, info.id, reason))

    def resume(self) -> None:
        info = self.selected()
        if info is None:
            return
        db = self.context.db
        self._write(
            lambda: campaigns.resume_campaign(db, info.id),
            lambda _result: self.start_sending(info.id),
        )

    def cancel_campaign(self) -> None:
        info = self.selected()
        if info is None:
            return
        answer = QMessageBox.question(
            self,
            _("Cancel campaign"),
            _(
                "Cancel “{name}” for good? Messages already sent stay sent; the others are dropped."
            ).format(name=info.name),
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        timer = self.timers.pop(info.id, None)
        if timer is not None:
            timer.stop()
        db = self.context.db
        if info.state == "draft":
            self._write(lambda: campaigns.delete_campaign(db, info.id))
        else:
            self._write(lambda: campaigns.cancel_campaign(db, info.id))

    def decide_uncertain(self) -> None:
        info = self.selected()
        if info is None:
            return
        count = info.counts.get("uncertain", 0)
        box = QMessageBox(self)
        box.setWindowTitle(_("Uncertain messages"))
        box.setText(
            ngettext(
                "{count} message was being sent when smbcrm or the connection stopped. It may "
                "have arrived. Send it again (the customer may get it twice), or leave it?",
                "{count} messages were being sent when smbcrm or the connection stopped. They "
                "may have arrived. Send them again (some customers may get them twice), or "
                "leave them?",
                count,
            ).format(count=count)
        )
        resend = box.addButton(_("Send &again"), QMessageBox.ButtonRole.AcceptRole)
        leave = box.addButton(_("&Leave them"), QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        db = self.context.db
        if box.clickedButton() is resend:
            self._write(
                lambda: campaigns.resolve_uncertain(db, info.id, resend=True),
                lambda _count: self.start_sending(info.id),
            )
        elif box.clickedButton() is leave:
            self._write(lambda: campaigns.resolve_uncertain(db, info.id, resend=False))

    def _write(self, change, then=None) -> None:
        """A change to the shop on a worker (an import may hold the file for a while), then
        the list again and what comes next."""

        def done(result) -> None:
            self.refresh()
            if then is not None:
                then(result)

        self.context.runner.run(
            lambda progress, cancel: change(), parent=self, on_success=done, show_progress=False
        )
