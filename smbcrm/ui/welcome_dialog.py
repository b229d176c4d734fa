"""First start: the shop's name, country, currency and language, or a demo shop to look around."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from smbcrm.core.i18n import _

from smbcrm.ui.language import apply_language
from smbcrm.ui.shop_form import ShopForm
from smbcrm.ui.title_page import heading


class WelcomeDialog(QDialog):
    EMPTY, DEMO = "empty", "demo"

    def __init__(self, *, language: str, parent=None) -> None:
        super().__init__(parent)
        self.choice = self.EMPTY
        self.title_label = heading()
        self.intro_label = QLabel()
        self.intro_label.setWordWrap(True)
        self.form = ShopForm()
        self.form.set_values(shop_name="", country="CO", currency="COP", language=language)
        self.form.language_chosen.connect(self._language_chosen)
        self.start_button = QPushButton()
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._start)

        self.demo_frame = QFrame()
        self.demo_frame.setFrameShape(QFrame.Shape.StyledPanel)
        self.demo_label = QLabel()
        self.demo_label.setWordWrap(True)
        self.demo_button = QPushButton()
        self.demo_button.clicked.connect(self._demo)
        demo_layout = QHBoxLayout(self.demo_frame)
        demo_layout.addWidget(self.demo_label, 1)
        demo_layout.addWidget(self.demo_button)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(self.title_label)
        layout.addWidget(self.intro_label)
        layout.addWidget(self.form)
        layout.addLayout(buttons)
        layout.addSpacing(8)
        layout.addWidget(self.demo_frame)
        self.setMinimumWidth(560)
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(_("Welcome to smbcrm"))
        self.title_label.setText(_("Welcome to smbcrm"))
        self.intro_label.setText(
            _(
                "Tell us a little about your shop. Everything stays on this computer, and you "
                "can change it later in Settings."
            )
        )
        self.form.retranslate()
        self.start_button.setText(_("&Start with my shop"))
        self.demo_label.setText(
            _(
                "Just looking? Open a demo shop: a neighbourhood store in Colombia with 2,000 "
                "customers and two years of sales."
            )
        )
        self.demo_button.setText(_("Open a &demo shop"))

    def _language_chosen(self, code: str) -> None:
        apply_language(code)
        self.retranslate()
        if self.parent() is not None and hasattr(self.parent(), "retranslate"):
            self.parent().retranslate()

    def _start(self) -> None:
        self.choice = self.EMPTY
        self.accept()

    def _demo(self) -> None:
        self.choice = self.DEMO
        self.accept()

    def values(self) -> dict[str, Any]:
        return self.form.values()
