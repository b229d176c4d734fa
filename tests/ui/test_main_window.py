"""The real main window, offscreen: first run, demo, language, backups, restore, checks."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from smbcrm.models.tables import Customer
from smbcrm.services import backup as backups
from smbcrm.services.settings import save_settings, shop_profile
from tests.conftest import damage_deep_inside, make_customer
from tests.ui.conftest import answer_modal, wait_idle

from smbcrm.ui.main_window import MainWindow
from smbcrm.ui.restore_dialog import RestoreDialog
from smbcrm.ui.welcome_dialog import WelcomeDialog


def test_navigation_menus_and_shortcuts(open_window, shop):
    window = open_window(shop)
    names = [window.navigation.item(i).text() for i in range(window.navigation.count())]
    assert names == [
        "Customers", "Segments", "Messages", "Loyalty", "Surveys", "Reports", "Settings"
    ]  # fmt: skip
    assert [m.title() for m in (window.file_menu, window.go_menu, window.help_menu)] == [
        "&File", "&Go", "&Help"
    ]  # fmt: skip
    assert window.actions_by_name["backup"].shortcut().toString() == "Ctrl+B"
    window.page_actions[5].trigger()
    assert window.current_page_key() == "reports"
    assert window.stack.currentWidget().title_label.text() == "Reports"


def test_first_run_welcome_then_demo_shop(open_window, shop, qtbot):
    window = open_window(shop)

    def choose_demo(dialog: WelcomeDialog) -> None:
        dialog.form.name_edit.setText("Tienda Prueba")
        dialog.demo_button.click()

    answer_modal(WelcomeDialog, choose_demo)
    window.run_welcome_if_needed()
    qtbot.waitUntil(lambda: window.context.profile.is_demo, timeout=30_000)
    wait_idle(qtbot, window)
    assert Customer.select().count() == 2_000
    assert window.context.profile.shop_name == "Tienda Prueba"
    assert window.windowTitle() == "Tienda Prueba — smbcrm"
    reports = window.pages["reports"]
    qtbot.waitUntil(lambda: reports.summary is not None)
    assert reports.summary.purchases > 5_000
    assert reports.figures["products"].value_label.text() == "62"


def test_first_run_with_my_own_shop(open_window, shop, qtbot):
    window = open_window(shop)

    def fill(dialog: WelcomeDialog) -> None:
        dialog.form.name_edit.setText("Ferretería El Tornillo")
        dialog.form.country_combo.setCurrentIndex(dialog.form.country_combo.findData("MX"))
        dialog.start_button.click()

    answer_modal(WelcomeDialog, fill)
    window.run_welcome_if_needed()
    qtbot.waitUntil(lambda: window.context.profile.welcome_done)
    profile = shop_profile(shop)
    assert (profile.shop_name, profile.country, profile.currency) == (
        "Ferretería El Tornillo", "MX", "MXN"
    )  # fmt: skip
    assert Customer.select().count() == 0


def test_welcome_switches_language_as_soon_as_it_is_chosen(open_window, shop, qtbot):
    window = open_window(shop)
    seen = {}

    def switch(dialog: WelcomeDialog) -> None:
        combo = dialog.form.language_combo
        combo.setCurrentIndex(combo.findData("es"))
        combo.activated.emit(combo.currentIndex())
        seen["dialog"] = dialog.start_button.text()
        seen["window"] = window.navigation.item(0).text()
        dialog.reject()

    answer_modal(WelcomeDialog, switch)
    window.run_welcome_if_needed()
    assert seen == {"dialog": "&Empezar con mi tienda", "window": "Clientes"}


def test_switching_the_language_in_settings(open_window, shop, qtbot):
    save_settings(shop, welcome_done=True, language="en")
    window = open_window(shop)
    window.show_page(MainWindow.PAGES.index("settings"))
    page = window.pages["settings"]
    combo = page.form.language_combo
    combo.setCurrentIndex(combo.findData("es"))
    page.save_button.click()
    qtbot.waitUntil(lambda: window.navigation.item(0).text() == "Clientes")
    assert window.file_menu.title() == "&Archivo"
    assert page.save_button.text() == "&Guardar la configuración"
    assert shop_profile(shop).language == "es"


def test_invalid_settings_are_explained_and_not_saved(open_window, shop, qtbot):
    save_settings(shop, shop_name="La Espiga")
    window = open_window(shop)
    page = window.pages["settings"]
    page.form.name_edit.setText("x" * 100)
    page.form.name_edit.setMaxLength(1000)
    page.form.name_edit.setText("x" * 500)
    messages = []
    answer_modal(QMessageBox, lambda box: (messages.append(box.text()), box.accept()))
    page.save_button.click()
    qtbot.waitUntil(lambda: bool(messages))
    assert "too long" in messages[0]
    assert shop_profile(shop).shop_name == "La Espiga"


def test_backup_now_and_restore_from_the_menu(open_window, shop, qtbot):
    save_settings(shop, shop_name="Antes", welcome_done=True, language="en")
    make_customer(first_name="Ana")
    window = open_window(shop)

    window.actions_by_name["backup"].trigger()
    qtbot.waitUntil(lambda: len(backups.list_backups(shop.path)) == 1)
    wait_idle(qtbot, window)
    assert window.backup_label.text().startswith("Last backup:")

    save_settings(shop, shop_name="Después")
    make_customer(first_name="Pedro", email="pedro@example.com")

    answer_modal(RestoreDialog, lambda dialog: dialog.restore_button.click())
    answer_modal(QMessageBox, lambda box: box.button(QMessageBox.StandardButton.Yes).click())
    window.actions_by_name["restore"].trigger()
    qtbot.waitUntil(lambda: "Restored" in window.statusBar().currentMessage(), timeout=20_000)
    wait_idle(qtbot, window)
    assert [c.first_name for c in Customer.select()] == ["Ana"]
    reasons = sorted(info.reason for info in backups.list_backups(shop.path))
    assert reasons == ["before-restore", "manual"]
    assert window.windowTitle() == "Antes — smbcrm"


def test_check_database_from_the_help_menu(open_window, shop, qtbot):
    window = open_window(shop)
    messages = []
    answer_modal(QMessageBox, lambda box: (messages.append(box.text()), box.accept()))
    window.actions_by_name["check"].trigger()
    qtbot.waitUntil(lambda: bool(messages))
    assert messages == ["The shop file is in good health."]


def test_the_window_remembers_its_size_and_page(open_window, shop, qtbot):
    save_settings(shop, welcome_done=True)
    window = open_window(shop)
    window.resize(780, 530)
    window.show_page(MainWindow.PAGES.index("surveys"))
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20_000)
    assert len(backups.list_backups(shop.path)) == 1  # the backup when closing

    again = open_window(shop)
    assert (again.width(), again.height()) == (780, 530)
    assert again.current_page_key() == "surveys"


def test_about_shows_the_version(open_window, shop):
    from smbcrm import __version__

    window = open_window(shop)
    texts = []
    answer_modal(QMessageBox, lambda box: (texts.append(box.text()), box.accept()))
    window.actions_by_name["about"].trigger()
    assert __version__ in texts[0]


def test_damage_found_after_opening_is_reported(open_window, tmp_path, qtbot):
    from smbcrm.services.shop import open_shop

    path = tmp_path / "tienda.db"
    damage_deep_inside(path)
    db = open_shop(path)
    messages = []
    answer_modal(QMessageBox, lambda box: (messages.append(box.text()), box.reject()))
    try:
        window = open_window(db)
        qtbot.waitUntil(lambda: bool(messages), timeout=20_000)
        wait_idle(qtbot, window)
    finally:
        db.close_for_good()
    assert messages[0].startswith("The shop file is damaged. Restore a recent backup")


def test_the_automatic_backup_runs_only_when_something_changed(open_window, shop, qtbot):
    save_settings(shop, welcome_done=True, language="en")
    window = open_window(shop)
    assert window.backup_timer.interval() == 30 * 60 * 1000
    window.automatic_backup()
    qtbot.waitUntil(lambda: len(backups.list_backups(shop.path)) == 1)
    wait_idle(qtbot, window)
    window.automatic_backup()
    wait_idle(qtbot, window)
    assert len(backups.list_backups(shop.path)) == 1
    make_customer()
    window.automatic_backup()
    qtbot.waitUntil(lambda: len(backups.list_backups(shop.path)) == 2)
    assert [b.reason for b in backups.list_backups(shop.path)] == ["automatic", "automatic"]
