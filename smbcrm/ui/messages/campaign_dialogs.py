"""The dialogs of a campaign: create it (template, audience, account) and confirm its check."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
)

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _, ngettext
from smbcrm.services import campaigns
from smbcrm.services.customers import list_tags
from smbcrm.services.email_accounts import list_accounts
from smbcrm.services.mail_templates import list_templates
from smbcrm.services.segments import segment_choices

from smbcrm.ui.context import ShopContext
from smbcrm.ui.tasks import show_error

PROBLEM_ROWS_SHOWN = 500


def _segment_names(db) -> list[str]:
    return [name for _key, name in segment_choices(db)]


class NewCampaignDialog(QDialog):
    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.created: campaigns.CampaignInfo | None = None
        self.setWindowTitle(_("New campaign"))
        self.setMinimumWidth(520)
        db = context.db
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText(_("For example: Birthdays in March"))
        self.template_combo = QComboBox()
        for info in list_templates(db):
            self.template_combo.addItem(info.name, info.id)
        self.audience_combo = QComboBox()
        self.audience_combo.addItem(_("All customers"), "all")
        self.tags = [tag.name for tag in list_tags(db)]
        if self.tags:
            self.audience_combo.addItem(_("Customers with a tag"), "tag")
        self.segments = _segment_names(db)
        if self.segments:
            self.audience_combo.addItem(_("Customers in a segment"), "segment")
        self.value_combo = QComboBox()
        self.audience_combo.currentIndexChanged.connect(self._audience_kind)
        audience = QHBoxLayout()
        audience.addWidget(self.audience_combo)
        audience.addWidget(self.value_combo, 1)
        self.account_combo = QComboBox()
        for info in list_accounts(db):
            self.account_combo.addItem(f"{info.name} ({info.from_address})", info.id)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        if not self.template_combo.count() or not self.account_combo.count():
            self.hint.setText(
                _(
                    "A campaign needs a template (Messages > Templates) and an email account "
                    "(Settings > Email accounts)."
                )
            )
        form = QFormLayout()
        form.addRow(_("&Name:"), self.name_edit)
        form.addRow(_("&Template:"), self.template_combo)
        audience_label = QLabel(_("&Who gets it:"))
        audience_label.setBuddy(self.audience_combo)
        form.addRow(audience_label, audience)
        form.addRow(_("Send &from:"), self.account_combo)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(_("&Create"))
        buttons.accepted.connect(self.create)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(buttons)
        self._audience_kind()

    def _audience_kind(self) -> None:
        kind = self.audience_combo.currentData()
        self.value_combo.clear()
        for name in self.tags if kind == "tag" else self.segments if kind == "segment" else []:
            self.value_combo.addItem(name)
        self.value_combo.setVisible(kind != "all")

    def audience(self) -> str:
        kind = self.audience_combo.currentData()
        return "all" if kind == "all" else f"{kind}:{self.value_combo.currentText()}"

    def create(self) -> None:
        if not self.template_combo.count() or not self.account_combo.count():
            show_error(self, UserError(self.hint.text()))
            return
        db, name, audience = self.context.db, self.name_edit.text(), self.audience()
        template_id, account_id = (
            self.template_combo.currentData(),
            self.account_combo.currentData(),
        )

        def created(info: campaigns.CampaignInfo) -> None:
            self.created = info
            self.accept()

        self.context.runner.run(
            lambda progress, cancel: campaigns.create_campaign(
                db, name, template_id=template_id, account_id=account_id, audience=audience
            ),
            parent=self,
            on_success=created,
            show_progress=False,
        )


class CheckDialog(QDialog):
    """Every recipient was rendered once: the counts, the problems, and an example to confirm."""

    def __init__(self, check: campaigns.CampaignCheck, name: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Check of “{name}”").format(name=name))
        self.resize(820, 600)
        summary = QLabel(check.summary())
        summary.setWordWrap(True)
        table = QTableWidget(min(len(check.problems), PROBLEM_ROWS_SHOWN), 3)
        table.setHorizontalHeaderLabels([_("Customer"), _("Email"), _("Problem")])
        table.horizontalHeader().setStretchLastSection(True)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, problem in enumerate(check.problems[:PROBLEM_ROWS_SHOWN]):
            for column, text in enumerate((problem.name, problem.email, problem.text)):
                table.setItem(row, column, QTableWidgetItem(text))
        table.resizeColumnsToContents()
        example = QTextBrowser()
        if check.example is not None:
            example.setHtml(
                f"<p><b>{_('Subject: {subject}').format(subject=check.example.subject)}</b></p>"
                + check.example.html
            )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.send_button = buttons.addButton(
            ngettext("&Send {count} message", "&Send {count} messages", check.sendable).format(
                count=check.sendable
            ),
            QDialogButtonBox.ButtonRole.AcceptRole,
        )
        self.send_button.setEnabled(check.sendable > 0)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        if check.problems:
            layout.addWidget(QLabel(_("Who will not get it, or gets it with empty fields:")))
            layout.addWidget(table, 2)
        layout.addWidget(QLabel(_("The first message, as it will be sent:")))
        layout.addWidget(example, 3)
        layout.addWidget(buttons)
        table.setVisible(bool(check.problems))
        self.send_button.setFocus(Qt.FocusReason.OtherFocusReason)
