"""The shop's name, country, currency and language: shared by the welcome and Settings."""

from __future__ import annotations

from typing import Any

from babel.numbers import get_currency_name

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QWidget

from smbcrm.core.i18n import LANGUAGES, _, current_language
from smbcrm.core.money import CURRENCIES
from smbcrm.services.settings import COUNTRY_CURRENCY, MAX_SHOP_NAME, country_name


class ShopForm(QWidget):
    language_chosen = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(MAX_SHOP_NAME)
        self.name_edit.setMinimumWidth(320)
        self.country_combo = QComboBox()
        self.currency_combo = QComboBox()
        self.language_combo = QComboBox()
        for code, name in LANGUAGES.items():
            self.language_combo.addItem(name, code)  # each language in its own words
        for code in COUNTRY_CURRENCY:
            self.country_combo.addItem(code, code)
        for code in CURRENCIES:
            self.currency_combo.addItem(code, code)
        self.labels = {key: QLabel() for key in ("name", "country", "currency", "language")}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addRow(self.labels["name"], self.name_edit)
        layout.addRow(self.labels["country"], self.country_combo)
        layout.addRow(self.labels["currency"], self.currency_combo)
        layout.addRow(self.labels["language"], self.language_combo)
        for key, field in (
            ("name", self.name_edit),
            ("country", self.country_combo),
            ("currency", self.currency_combo),
            ("language", self.language_combo),
        ):
            self.labels[key].setBuddy(field)
        self.country_combo.currentIndexChanged.connect(self._country_changed)
        self.language_combo.activated.connect(
            lambda index: self.language_chosen.emit(self.language_combo.itemData(index))
        )
        self.retranslate()

    def _country_changed(self, index: int) -> None:
        currency = COUNTRY_CURRENCY.get(self.country_combo.itemData(index))
        if currency:
            self.currency_combo.setCurrentIndex(self.currency_combo.findData(currency))

    def retranslate(self) -> None:
        language = current_language()
        self.labels["name"].setText(_("Shop &name:"))
        self.labels["country"].setText(_("C&ountry:"))
        self.labels["currency"].setText(_("C&urrency:"))
        self.labels["language"].setText(_("&Language:"))
        self.name_edit.setPlaceholderText(_("For example: Panadería La Espiga"))
        for index in range(self.country_combo.count()):
            code = self.country_combo.itemData(index)
            self.country_combo.setItemText(index, country_name(code, language))
        for index in range(self.currency_combo.count()):
            code = self.currency_combo.itemData(index)
            name = get_currency_name(code, locale=language)
            self.currency_combo.setItemText(index, f"{name} ({code})")

    def set_values(self, *, shop_name: str, country: str, currency: str, language: str) -> None:
        self.name_edit.setText(shop_name)
        self.country_combo.setCurrentIndex(max(0, self.country_combo.findData(country)))
        self.currency_combo.setCurrentIndex(max(0, self.currency_combo.findData(currency)))
        self.language_combo.setCurrentIndex(max(0, self.language_combo.findData(language)))

    def values(self) -> dict[str, Any]:
        return {
            "shop_name": self.name_edit.text().strip(),
            "country": self.country_combo.currentData(),
            "currency": self.currency_combo.currentData(),
            "language": self.language_combo.currentData(),
        }
