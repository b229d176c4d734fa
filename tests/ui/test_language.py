"""Qt's own buttons follow the chosen language through Qt's qtbase catalogue."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox

from smbcrm.core.i18n import _

from smbcrm.ui.language import apply_language

Buttons = QDialogButtonBox.StandardButton


def button_texts() -> list[str]:
    box = QDialogButtonBox(Buttons.Cancel | Buttons.Close)
    return sorted(button.text().replace("&", "") for button in box.buttons())


def test_qt_buttons_and_our_messages_switch_together(qapp):
    apply_language("es")
    assert button_texts() == ["Cancelar", "Cerrar"]
    assert _("Settings") == "Configuración"
    apply_language("en")
    assert button_texts() == ["Cancel", "Close"]
    assert _("Settings") == "Settings"
