"""The Customers page and profile, driven like a person would: type, open, edit, merge, erase."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QMessageBox

from smbcrm.models.tables import Customer, Purchase
from smbcrm.services import customers as cs
from smbcrm.services.custom_fields import add_field
from smbcrm.services.settings import save_settings
from tests.conftest import make_purchase
from tests.ui.conftest import answer_modal, wait_idle

from smbcrm.ui.customers.duplicates_dialog import DuplicatesDialog, MergeDialog
from smbcrm.ui.customers.profile_dialog import ProfileDialog


def create(db, **fields):
    return cs.create_customer(db, cs.CustomerInput(**fields), region="CO")


def seeded(shop):
    save_settings(shop, welcome_done=True, language="en")
    people = {
        "ana": create(
            shop,
            first_name="Ana",
            last_name="Gómez",
            email="ana@example.com",
            phone="300 123 4567",
            city="Medellín",
        ),  # fmt: skip
        "luis": create(
            shop, first_name="Luis", last_name="Pérez", phone="315 000 1111", city="Cali"
        ),  # fmt: skip
        "marta": create(shop, first_name="Marta", last_name="Gómez", city="Bogotá"),
    }
    make_purchase(Customer.get_by_id(people["ana"]), (50_000,))
    return people


def names(page) -> list[str]:
    return [page.model.row_at(r).name for r in range(page.model.rowCount())]


def test_typing_in_the_search_box_narrows_the_list(open_window, shop, qtbot):
    seeded(shop)
    window = open_window(shop)
    page = window.pages["customers"]
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)
    qtbot.keyClicks(page.search_edit, "gom")
    qtbot.waitUntil(
        lambda: (
            names(page) == ["Ana Gómez", "Marta Gómez"]
            or names(page) == ["Marta Gómez", "Ana Gómez"]
        )
    )
    qtbot.keyClicks(page.search_edit, "ez ana")
    qtbot.waitUntil(lambda: names(page) == ["Ana Gómez"])
    assert page.count_label.text() == "1 customer matches “gomez ana”"
    page.search_edit.clear()
    qtbot.keyClicks(page.search_edit, "+57 315")
    qtbot.waitUntil(lambda: names(page) == ["Luis Pérez"])
    page.search_edit.clear()
    page.phone_check.setChecked(True)
    qtbot.waitUntil(lambda: sorted(names(page)) == ["Ana Gómez", "Luis Pérez"])


def test_sorting_by_a_column_header(open_window, shop, qtbot):
    seeded(shop)
    window = open_window(shop)
    page = window.pages["customers"]
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)
    page._header_clicked(6)  # total spent: biggest first
    qtbot.waitUntil(lambda: names(page)[0] == "Ana Gómez")
    page._header_clicked(0)
    qtbot.waitUntil(lambda: names(page) == ["Ana Gómez", "Luis Pérez", "Marta Gómez"])
    page._header_clicked(0)
    qtbot.waitUntil(lambda: names(page) == ["Marta Gómez", "Luis Pérez", "Ana Gómez"])


def test_invalid_email_and_phone_are_explained_and_nothing_is_saved(open_window, shop, qtbot):
    people = seeded(shop)
    window = open_window(shop)
    dialog: ProfileDialog = window.pages["customers"].open_customer(people["luis"])
    dialog.edits["email"].setText("luis@@example")
    dialog.edits["first_name"].setText("Luis\nAlberto")
    dialog.save_button.click()
    assert dialog.errors["email"].isVisible()
    assert "not a valid email" in dialog.errors["email"].text()
    assert "line breaks" in dialog.errors["first_name"].text()
    assert cs.customer_detail(shop, people["luis"]).first_name == "Luis"

    dialog.edits["email"].setText("luis@example.com")
    dialog.edits["first_name"].setText("Luis")
    dialog.edits["phone"].setText("llamar a la tienda")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: cs.customer_detail(shop, people["luis"]).email == "luis@example.com")
    wait_idle(qtbot, window)
    detail = cs.customer_detail(shop, people["luis"])
    assert detail.phone == "llamar a la tienda" and detail.phone_flagged
    assert "kept as typed" in dialog.errors["phone"].text()


def test_a_new_customer_with_tags_custom_field_and_consent(open_window, shop, qtbot):
    seeded(shop)
    size = add_field(shop, "Talla", "choice", ["S", "M", "L"])
    window = open_window(shop)
    page = window.pages["customers"]
    dialog: ProfileDialog = page.open_customer(None)
    dialog.edits["first_name"].setText("Sofía")
    dialog.edits["last_name"].setText("Ramírez")
    dialog.edits["birthday"].setText("29/02/1996")
    dialog.edits["phone"].setText("+57 320 555 1234")
    dialog.tags_edit.setText("VIP, Vecino")
    combo = dialog.custom_widgets[size]
    combo.setCurrentIndex(combo.findData("M"))
    dialog.consent_combo.setCurrentIndex(dialog.consent_combo.findData("granted"))
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.customer_id is not None)
    wait_idle(qtbot, window)
    detail = cs.customer_detail(shop, dialog.customer_id)
    assert (detail.name, detail.birthday.isoformat(), detail.tags) == (
        "Sofía Ramírez", "1996-02-29", ("Vecino", "VIP")
    )  # fmt: skip
    assert detail.custom_values == {size: "M"}
    assert detail.email_consent == "granted"
    assert detail.consent_history[0].method == "counter"
    qtbot.waitUntil(lambda: page.model.rowCount() == 4)


def test_saving_a_duplicate_email_asks_first(open_window, shop, qtbot):
    people = seeded(shop)
    window = open_window(shop)
    page = window.pages["customers"]
    dialog = page.open_customer(people["marta"])
    dialog.edits["email"].setText("ANA@example.com")
    asked = []

    def open_her(box: QMessageBox) -> None:
        asked.append(box.text())
        next(b for b in box.buttons() if b.text() == "Open Ana Gómez").click()

    answer_modal(QMessageBox, open_her)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: people["ana"] in page.dialogs)
    assert asked == ["Ana Gómez already has this email — open her or him?"]
    assert cs.customer_detail(shop, people["marta"]).email == ""


def test_timeline_shows_purchases_and_notes_newest_first_and_loads_more(open_window, shop, qtbot):
    people = seeded(shop)
    ana = Customer.get_by_id(people["ana"])
    for day in range(1, 121):
        make_purchase(ana, (1_000 * day,), when=datetime(2025, 1, 1) + timedelta(days=day))
    window = open_window(shop)
    dialog = window.pages["customers"].open_customer(people["ana"])
    dialog.tabs.setCurrentIndex(1)
    qtbot.keyClicks(dialog.note_edit, "Prefiere el cafe de Huila")  # QTest types ASCII only
    qtbot.keyClick(dialog.note_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.timeline_model.events[0].kind == "note", timeout=10_000)
    model = dialog.timeline_model
    assert len(model.events) == 50  # the first page only
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    total = (
        121
        + shop.execute_sql(
            "SELECT COUNT(*) FROM activity WHERE customer_id = ?", (people["ana"],)
        ).fetchone()[0]
    )
    assert len(model.events) == total
    times = [event.occurred_at for event in model.events]
    assert times == sorted(times, reverse=True)
    assert "Prefiere el cafe de Huila" in model.data(model.index(0))


def test_merge_from_find_duplicates_then_undo_from_the_timeline(open_window, shop, qtbot):
    people = seeded(shop)
    twin = create(shop, first_name="Ana María", last_name="Gómez", email="ana@example.com")
    make_purchase(Customer.get_by_id(twin), (20_000,))
    window = open_window(shop)

    def take_second_name(dialog: MergeDialog) -> None:
        dialog.groups["first_name"].button(1).setChecked(True)
        dialog.merge_button.click()

    answer_modal(MergeDialog, take_second_name)
    duplicates: DuplicatesDialog = window.find_duplicates()
    qtbot.waitUntil(lambda: len(duplicates.pairs) == 1)
    duplicates.merge_selected()
    qtbot.waitUntil(lambda: Purchase.select().where(Purchase.customer == twin).count() == 0)
    wait_idle(qtbot, window)
    kept = cs.customer_detail(shop, people["ana"])
    assert kept.first_name == "Ana María" and kept.purchase_count == 2

    profile = window.pages["customers"].open_customer(people["ana"])
    profile.tabs.setCurrentIndex(1)
    profile.timeline_view.setCurrentIndex(profile.timeline_model.index(0))
    assert profile.undo_merge_button.isEnabled()
    profile.undo_merge_button.click()
    qtbot.waitUntil(lambda: Purchase.select().where(Purchase.customer == twin).count() == 1)
    wait_idle(qtbot, window)
    assert cs.customer_detail(shop, people["ana"]).first_name == "Ana"
    assert cs.customer_detail(shop, twin).merged_into_id is None


def test_erase_from_the_profile_leaves_no_trace_in_the_file(open_window, shop, qtbot):
    people = seeded(shop)
    window = open_window(shop)
    dialog = window.pages["customers"].open_customer(people["ana"])
    answer_modal(QMessageBox, lambda box: box.button(QMessageBox.StandardButton.Yes).click())
    dialog.erase_button.click()
    qtbot.waitUntil(lambda: not Customer.select().where(Customer.id == people["ana"]).exists())
    wait_idle(qtbot, window)
    shop.close()
    for needle in ("ana@example.com", "3001234567", "Gómez"):
        found = subprocess.run(["grep", "-a", "-c", needle, str(shop.path)], capture_output=True)
        if needle == "Gómez":
            assert found.returncode == 0  # Marta Gómez is still a customer
        else:
            assert found.returncode == 1, needle


def test_export_from_the_profile_writes_json_and_csv(open_window, shop, qtbot, tmp_path):
    people = seeded(shop)
    window = open_window(shop)
    dialog = window.pages["customers"].open_customer(people["ana"])
    shown = []
    answer_modal(QMessageBox, lambda box: (shown.append(box.text()), box.accept()))
    dialog.export_to(tmp_path)
    qtbot.waitUntil(lambda: bool(shown))
    assert len(list(tmp_path.glob("customer-*.json"))) == 1
    assert len(list(tmp_path.glob("customer-*.csv"))) == 1


def test_filtering_by_a_custom_field(open_window, shop, qtbot):
    from smbcrm.services.custom_fields import set_custom_values

    people = seeded(shop)
    size = add_field(shop, "Talla", "choice", ["S", "M"])
    set_custom_values(shop, people["luis"], {size: "M"})
    window = open_window(shop)
    page = window.pages["customers"]
    qtbot.waitUntil(lambda: page.field_combo.count() == 3)
    assert page.field_combo.itemText(2) == "Talla: M"
    page.field_combo.setCurrentIndex(2)
    page.field_combo.activated.emit(2)
    qtbot.waitUntil(lambda: names(page) == ["Luis Pérez"])
