"""The command-line contract of DESIGN.md: summaries, --json as the last line, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from smbcrm import __version__
from smbcrm.app import main


def run(capsys, *args) -> tuple[int, str, str]:
    try:
        status = main(list(args))
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_version(capsys):
    status, out, _err = run(capsys, "--version")
    assert status == 0
    assert out.strip() == f"smbcrm {__version__}"


def test_demo_backup_check_and_restore(tmp_path, capsys):
    db = str(tmp_path / "tienda.db")
    status, out, _err = run(capsys, "--db", db, "demo", "--customers", "300", "--json")
    assert status == 0
    figures = last_json(out)
    assert figures["customers"] == 300 and figures["purchase_lines"] > 1_000

    status, out, _err = run(capsys, "--db", db, "check", "--json")
    assert (status, last_json(out)) == (0, {"ok": True, "problems": []})

    status, out, _err = run(capsys, "--db", db, "backup", "--json")
    backup = last_json(out)["path"]
    assert status == 0 and backup.endswith("-manual.db.gz")

    status, out, _err = run(capsys, "--db", db, "backups", "--json")
    assert [b["path"] for b in last_json(out)["backups"]] == [backup]

    status, out, _err = run(capsys, "--db", db, "restore", backup, "--json")
    assert status == 0
    assert last_json(out)["safety_backup"].endswith("-before-restore.db.gz")

    status, out, _err = run(capsys, "--db", db, "backup", str(tmp_path), "--json")
    assert status == 0 and last_json(out)["path"].endswith(".db")


def test_a_rejected_input_exits_1_with_a_message(tmp_path, capsys):
    not_a_shop = tmp_path / "clientes.xlsx"
    not_a_shop.write_bytes(b"PK\x03\x04 not a database")
    status, out, err = run(capsys, "--db", str(not_a_shop), "check", "--json")
    assert status == 1
    assert "not a SQLite database" in err
    assert "not a SQLite database" in last_json(out)["error"]
    assert not_a_shop.read_bytes() == b"PK\x03\x04 not a database"


def test_the_demo_refuses_a_shop_with_data(tmp_path, capsys):
    db = str(tmp_path / "tienda.db")
    run(capsys, "--db", db, "demo", "--customers", "10")
    status, _out, err = run(capsys, "--db", db, "demo", "--customers", "10")
    assert status == 1 and "empty shop" in err


def test_bad_usage_exits_2(capsys):
    status, _out, err = run(capsys, "demo", "--customers", "many")
    assert status == 2
    status, _out, _err = run(capsys, "no-such-command")
    assert status == 2


def test_messages_follow_the_environment_language(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SMBCRM_LANGUAGE", "es")
    status, out, _err = run(capsys, "--db", str(tmp_path / "t.db"), "check")
    assert status == 0
    assert out.strip() == "El archivo de la tienda está en buen estado."


def test_selftest_opens_the_real_window_offscreen(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SMBCRM_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "smbcrm", "--selftest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "selftest ok" in result.stdout


@pytest.mark.parametrize("args", [["--db", "{db}", "check", "--json"]])
def test_the_installed_command_runs_as_a_program(tmp_path, args):
    argv = [a.replace("{db}", str(tmp_path / "t.db")) for a in args]
    env = {**os.environ, "SMBCRM_DATA_DIR": str(tmp_path), "SMBCRM_LANGUAGE": "en"}
    result = subprocess.run(
        [sys.executable, "-m", "smbcrm", *argv], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert last_json(result.stdout) == {"ok": True, "problems": []}


def test_import_and_export_from_the_command_line(tmp_path, capsys):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Nombre", "Correo", "Celular"])
    book.active.append(["Ana", "ana@correo.co", "300 123 4567"])
    book.active.append(["Mal", "mal@@correo", ""])
    source = tmp_path / "clientes.xlsx"
    book.save(source)
    db = str(tmp_path / "t.db")
    status, out, _err = run(
        capsys, "--db", db, "import", "customers", str(source), "--dry-run", "--json"
    )
    assert status == 0
    assert last_json(out)["created"] == 1 and last_json(out)["errors"][0]["row"] == 3
    status, out, _err = run(capsys, "--db", db, "import", "customers", str(source), "--json")
    assert last_json(out) == {"rows": 2, "created": 1, "updated": 0, "skipped": 0,
                              "errors": [last_json(out)["errors"][0]]}  # fmt: skip
    status, out, _err = run(capsys, "--db", db, "search", "ana", "--json")
    assert last_json(out)["results"][0]["email"] == "ana@correo.co"
    target = tmp_path / "salida.csv"
    status, out, _err = run(capsys, "--db", db, "export", "customers", str(target), "--json")
    assert status == 0 and last_json(out)["rows"] == 1 and target.exists()
    status, out, _err = run(capsys, "--db", db, "imports", "--json")
    batch = last_json(out)["imports"][0]["id"]
    status, out, _err = run(capsys, "--db", db, "undo-import", str(batch), "--json")
    assert status == 0
    status, out, _err = run(capsys, "--db", db, "search", "ana", "--json")
    assert last_json(out)["results"] == []
