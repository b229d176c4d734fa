"""Messages: the shop's email templates and campaigns, sent through its own account."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from smbcrm.core.i18n import _

from smbcrm.ui.context import ShopContext
from smbcrm.ui.messages.campaigns_tab import CampaignsTab
from smbcrm.ui.messages.templates_tab import TemplatesTab
from smbcrm.ui.title_page import heading


class MessagesPage(QWidget):
    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.title_label = heading()
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.tabs = QTabWidget()
        self.campaigns = CampaignsTab(context)
        self.templates = TemplatesTab(context)
        self.tabs.addTab(self.campaigns, "")
        self.tabs.addTab(self.templates, "")
        self.templates.changed.connect(self.campaigns.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 12)
        layout.addWidget(self.title_label)
        layout.addWidget(self.description)
        layout.addWidget(self.tabs, 1)
        self.retranslate()

    def retranslate(self) -> None:
        self.title_label.setText(_("Messages"))
        self.description.setText(
            _("Personal emails to your customers, sent from your own account.")
        )
        self.tabs.setTabText(0, _("&Campaigns"))
        self.tabs.setTabText(1, _("&Templates"))
        self.campaigns.retranslate()
        self.templates.retranslate()

    def refresh(self) -> None:
        self.campaigns.refresh()
        self.templates.refresh()
