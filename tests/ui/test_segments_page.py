"""The Segments page and the rule builder, driven like a person would: build a nested rule and
watch the count, open a rule that names something deleted, click into the RFM grid."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QSpinBox,
)

from smbcrm.core.dates import utc_now
from smbcrm.models.tables import Customer, Segment, Tag
from smbcrm.services import segments as sg
from smbcrm.services.customers import set_tags
from smbcrm.services.segment_rules import CONDITION_TYPES
from smbcrm.services.settings import save_settings
from tests.conftest import make_purchase
from tests.ui.conftest import answer_modal, wait_idle

from smbcrm.ui.segments.members_dialog import StaticListDialog
from smbcrm.ui.segments.rule_builder import ConditionRow, GroupBox, RuleBuilderDialog


def seeded(shop) -> dict[str, int]:
    save_settings(shop, welcome_done=True, language="en")
    people = {
        "ana": Customer.create(first_name="Ana", last_name="Gomez", city="Bogota").id,
        "luis": Customer.create(first_name="Luis", last_name="Perez", city="Cali").id,
        "marta": Customer.create(first_name="Marta", last_name="Ruiz", city="Bogota").id,
    }
    set_tags(shop, people["marta"], ["VIP"])
    make_purchase(Customer.get_by_id(people["ana"]), (50_000,), when=utc_now() - timedelta(days=3))
    return people


def editor(row: ConditionRow, name: str):
    return next(e for e in row.editors if e.param.name == name).editor


def count_text(dialog: RuleBuilderDialog) -> str:
    return dialog.count_label.text()


def test_build_a_nested_rule_and_see_the_count(open_window, shop, qtbot):
    seeded(shop)
    window = open_window(shop)
    page = window.pages["segments"]
    dialog = page.new_segment()
    qtbot.waitUntil(lambda: count_text(dialog) == "3 customers")

    # City is Bogota …
    place = dialog.root.add_condition(CONDITION_TYPES["place"].new())
    qtbot.keyClicks(editor(place, "values"), "bogota")
    qtbot.waitUntil(lambda: count_text(dialog) == "2 customers")
    assert "Ana Gomez" in dialog.examples_label.text()

    # … and (bought in the last 30 days, or has the tag VIP).
    group = dialog.root.add_group({"match": "any", "items": []})
    assert isinstance(group, GroupBox)
    bought = group.add_condition(CONDITION_TYPES["purchase_count"].new())
    spin = editor(bought, "count")
    assert isinstance(spin, QSpinBox)
    spin.setValue(1)
    editor(bought, "days").setValue(30)
    qtbot.waitUntil(lambda: count_text(dialog) == "1 customer")
    tag = group.add_condition(CONDITION_TYPES["tag"].new())
    combo = editor(tag, "tag")
    assert isinstance(combo, QComboBox)
    combo.setCurrentIndex(combo.findText("VIP"))
    qtbot.waitUntil(lambda: count_text(dialog) == "2 customers")

    # "not" on the tag: Bogota and (bought lately or not VIP) is Ana alone.
    tag.findChild(QCheckBox).setChecked(True)
    qtbot.waitUntil(lambda: count_text(dialog) == "1 customer")

    qtbot.keyClicks(dialog.name_edit, "Bogota lately")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: Segment.select().count() == 1)
    assert sg.segment_customer_ids(shop, "Bogota lately") == [Customer.get(first_name="Ana").id]
    items = sg.segment_detail(shop, "Bogota lately").rule["rule"]["items"]
    assert items[1]["items"][1]["names"] == {"tag": "VIP"}
    qtbot.waitUntil(
        lambda: bool(page.tree.findItems("    Bogota lately", Qt.MatchFlag.MatchExactly))
    )
    wait_idle(qtbot, window)


def test_typing_never_waits_for_the_count_and_the_newest_answer_wins(open_window, shop, qtbot):
    seeded(shop)
    window = open_window(shop)
    dialog = window.pages["segments"].new_segment()
    place = dialog.root.add_condition(CONDITION_TYPES["place"].new())
    line = editor(place, "values")
    assert isinstance(line, QLineEdit)
    qtbot.keyClicks(line, "cali, bogota")  # each key starts a count that later ones replace
    qtbot.waitUntil(lambda: count_text(dialog) == "3 customers")
    wait_idle(qtbot, window)
    assert count_text(dialog) == "3 customers"


def test_a_rule_naming_a_deleted_tag_opens_with_that_condition_in_red(open_window, shop, qtbot):
    people = seeded(shop)
    vip = Tag.get(Tag.name == "VIP").id
    rule = {"version": 1, "rule": {"match": "any", "items": [
        {"type": "tag", "tag": vip, "names": {"tag": "VIP"}},
        {"type": "place", "field": "city", "op": "equals", "value": "Cali"},
        {"type": "loyalty_points", "at_least": 100},
        {"type": "birthday", "when": "month", "month": 3, "year_of_birth": 1990},
        {"match": "all", "not": True, "items": []},
    ]}}  # fmt: skip
    saved = sg.save_segment(shop, "VIP or Cali", rule)
    Tag.delete().where(Tag.id == vip).execute()
    window = open_window(shop)
    page = window.pages["segments"]
    page.refresh()
    qtbot.waitUntil(lambda: bool(page.tree.findItems("    VIP or Cali", Qt.MatchFlag.MatchExactly)))
    page.select(f"segment-{saved}")
    dialog = page.edit_current()
    assert dialog is not None
    qtbot.waitUntil(lambda: count_text(dialog) == "1 customer")
    rows = dialog.root.children_widgets
    assert rows[0].problem_label.isVisibleTo(dialog) and "deleted" in rows[0].problem_label.text()
    assert editor(rows[0], "tag").currentText() == "(deleted: VIP)"
    assert not rows[1].problem_label.isVisibleTo(dialog)
    assert rows[2].problem_label.isVisibleTo(dialog)  # a condition from a newer version
    # Saving keeps what this version does not understand.
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    stored = sg.segment_detail(shop, f"segment-{saved}").rule
    assert stored["rule"]["items"][2] == {"type": "loyalty_points", "at_least": 100}
    assert stored["rule"]["items"][0] == {"type": "tag", "tag": vip, "names": {"tag": "VIP"}}
    assert stored["rule"]["items"][3]["year_of_birth"] == 1990  # a key from a newer version
    assert stored["rule"]["items"][4] == {"match": "all", "not": True, "items": []}
    assert people


def test_clicking_an_rfm_group_shows_its_customers_on_the_customers_page(open_window, shop, qtbot):
    seeded(shop)
    window = open_window(shop)
    page = window.pages["segments"]
    window.show_page(window.PAGES.index("segments"))
    qtbot.waitUntil(lambda: page.overview is not None)
    assert sum(page.overview.grid.cells.values()) == 1  # only Ana bought
    cell = next(k for k, n in page.overview.grid.cells.items() if n)
    qtbot.mouseClick(page.cells[cell], Qt.MouseButton.LeftButton)
    customers = window.pages["customers"]
    assert window.current_page_key() == "customers"
    qtbot.waitUntil(lambda: customers.model.rowCount() == 1)
    assert customers.model.row_at(0).name == "Ana Gomez"
    page.select("lapsed")
    qtbot.mouseClick(page.show_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: customers.model.rowCount() == 0)
    wait_idle(qtbot, window)


def test_a_static_list_is_changed_by_hand(open_window, shop, qtbot):
    people = seeded(shop)
    list_id = sg.freeze_segment(shop, "active", "Compradores")
    window = open_window(shop)
    page = window.pages["segments"]
    qtbot.waitUntil(lambda: page.overview is not None)
    page.select(f"segment-{list_id}")
    dialog = page.edit_current()
    assert isinstance(dialog, StaticListDialog)
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1)
    qtbot.keyClicks(dialog.add_edit, "Luis")
    qtbot.keyClick(dialog.add_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.search_menu is not None)
    dialog.search_menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2)
    assert sg.segment_customer_ids(shop, "Compradores") == [people["ana"], people["luis"]]
    dialog.table.selectRow(0)
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1)
    assert sg.segment_customer_ids(shop, "Compradores") == [people["luis"]]
    dialog.close()
    wait_idle(qtbot, window)


def test_export_and_tag_a_segment_from_the_page(open_window, shop, qtbot, tmp_path):
    seeded(shop)
    window = open_window(shop)
    page = window.pages["segments"]
    qtbot.waitUntil(lambda: page.overview is not None)
    target = tmp_path / "activos.csv"
    answer_modal(QMessageBox, lambda box: box.accept())
    page.export_to(target, "active")
    qtbot.waitUntil(target.exists)
    wait_idle(qtbot, window)
    assert "Ana" in target.read_text(encoding="utf-8-sig")
    assert sg.tag_segment_members(shop, "active", "Activa") == 1


def test_places_are_suggested_as_you_type_after_the_last_comma(open_window, shop, qtbot):
    seeded(shop)
    window = open_window(shop)
    dialog = window.pages["segments"].new_segment()
    place = dialog.root.add_condition(CONDITION_TYPES["place"].new())
    line = editor(place, "values")
    completer = line.completer()
    assert completer is not None
    line.setText("Cali, bog")
    assert completer.splitPath(line.text()) == ["bog"]
    completer.setCompletionPrefix("bog")
    assert completer.currentCompletion() == "Cali, Bogota"
    wait_idle(qtbot, window)


def test_ctrl_n_on_the_segments_page_starts_a_new_segment(open_window, shop, qtbot):
    window = open_window(shop)
    window.activateWindow()
    window.show_page(window.PAGES.index("segments"))
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.pages["segments"].tree, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    opened = [w for w in QApplication.topLevelWidgets() if isinstance(w, RuleBuilderDialog)]
    assert [w.isVisible() for w in opened] == [True]
    opened[0].close()
    wait_idle(qtbot, window)


def test_rename_a_saved_segment_with_f2(open_window, shop, qtbot):
    seeded(shop)
    saved = sg.save_segment(shop, "Vieja", {"version": 1, "rule": {"match": "all", "items": []}})
    window = open_window(shop)
    page = window.pages["segments"]
    qtbot.waitUntil(lambda: page.overview is not None)
    page.select(f"segment-{saved}")

    def rename(dialog: QInputDialog) -> None:
        dialog.setTextValue("Nueva")
        dialog.accept()

    answer_modal(QInputDialog, rename)
    window.show_page(window.PAGES.index("segments"))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(page.tree, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: sg.segment_detail(shop, f"segment-{saved}").name == "Nueva")
    qtbot.waitUntil(lambda: page.current_key() == f"segment-{saved}")
    wait_idle(qtbot, window)


def test_the_customer_list_lets_go_of_a_segment_that_was_deleted(open_window, shop, qtbot):
    seeded(shop)
    saved = sg.save_segment(shop, "Cali", {"version": 1, "rule": {"match": "all", "items": [
        {"type": "place", "field": "city", "op": "in", "values": ["Cali"]}]}})  # fmt: skip
    window = open_window(shop)
    customers = window.pages["customers"]
    window.show_segment_customers(f"segment-{saved}", "Cali")
    qtbot.waitUntil(lambda: customers.model.rowCount() == 1)
    sg.delete_segment(shop, saved)
    customers.refresh()  # as the Segments page asks after a deletion
    qtbot.waitUntil(lambda: customers.model.rowCount() == 3)
    assert customers.segment_combo.currentData() == ""
    wait_idle(qtbot, window)
