"""Messages > Templates: write a message once with merge fields, and preview it as any customer."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _
from smbcrm.services import mail_templates
from smbcrm.services.customers import search

from smbcrm.ui.context import ShopContext
from smbcrm.ui.tasks import show_error

PREVIEW_DELAY_MS = 400


class TemplatesTab(QWidget):
    changed = Signal()  # templates were added, saved or deleted

    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.current_id: int | None = None
        self.preview_customer: int | None = None
        self._preview_generation = 0

        self.template_list = QListWidget()
        self.template_list.setWordWrap(True)
        self.template_list.currentItemChanged.connect(self._chosen)
        self.new_button = QPushButton()
        self.ready_button = QPushButton()
        self.delete_button = QPushButton()
        self.new_button.clicked.connect(self.new_template)
        self.ready_button.clicked.connect(self.add_ready_made)
        self.delete_button.clicked.connect(self.delete_template)
        left = QVBoxLayout()
        left.addWidget(self.template_list, 1)
        left.addWidget(self.new_button)
        left.addWidget(self.ready_button)
        left.addWidget(self.delete_button)
        left_widget = QWidget()
        left_widget.setLayout(left)

        self.name_edit = QLineEdit()
        self.subject_edit = QLineEdit()
        self.marketing_box = QCheckBox()
        self.body_edit = QPlainTextEdit()
        self.body_edit.setTabChangesFocus(True)
        self.fields_list = QListWidget()
        self.fields_list.setMaximumWidth(240)
        self.fields_list.itemActivated.connect(self._insert_field)
        self.fields_label = QLabel()
        self.fields_label.setWordWrap(True)
        self.save_button = QPushButton()
        self.save_button.clicked.connect(self.save)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self.save)
        form = QFormLayout()
        self.name_label, self.subject_label = QLabel(), QLabel()
        self.name_label.setBuddy(self.name_edit)
        self.subject_label.setBuddy(self.subject_edit)
        form.addRow(self.name_label, self.name_edit)
        form.addRow(self.subject_label, self.subject_edit)
        form.addRow("", self.marketing_box)
        fields_column = QVBoxLayout()
        fields_column.addWidget(self.fields_label)
        fields_column.addWidget(self.fields_list, 1)
        body_row = QHBoxLayout()
        body_row.addWidget(self.body_edit, 1)
        body_row.addLayout(fields_column)
        save_row = QHBoxLayout()
        save_row.addStretch(1)
        save_row.addWidget(self.save_button)
        editor = QVBoxLayout()
        editor.addLayout(form)
        editor.addLayout(body_row, 1)
        editor.addLayout(save_row)
        editor_widget = QWidget()
        editor_widget.setLayout(editor)

        self.preview_as = QLineEdit()
        self.preview_as.returnPressed.connect(self.choose_preview_customer)
        self.preview_subject = QLabel()
        self.preview_subject.setWordWrap(True)
        self.preview_subject.setTextFormat(Qt.TextFormat.PlainText)
        self.preview = QTextBrowser()
        self.preview.setOpenLinks(False)
        self.preview_problems = QLabel()
        self.preview_problems.setWordWrap(True)
        self.preview_problems.setStyleSheet("color: #b3261e;")
        preview = QVBoxLayout()
        self.preview_label = QLabel()
        self.preview_label.setBuddy(self.preview_as)
        preview.addWidget(self.preview_label)
        preview.addWidget(self.preview_as)
        preview.addWidget(self.preview_subject)
        preview.addWidget(self.preview, 1)
        preview.addWidget(self.preview_problems)
        preview_widget = QWidget()
        preview_widget.setLayout(preview)

        splitter = QSplitter()
        splitter.addWidget(left_widget)
        splitter.addWidget(editor_widget)
        splitter.addWidget(preview_widget)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([230, 540, 360])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(splitter)

        self.preview_timer = QTimer(self)
        self.preview_timer.setSingleShot(True)
        self.preview_timer.setInterval(PREVIEW_DELAY_MS)
        self.preview_timer.timeout.connect(self.update_preview)
        for edit in (self.subject_edit, self.body_edit):
            edit.textChanged.connect(self.preview_timer.start)
        self.retranslate()

    def retranslate(self) -> None:
        self.new_button.setText(_("&New template"))
        self.ready_button.setText(_("Add &ready-made templates"))
        self.delete_button.setText(_("&Delete template"))
        self.name_label.setText(_("&Name:"))
        self.subject_label.setText(_("S&ubject:"))
        self.marketing_box.setText(
            _("Promotion (only to those who agreed; adds an unsubscribe line)")
        )
        self.fields_label.setText(_("Double-click to insert a field:"))
        self.save_button.setText(_("&Save template"))
        self.preview_label.setText(_("&Preview as (type a name and press Enter):"))
        self.preview_as.setPlaceholderText(_("Customer name, email or phone"))
        self.body_edit.setPlaceholderText(_("Hola {{ first_name }}, …"))

    def refresh(self) -> None:
        db = self.context.db
        self.fields_list.clear()
        for field in mail_templates.merge_fields(db):
            item = QListWidgetItem(field.label)
            item.setData(Qt.ItemDataRole.UserRole, field.placeholder)
            example = _("Example: {value}").format(value=field.example) if field.example else ""
            item.setToolTip(f"{field.placeholder}\n{example}".strip())
            self.fields_list.addItem(item)
        for snippet, label in mail_templates.SNIPPETS:
            item = QListWidgetItem(_(label))
            item.setData(Qt.ItemDataRole.UserRole, snippet)
            item.setToolTip(snippet)
            self.fields_list.addItem(item)
        keep = self.current_id
        self.template_list.blockSignals(True)
        self.template_list.clear()
        for info in mail_templates.list_templates(db):
            item = QListWidgetItem(info.name)
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            self.template_list.addItem(item)
            if info.id == keep:
                self.template_list.setCurrentItem(item)
        self.template_list.blockSignals(False)
        if self.template_list.currentItem() is None and self.template_list.count():
            self.template_list.setCurrentRow(0)
        elif self.template_list.currentItem() is not None:
            self._chosen(self.template_list.currentItem())
        else:
            self.new_template()
        if self.preview_customer is None:
            first = db.execute_sql(
                "SELECT id FROM customer WHERE archived = 0 AND merged_into_id IS NULL "
                "AND email IS NOT NULL ORDER BY id LIMIT 1"
            ).fetchone()
            self.preview_customer = first[0] if first else None
        self.delete_button.setEnabled(self.template_list.count() > 0)

    def _chosen(self, item: QListWidgetItem | None, *_args) -> None:
        if item is None:
            return
        info = mail_templates.template(self.context.db, item.data(Qt.ItemDataRole.UserRole))
        self.current_id = info.id
        self.name_edit.setText(info.name)
        self.subject_edit.setText(info.subject)
        self.marketing_box.setChecked(info.marketing)
        self.body_edit.setPlainText(info.body_html)
        self.update_preview()

    def new_template(self) -> None:
        self.current_id = None
        self.template_list.clearSelection()
        self.name_edit.setText(_("New template"))
        self.subject_edit.setText("")
        self.marketing_box.setChecked(True)
        self.body_edit.setPlainText('<p>Hola {{ first_name | default("amigo") }}:</p>\n<p></p>')
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _insert_field(self, item: QListWidgetItem) -> None:
        self.body_edit.insertPlainText(item.data(Qt.ItemDataRole.UserRole))
        self.body_edit.setFocus()

    def save(self) -> None:
        db, template_id = self.context.db, self.current_id
        name, subject = self.name_edit.text(), self.subject_edit.text()
        body, marketing = self.body_edit.toPlainText(), self.marketing_box.isChecked()

        def saved(info: mail_templates.TemplateInfo) -> None:
            self.current_id = info.id
            self.refresh()
            self.changed.emit()

        self.context.runner.run(
            lambda progress, cancel: mail_templates.save_template(
                db, name, subject, body, marketing=marketing, template_id=template_id
            ),
            parent=self,
            on_success=saved,
            show_progress=False,
        )

    def add_ready_made(self) -> None:
        db, language = self.context.db, self.context.profile.language

        def added(count: int) -> None:
            self.refresh()
            self.changed.emit()
            if not count:
                QMessageBox.information(
                    self, _("Templates"), _("You already have every ready-made template.")
                )

        self.context.runner.run(
            lambda progress, cancel: mail_templates.add_ready_templates(db, language),
            parent=self,
            on_success=added,
            show_progress=False,
        )

    def delete_template(self) -> None:
        if self.current_id is None:
            return
        answer = QMessageBox.question(
            self,
            _("Delete template"),
            _("Delete the template “{name}”? Campaigns made with it keep their own copy.").format(
                name=self.name_edit.text()
            ),
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        db, template_id = self.context.db, self.current_id

        def deleted(_result) -> None:
            self.current_id = None
            self.refresh()
            self.changed.emit()

        self.context.runner.run(
            lambda progress, cancel: mail_templates.delete_template(db, template_id),
            parent=self,
            on_success=deleted,
            show_progress=False,
        )

    def choose_preview_customer(self) -> None:
        found = search(self.context.db, self.preview_as.text(), limit=1)
        if not found:
            self.preview_problems.setText(
                _("No customer matches “{text}”.").format(text=self.preview_as.text())
            )
            return
        self.preview_customer = found[0].id
        self.update_preview()

    def update_preview(self) -> None:
        """Renders on a worker (recommendations may read a year of sales); newest wins."""
        if self.preview_customer is None:
            self.preview_subject.setText(_("Add a customer to see a preview."))
            return
        self._preview_generation += 1
        generation = self._preview_generation
        db, customer = self.context.db, self.preview_customer
        subject, body = self.subject_edit.text() or " ", self.body_edit.toPlainText()

        def work(progress, cancel):
            return mail_templates.preview(db, subject, body, customer)

        def shown(result) -> None:
            if generation == self._preview_generation:
                self._show_preview(*result)

        def failed(error: BaseException) -> None:
            if generation != self._preview_generation:
                return
            if isinstance(error, UserError):
                self.preview_problems.setText(error.message)
            else:
                show_error(self, error)

        self.context.runner.run(
            work, parent=self, on_success=shown, on_failure=failed, show_progress=False
        )

    def _show_preview(self, recipient, rendered) -> None:
        self.preview_subject.setText(
            _("To: {name} <{email}>").format(name=recipient.name, email=recipient.email or "—")
            + "\n"
            + _("Subject: {subject}").format(subject=rendered.subject)
        )
        self.preview.setHtml(rendered.html)
        self.preview_problems.setText(
            _("Empty for this customer: {fields}").format(fields=", ".join(rendered.missing))
            if rendered.missing
            else ""
        )
