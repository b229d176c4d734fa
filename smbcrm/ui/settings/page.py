"""Settings: the shop's name, country, currency and language, email accounts, custom fields and
tags, and where backups are kept."""

from __future__ import annotations

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from smbcrm.core.i18n import _
from smbcrm.core.paths import backups_dir
from smbcrm.services.settings import ShopProfile, save_settings, shop_profile

from smbcrm.ui.context import ShopContext
from smbcrm.ui.settings.accounts_section import EmailAccountsSection
from smbcrm.ui.settings.fields_section import FieldsAndTags
from smbcrm.ui.shop_form import ShopForm
from smbcrm.ui.title_page import heading


class SettingsPage(QWidget):
    saved = Signal(object)  # the new ShopProfile

    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.title_label = heading()
        self.shop_group = QGroupBox()
        self.form = ShopForm()
        self.save_button = QPushButton()
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        shop_layout = QVBoxLayout(self.shop_group)
        shop_layout.addWidget(self.form)
        shop_layout.addLayout(buttons)

        self.backup_group = QGroupBox()
        self.backup_label = QLabel()
        self.backup_label.setWordWrap(True)
        self.open_backups_button = QPushButton()
        self.open_backups_button.clicked.connect(self.open_backups_folder)
        backup_layout = QVBoxLayout(self.backup_group)
        backup_layout.addWidget(self.backup_label)
        backup_row = QHBoxLayout()
        backup_row.addWidget(self.open_backups_button)
        backup_row.addStretch(1)
        backup_layout.addLayout(backup_row)

        self.fields_and_tags = FieldsAndTags(context)
        self.email_accounts = EmailAccountsSection(context)

        # The sections outgrow a small screen: they scroll, the window keeps its size.
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(self.title_label)
        layout.addWidget(self.shop_group)
        layout.addWidget(self.email_accounts)
        layout.addWidget(self.fields_and_tags)
        layout.addWidget(self.backup_group)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_profile(context.profile)
        self.retranslate()

    def retranslate(self) -> None:
        self.title_label.setText(_("Settings"))
        self.shop_group.setTitle(_("Your shop"))
        self.form.retranslate()
        self.save_button.setText(_("&Save settings"))
        self.backup_group.setTitle(_("Backups"))
        self.backup_label.setText(
            _(
                "smbcrm backs up your shop by itself every 30 minutes while you work, when you "
                "close it, and before any big change. Backups are kept in {folder}."
            ).format(folder=backups_dir(self.context.db.path))
        )
        self.open_backups_button.setText(_("&Open the backups folder"))
        self.fields_and_tags.retranslate()
        self.email_accounts.retranslate()

    def show_profile(self, profile: ShopProfile) -> None:
        self.form.set_values(
            shop_name=profile.shop_name,
            country=profile.country,
            currency=profile.currency,
            language=profile.language,
        )

    def refresh(self) -> None:
        self.show_profile(self.context.profile)
        self.fields_and_tags.refresh()
        self.email_accounts.refresh()

    def save(self) -> None:
        values = self.form.values()
        db = self.context.db

        def work(progress, cancel) -> ShopProfile:
            save_settings(db, **values)
            return shop_profile(db)

        self.context.runner.run(work, on_success=self.saved.emit, show_progress=False, parent=self)

    def open_backups_folder(self) -> None:
        folder = backups_dir(self.context.db.path)
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
