"""account add / campaign create|send|status|resolve from the command line, against a real server."""

from __future__ import annotations

from smbcrm.services.shop import open_shop
from tests.conftest import make_customer
from tests.test_cli import last_json, run


def fill(path, count: int) -> None:
    db = open_shop(path)
    for n in range(count):
        make_customer(first_name=f"Cliente{n}", email=f"c{n}@example.com", email_consent="granted")
    db.close_for_good()


def test_a_campaign_from_the_command_line(tmp_path, capsys, mail_server):
    shop = tmp_path / "shop.db"
    fill(shop, 3)
    db = ["--db", str(shop)]
    status, out, _err = run(
        capsys, *db, "account", "add", "Local", "--host", "127.0.0.1", "--port",
        str(mail_server.port), "--security", "none", "--from", "tienda@example.com", "--json",
    )  # fmt: skip
    assert status == 0 and last_json(out)["account"] == "Local"
    template = tmp_path / "promo.html"
    template.write_text("Subject: Hola {{ first_name }}\n<p>Novedades para ti.</p>", "utf-8")
    status, out, _err = run(
        capsys, *db, "campaign", "create", "Promo", "--template", str(template),
        "--audience", "all", "--account", "Local", "--json",
    )  # fmt: skip
    assert status == 0
    status, out, _err = run(capsys, *db, "campaign", "status", "Promo", "--json")
    assert last_json(out) == dict.fromkeys(
        ("queued", "sending", "sent", "deferred", "failed", "uncertain", "suppressed"), 0
    )
    status, out, _err = run(capsys, *db, "campaign", "send", "Promo", "--json")
    figures = last_json(out)
    assert status == 0 and figures["sent"] == 3 and figures["state"] == "finished"
    assert sorted(r for _f, r, _d in mail_server.received) == [
        "c0@example.com", "c1@example.com", "c2@example.com"]  # fmt: skip
    status, out, _err = run(capsys, *db, "campaign", "status", "Promo", "--json")
    assert last_json(out)["sent"] == 3
    # Sending again sends nothing twice.
    run(capsys, *db, "campaign", "send", "Promo", "--json")
    assert len(mail_server.received) == 3


def test_clear_text_is_refused_for_a_server_on_the_internet(tmp_path, capsys):
    status, out, err = run(
        capsys, "--db", str(tmp_path / "shop.db"), "account", "add", "Gmail", "--host",
        "smtp.gmail.com", "--port", "25", "--security", "none", "--from", "t@gmail.com",
    )  # fmt: skip
    assert status == 1 and "127.0.0.1" in err


def test_uncertain_messages_are_decided_from_the_command_line(
    tmp_path, capsys, mail_server_factory
):
    server = mail_server_factory(drop="after_data", drop_count=1)
    shop = tmp_path / "shop.db"
    fill(shop, 2)
    db = ["--db", str(shop)]
    run(capsys, *db, "account", "add", "Local", "--host", "127.0.0.1", "--port",
        str(server.port), "--security", "none", "--from", "tienda@example.com")  # fmt: skip
    template = tmp_path / "t.html"
    template.write_text("<p>Hola</p>", "utf-8")
    run(capsys, *db, "campaign", "create", "Promo", "--template", str(template), "--subject",
        "Hola", "--audience", "all", "--account", "Local")  # fmt: skip
    status, out, _err = run(capsys, *db, "campaign", "send", "Promo", "--json")
    figures = last_json(out)
    assert figures["state"] == "needs_decision" and figures["uncertain"] == 1
    status, out, _err = run(capsys, *db, "campaign", "resolve", "Promo", "--skip", "--json")
    assert last_json(out)["failed"] == 1 and last_json(out)["uncertain"] == 0
