"""One customer: the profile form, tags, custom fields, consent, and the timeline."""

from __future__ import annotations

from pathlib import Path

from babel.dates import format_date

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from smbcrm.core.dates import to_local
from smbcrm.core.i18n import _, current_language, ngettext
from smbcrm.core.money import format_money
from smbcrm.services import customers as cs
from smbcrm.services.custom_fields import FieldInfo, list_fields
from smbcrm.services.duplicates import undo_merge
from smbcrm.services.privacy import erase_customer, export_customer_data

from smbcrm.ui.context import ShopContext
from smbcrm.ui.item_models.timeline import EventRole, TimelineModel
from smbcrm.ui.tasks import show_error
from smbcrm.ui.title_page import heading

TEXT_FIELDS = ("first_name", "last_name", "email", "phone", "birthday", "city", "region", "code")
YES, NO = "yes", "no"


class ProfileDialog(QDialog):
    """Opens on an existing customer (customer_id) or a new one (None)."""

    changed = Signal(int)  # a customer was saved, archived, merged back or erased
    open_customer = Signal(int)  # the person asked to open another customer (a duplicate)

    def __init__(self, context: ShopContext, customer_id: int | None, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.customer_id = customer_id
        self.detail: cs.CustomerDetail | None = None
        self.fields: list[FieldInfo] = list_fields(context.db)
        self.setMinimumSize(760, 600)
        self.resize(880, 680)

        self.title_label = heading()
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_profile_tab(), _("&Profile"))
        self.timeline_tab = self._build_timeline_tab()
        self.tabs.addTab(self.timeline_tab, _("&History"))

        self.export_button = QPushButton(_("E&xport data…"))
        self.erase_button = QPushButton(_("&Erase…"))
        self.archive_button = QPushButton()
        self.unsubscribe_button = QPushButton(_("&Unsubscribe"))
        self.save_button = QPushButton(_("&Save"))
        self.save_button.setDefault(True)
        self.close_button = QPushButton(_("Close"))
        self.export_button.clicked.connect(self.export_data)
        self.erase_button.clicked.connect(self.erase)
        self.archive_button.clicked.connect(self.toggle_archived)
        self.unsubscribe_button.clicked.connect(self.unsubscribe)
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.reject)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self.save)
        buttons = QHBoxLayout()
        for button in (self.export_button, self.erase_button, self.archive_button,
                       self.unsubscribe_button):  # fmt: skip
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self.load()

    # ---- building -----------------------------------------------------------------------------
    def _build_profile_tab(self) -> QWidget:
        page = QWidget()
        outer = QVBoxLayout(page)
        form = QFormLayout()
        outer.addLayout(form)
        outer.addStretch(1)
        self.edits: dict[str, QLineEdit] = {}
        self.errors: dict[str, QLabel] = {}
        labels = {
            "first_name": _("&First name:"),
            "last_name": _("&Last name:"),
            "email": _("E&mail:"),
            "phone": _("P&hone:"),
            "birthday": _("&Birthday:"),
            "city": _("&City:"),
            "region": _("&Region:"),
            "code": _("Customer c&ode:"),
        }
        for name in TEXT_FIELDS:
            edit = QLineEdit()
            edit.setMaxLength(cs.LIMITS.get(name, 40) + 20)
            self.edits[name] = edit
            self._add_row(form, labels[name], edit, name)
        self.edits["birthday"].setPlaceholderText(_("day/month/year, e.g. 29/02/1988"))
        self.edits["phone"].setPlaceholderText(_("as you write it, e.g. 300 123 4567"))
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText(_("separated by commas, e.g. VIP, Vecino"))
        self._add_row(form, _("&Tags:"), self.tags_edit, "tags")
        self.consent_combo = QComboBox()
        for state in cs.CONSENT_STATES:
            self.consent_combo.addItem(_(cs.CONSENT_LABELS[state]), state)
        self.consent_method = QComboBox()
        for method in ("counter", "form", "whatsapp", "phone"):
            self.consent_method.addItem(_(cs.CONSENT_METHODS[method]), method)
        consent_row = QHBoxLayout()
        consent_row.addWidget(self.consent_combo, 1)
        consent_row.addWidget(QLabel(_("how:")))
        consent_row.addWidget(self.consent_method, 1)
        consent_widget = QWidget()
        consent_widget.setLayout(consent_row)
        consent_row.setContentsMargins(0, 0, 0, 0)
        self._add_row(form, _("Marketing e&mail:"), consent_widget, "consent")
        self.custom_widgets: dict[int, QWidget] = {}
        for info in self.fields:
            widget = self._custom_widget(info)
            self.custom_widgets[info.id] = widget
            self._add_row(form, f"{info.name}:", widget, f"field_{info.id}")
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setTabChangesFocus(True)
        self.notes_edit.setMaximumHeight(90)
        self._add_row(form, _("&Notes:"), self.notes_edit, "notes")
        return page

    def _add_row(self, form: QFormLayout, label: str, widget: QWidget, name: str) -> None:
        error = QLabel()
        error.setStyleSheet("color: #b3261e;")
        error.setWordWrap(True)
        error.hide()
        self.errors[name] = error
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        column.addWidget(error)
        caption = QLabel(label)
        caption.setBuddy(widget)
        form.addRow(caption, holder)

    def _custom_widget(self, info: FieldInfo) -> QWidget:
        if info.kind in ("yesno", "choice"):
            combo = QComboBox()
            combo.addItem("", "")
            if info.kind == "yesno":
                combo.addItem(_("Yes"), YES)
                combo.addItem(_("No"), NO)
            else:
                for choice in info.choices:
                    combo.addItem(choice, choice)
            return combo
        edit = QLineEdit()
        if info.kind == "date":
            edit.setPlaceholderText(_("day/month/year"))
        return edit

    def _build_timeline_tab(self) -> QWidget:
        page = QWidget()
        self.timeline_view = QListView()
        self.timeline_view.setWordWrap(True)
        self.timeline_view.setAlternatingRowColors(True)
        self.timeline_view.setUniformItemSizes(False)
        self.timeline_model: TimelineModel | None = None
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText(_("Write a note and press Enter"))
        self.note_edit.returnPressed.connect(self.add_note)
        self.undo_merge_button = QPushButton(_("&Undo this merge"))
        self.undo_merge_button.setEnabled(False)
        self.undo_merge_button.clicked.connect(self.undo_selected_merge)
        row = QHBoxLayout()
        row.addWidget(self.note_edit, 1)
        row.addWidget(self.undo_merge_button)
        layout = QVBoxLayout(page)
        layout.addWidget(self.timeline_view, 1)
        layout.addLayout(row)
        return page

    # ---- loading ------------------------------------------------------------------------------
    def load(self) -> None:
        self.detail = (
            None
            if self.customer_id is None
            else cs.customer_detail(self.context.db, self.customer_id)
        )
        detail = self.detail
        existing = detail is not None
        for button in (self.export_button, self.erase_button, self.archive_button,
                       self.unsubscribe_button):  # fmt: skip
            button.setEnabled(existing)
        self.tabs.setTabEnabled(1, existing)
        if detail is None:
            self.setWindowTitle(_("New customer"))
            self.title_label.setText(_("New customer"))
            self.summary_label.setText(
                _("Fill in what you know; a name, an email or a phone is enough.")
            )
            self.archive_button.setText(_("&Archive"))
            self.consent_combo.setCurrentIndex(0)
            return
        self.setWindowTitle(detail.name)
        self.title_label.setText(detail.name)
        self.summary_label.setText(self._summary(detail))
        values = {
            "first_name": detail.first_name, "last_name": detail.last_name, "email": detail.email,
            "phone": detail.phone, "city": detail.city, "region": detail.region,
            "code": detail.code,
            "birthday": detail.birthday.strftime("%d/%m/%Y") if detail.birthday else "",
        }  # fmt: skip
        for name, edit in self.edits.items():
            edit.setText(values[name])
        self.tags_edit.setText(", ".join(detail.tags))
        self.notes_edit.setPlainText(detail.notes)
        self.consent_combo.setCurrentIndex(self.consent_combo.findData(detail.email_consent))
        for field_id, widget in self.custom_widgets.items():
            value = detail.custom_values.get(field_id, "")
            if isinstance(widget, QComboBox):
                widget.setCurrentIndex(max(0, widget.findData(value)))
            else:
                info = next(f for f in self.fields if f.id == field_id)
                if info.kind == "date" and value:
                    year, month, day = value.split("-")
                    value = f"{day}/{month}/{year}"
                widget.setText(value)
        self.archive_button.setText(_("Un&archive") if detail.archived else _("&Archive"))
        self.unsubscribe_button.setEnabled(
            detail.email_consent != "withdrawn" and bool(detail.email)
        )
        if detail.phone_flagged:
            self._show_errors(
                {}, {"phone": _("This phone could not be recognised; it is kept as typed.")}
            )
        self.timeline_model = TimelineModel(self.context, detail.id, self)
        self.timeline_view.setModel(self.timeline_model)
        self.timeline_view.selectionModel().currentChanged.connect(self._event_selected)
        self.timeline_model.reload()

    def _summary(self, detail: cs.CustomerDetail) -> str:
        profile = self.context.profile
        parts = [
            ngettext("{count} purchase", "{count} purchases", detail.purchase_count).format(
                count=detail.purchase_count
            ),
            _("{amount} in total").format(
                amount=format_money(detail.total_spent, profile.currency, profile.locale)
            ),
        ]
        if detail.last_purchase_at:
            parts.append(
                _("last purchase {date}").format(
                    date=format_date(
                        to_local(detail.last_purchase_at), "medium", locale=current_language()
                    )
                )
            )
        parts.append(_(cs.CONSENT_LABELS[detail.email_consent]))
        if detail.archived:
            parts.append(_("archived"))
        return " · ".join(parts)

    # ---- saving -------------------------------------------------------------------------------
    def form_input(self) -> cs.CustomerInput:
        text = {name: edit.text() for name, edit in self.edits.items()}
        return cs.CustomerInput(
            first_name=text["first_name"], last_name=text["last_name"], email=text["email"],
            phone=text["phone"], city=text["city"], region=text["region"], code=text["code"],
            birthday=text["birthday"] or None, notes=self.notes_edit.toPlainText(),
        )  # fmt: skip

    def custom_values(self) -> dict[int, object]:
        values: dict[int, object] = {}
        for field_id, widget in self.custom_widgets.items():
            values[field_id] = (
                widget.currentData() if isinstance(widget, QComboBox) else widget.text()
            )
        return values

    def _show_errors(
        self, problems: dict[str, str], warnings: dict[str, str] | None = None
    ) -> None:
        messages = {**(warnings or {}), **problems}
        for name, label in self.errors.items():
            label.setVisible(name in messages)
            label.setText(messages.get(name, ""))
        if problems:
            first = next(iter(problems))
            if first in self.edits:
                self.edits[first].setFocus()
            self.tabs.setCurrentIndex(0)

    def save(self) -> None:
        region = self.context.profile.country
        try:
            clean = cs.clean_customer(self.form_input(), region)
        except cs.ValidationError as error:
            self._show_errors(error.problems)
            return
        self._show_errors({})
        db, customer_id = self.context.db, self.customer_id
        self.context.runner.run(
            lambda progress, cancel: cs.duplicate_hints(db, clean, exclude_id=customer_id),
            show_progress=False,
            parent=self,
            on_success=self._confirm_and_save,
        )

    def _confirm_and_save(self, hints: list[cs.DuplicateHint]) -> None:
        if hints:
            hint = hints[0]
            text = (
                _("{name} already has this email — open her or him?")
                if hint.reason == "email"
                else _("{name} already has this phone — open her or him?")
            ).format(name=hint.name)
            box = QMessageBox(QMessageBox.Icon.Question, _("Possible duplicate"), text, parent=self)
            open_button = box.addButton(
                _("Open {name}").format(name=hint.name), QMessageBox.ButtonRole.AcceptRole
            )
            save_button = box.addButton(_("Save anyway"), QMessageBox.ButtonRole.DestructiveRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            box.exec()
            if box.clickedButton() is open_button:
                self.open_customer.emit(hint.customer_id)
                return
            if box.clickedButton() is not save_button:
                return
        db, customer_id = self.context.db, self.customer_id
        data, region = self.form_input(), self.context.profile.country
        tags = [tag for tag in self.tags_edit.text().split(",") if tag.strip()]
        values = self.custom_values()
        consent, method = self.consent_combo.currentData(), self.consent_method.currentData()
        method_text = _(cs.CONSENT_METHODS[method])

        def work(progress, cancel) -> int:
            return cs.save_customer(
                db, customer_id, data, region=region, tags=tags, custom_values=values,
                consent=consent, consent_method=method, consent_source=method_text,
            )  # fmt: skip

        self.context.runner.run(
            work,
            show_progress=False,
            parent=self,
            on_success=self._saved,
            on_failure=self._save_failed,
        )

    def _saved(self, customer_id: int) -> None:
        self.customer_id = customer_id
        self.changed.emit(customer_id)
        self.load()
        self.summary_label.setText(_("Saved.") + " " + self.summary_label.text())

    def _save_failed(self, error: BaseException) -> None:
        if isinstance(error, cs.ValidationError):
            self._show_errors(error.problems)
        else:
            show_error(self, error)

    # ---- actions ------------------------------------------------------------------------------
    def _run(self, work, done, title: str = "") -> None:
        self.context.runner.run(
            work, title=title, show_progress=bool(title), parent=self, on_success=done
        )

    def _after_change(self, _result=None) -> None:
        if self.customer_id is not None:
            self.changed.emit(self.customer_id)
            self.load()

    def add_note(self) -> None:
        text = self.note_edit.text()
        if not text.strip() or self.customer_id is None:
            return
        db, customer_id = self.context.db, self.customer_id
        self.note_edit.clear()
        self._run(lambda p, c: cs.add_note(db, customer_id, text), self._after_change)

    def toggle_archived(self) -> None:
        if self.detail is None:
            return
        db, customer_id, archived = self.context.db, self.detail.id, not self.detail.archived
        self._run(lambda p, c: cs.set_archived(db, customer_id, archived), self._after_change)

    def unsubscribe(self) -> None:
        if self.detail is None:
            return
        db, customer_id = self.context.db, self.detail.id
        source = _("unsubscribed in the customer's profile")
        self._run(lambda p, c: cs.unsubscribe(db, customer_id, source=source), self._after_change)

    def _event_selected(self, current, _previous) -> None:
        event = current.data(EventRole) if current.isValid() else None
        self.undo_merge_button.setEnabled(event is not None and event.undo_merge_id is not None)

    def undo_selected_merge(self) -> None:
        index = self.timeline_view.currentIndex()
        event = index.data(EventRole) if index.isValid() else None
        if event is None or event.undo_merge_id is None:
            return
        db, merge_id = self.context.db, event.undo_merge_id

        def done(restored_id: int) -> None:
            self._after_change()
            self.changed.emit(restored_id)

        self._run(lambda p, c: undo_merge(db, merge_id), done)

    def export_data(self) -> None:
        if self.detail is None:
            return
        folder = QFileDialog.getExistingDirectory(
            self, _("Choose a folder for the customer's data")
        )
        if folder:
            self.export_to(Path(folder))

    def export_to(self, folder: Path) -> None:
        db, customer_id = self.context.db, self.detail.id

        def done(exported) -> None:
            QMessageBox.information(
                self,
                _("Export this customer's data"),
                _("Saved:\n{json}\n{csv}").format(json=exported.json_path, csv=exported.csv_path),
            )

        self._run(lambda p, c: export_customer_data(db, customer_id, folder), done)

    def erase(self) -> None:
        if self.detail is None:
            return
        answer = QMessageBox.warning(
            self,
            _("Erase this customer"),
            _(
                "Erase {name} for good? Their profile, notes, consent records and history are "
                "removed from the shop file; sales stay as anonymous totals, and the email is kept "
                "only as a code so it is never mailed again. This cannot be undone (backups made "
                "before today still hold the data until they are thinned out)."
            ).format(name=self.detail.name),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        db, customer_id = self.context.db, self.detail.id

        def done(_count) -> None:
            self.changed.emit(customer_id)
            self.accept()

        self._run(lambda p, c: erase_customer(db, customer_id), done, title=_("Erasing…"))
