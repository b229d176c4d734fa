"""The import wizard and the import history, driven through their real widgets."""

from __future__ import annotations

import pytest
from openpyxl import Workbook

from PySide6.QtWidgets import QMessageBox

from smbcrm.models.tables import Customer
from smbcrm.services import importing
from smbcrm.services.settings import save_settings
from tests.ui.conftest import answer_modal, wait_idle


def spreadsheet(path):
    book = Workbook()
    sheet = book.active
    sheet.append(["Listado de clientes"])
    sheet.append(["Nombre", "Apellidos", "Correo electrónico", "Teléfono", "Fecha de nacimiento"])
    sheet.append(["Ana", "Gómez", "ana@correo.co", 3001234567, "05/03/1990"])
    sheet.append(["Luis", "Pérez", "luis@@correo", "315 000 1111", "13/12/1985"])
    book.save(path)
    return path


@pytest.mark.parametrize("in_child", [False, True], ids=["in-process", "child-process"])
def test_import_a_spreadsheet_through_the_wizard_then_undo_it(
    open_window, shop, qtbot, tmp_path, monkeypatch, in_child
):
    if in_child:  # as a big file is: read by a spawned child, started from the task's thread
        monkeypatch.setattr(importing, "WORKER_FILE_BYTES", 0)
    save_settings(shop, welcome_done=True, language="en")
    window = open_window(shop)
    wizard = window.import_file(spreadsheet(tmp_path / "clientes.xlsx"))
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.preview is not None, timeout=10_000)
    assert "row 2" in wizard.detected_label.text()
    assert wizard.preview_table.rowCount() == 2
    assert wizard.mapping_table.cellWidget(2, 1).currentData() == "email"
    wizard.dry_run_button.click()
    qtbot.waitUntil(lambda: wizard.problems.count() == 2, timeout=10_000)
    assert "not a valid email" in wizard.problems.item(1).text()
    assert Customer.select().count() == 0
    wizard.next_button.click()  # Import
    qtbot.waitUntil(lambda: wizard.result is not None, timeout=10_000)
    wait_idle(qtbot, window)
    assert Customer.select().count() == 1
    assert wizard.result_errors.count() == 1

    history = window.show_import_history()
    qtbot.waitUntil(lambda: len(history.imports) == 1)
    answer_modal(QMessageBox, lambda box: box.button(QMessageBox.StandardButton.Yes).click())
    history.undo_button.click()
    qtbot.waitUntil(lambda: Customer.select().count() == 0, timeout=10_000)
    wait_idle(qtbot, window)


def test_export_the_customer_list_from_the_file_menu(open_window, shop, qtbot, tmp_path):
    from smbcrm.services import customers as cs
    from smbcrm.services import exporting

    save_settings(shop, welcome_done=True, language="en")
    cs.create_customer(shop, cs.CustomerInput(first_name="Ana", email="ana@correo.co"), region="CO")
    window = open_window(shop)
    target = tmp_path / "lista.xlsx"
    window.export_to(target, lambda db, path, p, c: exporting.export_customers(db, path))
    qtbot.waitUntil(target.exists, timeout=10_000)
    wait_idle(qtbot, window)
    assert "Exported" in window.statusBar().currentMessage()
