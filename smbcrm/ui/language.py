"""Switching the language of the whole program: our gettext catalogue and Qt's own qtbase one."""

from __future__ import annotations

from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator
from PySide6.QtWidgets import QApplication

from smbcrm.core.i18n import set_language

_qt_translator: QTranslator | None = None


def apply_language(code: str) -> str:
    """Use language code everywhere from now on; widgets then call their retranslate()."""
    global _qt_translator
    code = set_language(code)
    app = QApplication.instance()
    if app is None:
        return code
    if _qt_translator is not None:
        app.removeTranslator(_qt_translator)
        _qt_translator = None
    if code != "en":
        translator = QTranslator(app)
        folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        if translator.load(f"qtbase_{code}", folder):
            app.installTranslator(translator)
            _qt_translator = translator
    QLocale.setDefault(QLocale(code))
    return code
