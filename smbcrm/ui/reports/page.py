"""Reports: the shop at a glance (customers, consent, catalogue, sales of the last 12 months)."""

from __future__ import annotations

from babel.numbers import format_decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from smbcrm.core.i18n import _
from smbcrm.core.money import format_money
from smbcrm.services.shop import ShopSummary, shop_summary

from smbcrm.ui.context import ShopContext
from smbcrm.ui.title_page import heading


class _Figure(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(220)
        self.value_label = QLabel("…")
        font = self.value_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.value_label.setFont(font)
        self.caption_label = QLabel()
        self.caption_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.value_label)
        layout.addWidget(self.caption_label)


class ReportsPage(QWidget):
    FIGURES = ("customers", "consent", "products", "purchases", "revenue")

    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.summary: ShopSummary | None = None
        self.title_label = heading()
        self.description_label = QLabel()
        self.description_label.setWordWrap(True)
        self.figures = {key: _Figure() for key in self.FIGURES}
        grid = QGridLayout()
        grid.setSpacing(12)
        for index, key in enumerate(self.FIGURES):
            grid.addWidget(self.figures[key], index // 3, index % 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(self.title_label)
        layout.addWidget(self.description_label)
        layout.addSpacing(12)
        layout.addLayout(grid)
        layout.addStretch(1)
        layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.retranslate()

    def retranslate(self) -> None:
        self.title_label.setText(_("Reports"))
        self.description_label.setText(_("Your shop at a glance."))
        captions = {
            "customers": _("customers"),
            "consent": _("customers who accept marketing email"),
            "products": _("products in the catalogue"),
            "purchases": _("purchases recorded"),
            "revenue": _("sales in the last 12 months"),
        }
        for key, caption in captions.items():
            self.figures[key].caption_label.setText(caption)
        self._show()

    def refresh(self) -> None:
        db = self.context.db
        self.context.runner.run(
            lambda progress, cancel: shop_summary(db),
            on_success=self._loaded,
            show_progress=False,
            parent=self,
        )

    def _loaded(self, summary: ShopSummary) -> None:
        self.summary = summary
        self._show()

    def _show(self) -> None:
        summary = self.summary
        if summary is None:
            return
        locale = self.context.profile.locale
        values = {
            "customers": format_decimal(summary.customers, locale=locale),
            "consent": format_decimal(summary.customers_with_consent, locale=locale),
            "products": format_decimal(summary.products, locale=locale),
            "purchases": format_decimal(summary.purchases, locale=locale),
            "revenue": format_money(
                summary.revenue_last_12_months, self.context.profile.currency, locale
            ),
        }
        for key, value in values.items():
            self.figures[key].value_label.setText(value)
