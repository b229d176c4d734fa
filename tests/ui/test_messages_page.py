"""Email accounts in Settings and the Messages page, driven like the owner would, with a real
SMTP server on 127.0.0.1 receiving the campaign."""

from __future__ import annotations

import pytest

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from smbcrm.models.tables import EmailAccount, MailTemplate
from smbcrm.services.mail_templates import save_template
from smbcrm.services.settings import save_settings
from tests.conftest import MemoryPasswords, make_account, make_customer
from tests.ui.conftest import answer_modal, wait_idle

from smbcrm.ui.messages.campaign_dialogs import CheckDialog, NewCampaignDialog
from smbcrm.ui.messages.passwords import use_password_store
from smbcrm.ui.settings.account_dialog import AccountDialog


@pytest.fixture
def passwords():
    store = MemoryPasswords()
    use_password_store(store)
    yield store
    use_password_store(None)


def ready(shop):
    save_settings(shop, welcome_done=True, language="en", shop_name="Tienda La Esquina")
    for n in range(3):
        make_customer(first_name=f"Cliente{n}", email=f"c{n}@example.com", email_consent="granted")


def test_an_account_is_added_with_a_preset_and_its_password_stays_out_of_the_file(
    shop, open_window, qtbot, passwords
):
    ready(shop)
    window = open_window(shop)
    window.show_page(window.PAGES.index("settings"))
    section = window.pages["settings"].email_accounts

    def fill(dialog: AccountDialog) -> None:
        dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("gmail"))
        assert dialog.host_edit.text() == "smtp.gmail.com" and dialog.per_day.value() == 500
        QTest.keyClicks(dialog.name_edit, "Gmail tienda")
        QTest.keyClicks(dialog.from_edit, "tienda@gmail.com")
        assert dialog.user_edit.text() == "tienda@gmail.com"
        QTest.keyClicks(dialog.password_edit, "app-password-123")
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()

    answer_modal(AccountDialog, fill)
    qtbot.mouseClick(section.add_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: section.account_list.count() == 1)
    account = EmailAccount.get()
    assert account.per_day == 500 and account.security == "starttls"
    assert passwords.known == {"tienda@gmail.com@smtp.gmail.com:587": "app-password-123"}
    assert b"app-password-123" not in shop.path.read_bytes()


def test_a_template_is_written_with_fields_and_previewed(shop, open_window, qtbot, passwords):
    ready(shop)
    window = open_window(shop)
    window.show_page(window.PAGES.index("messages"))
    tab = window.pages["messages"].templates
    window.pages["messages"].tabs.setCurrentWidget(tab)
    qtbot.mouseClick(tab.ready_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.template_list.count() == 5)
    qtbot.mouseClick(tab.new_button, Qt.MouseButton.LeftButton)
    tab.name_edit.setText("Saludo")
    tab.subject_edit.setText("Hola")
    tab.body_edit.setPlainText("<p>Hola ")
    tab.body_edit.moveCursor(tab.body_edit.textCursor().MoveOperation.End)
    tab.fields_list.itemActivated.emit(tab.fields_list.item(0))  # First name
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.template_list.count() == 6)
    saved = MailTemplate.get(MailTemplate.name == "Saludo")
    assert saved.body_html == "<p>Hola {{ first_name }}"
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: "Cliente0" in tab.preview.toPlainText())
    tab.body_edit.setPlainText("<p>{{ first_name </p>")
    shown = []
    answer_modal(QMessageBox, lambda box: (shown.append(box.text()), box.accept()))
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)  # refused, with a message
    qtbot.waitUntil(lambda: bool(shown))
    assert "Line 1" in shown[0]
    assert MailTemplate.get_by_id(saved.id).body_html == "<p>Hola {{ first_name }}"


def test_a_campaign_is_created_checked_and_sent(shop, open_window, qtbot, passwords, mail_server):
    ready(shop)
    make_account(shop, mail_server)
    save_template(shop, "Novedades", "Hola {{ first_name }}", "<p>Llegó lo nuevo.</p>")
    window = open_window(shop)
    window.show_page(window.PAGES.index("messages"))
    tab = window.pages["messages"].campaigns

    def create(dialog: NewCampaignDialog) -> None:
        QTest.keyClicks(dialog.name_edit, "Marzo")
        dialog.create()

    answer_modal(NewCampaignDialog, create)
    qtbot.mouseClick(tab.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.table.rowCount() == 1)
    assert tab.send_button.isEnabled()

    def confirm(dialog: CheckDialog) -> None:
        assert dialog.send_button.text().replace("&", "") == "Send 3 messages"
        dialog.accept()

    answer_modal(CheckDialog, confirm)
    qtbot.mouseClick(tab.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(mail_server.received) == 3, timeout=20_000)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: tab.table.item(0, 2).text() == "Finished")
    assert tab.table.item(0, 3).text() == "3"


def test_a_campaign_left_sending_goes_on_when_the_window_opens(
    shop, open_window, qtbot, passwords, mail_server
):
    from tests.conftest import make_campaign, queue

    ready(shop)
    queue(shop, make_campaign(shop, make_account(shop, mail_server)))
    window = open_window(shop)
    window.pages["messages"].campaigns.resume_waiting_campaigns()
    qtbot.waitUntil(lambda: len(mail_server.received) == 3, timeout=20_000)
    wait_idle(qtbot, window)


def test_pause_and_resume_from_the_window(shop, open_window, qtbot, passwords, mail_server_factory):
    from tests.conftest import make_campaign, queue

    server = mail_server_factory(data_delay=0.05)
    save_settings(shop, welcome_done=True, language="en")
    for n in range(12):
        make_customer(first_name=f"C{n}", email=f"c{n}@example.com", email_consent="granted")
    campaign = make_campaign(shop, make_account(shop, server))
    queue(shop, campaign)
    window = open_window(shop)
    window.show_page(window.PAGES.index("messages"))
    tab = window.pages["messages"].campaigns
    tab.refresh()
    tab.table.selectRow(0)
    qtbot.mouseClick(tab.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(server.received) >= 2, timeout=20_000)
    qtbot.mouseClick(tab.pause_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: tab.table.item(0, 2).text() == "Paused")
    assert len(server.received) < 12
    tab.table.selectRow(0)
    qtbot.mouseClick(tab.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(server.received) == 12, timeout=20_000)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: tab.table.item(0, 2).text() == "Finished")
    got = [rcpt for _f, rcpt, _d in server.received]
    assert len(set(got)) == 12
