"""A page that so far shows its title and what it is for."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


def heading(text: str = "") -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.6)
    font.setBold(True)
    label.setFont(font)
    return label


class TitlePage(QWidget):
    def __init__(self, title: Callable[[], str], description: Callable[[], str], parent=None):
        super().__init__(parent)
        self._title, self._description = title, description
        self.title_label = heading()
        self.description_label = QLabel()
        self.description_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(self.title_label)
        layout.addWidget(self.description_label)
        layout.addStretch(1)
        layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.retranslate()

    def retranslate(self) -> None:
        self.title_label.setText(self._title())
        self.description_label.setText(self._description())

    def refresh(self) -> None:
        """Nothing on this page depends on the shop's data yet."""
