"""A canary password used for a whole campaign never lands in the shop file, its -wal, the log,
a backup or an export: it lives only in the keyring (here: the SMBCRM_SMTP_PASSWORD variable)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile

from smbcrm.core.paths import log_dir
from smbcrm.services.shop import open_shop
from tests.conftest import make_customer

CANARY = "Canary-7f3b9c2e-Pw"


def smbcrm(*args: str, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "smbcrm", *args, "--json"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_password_never_reaches_the_file_the_log_backups_or_exports(
    tmp_path, mail_server_factory
):
    server = mail_server_factory(auth=("tienda", CANARY), auth_require_tls=False)
    shop = tmp_path / "shop.db"
    db = open_shop(shop)
    make_customer(email="ana@example.com", email_consent="granted")
    db.close_for_good()
    env = {**os.environ, "SMBCRM_SMTP_PASSWORD": CANARY}
    base = ["--db", str(shop)]
    smbcrm(*base, "account", "add", "Local", "--host", "127.0.0.1", "--port", str(server.port),
           "--security", "none", "--user", "tienda", "--from", "tienda@example.com", env=env)  # fmt: skip
    template = tmp_path / "t.html"
    template.write_text("Subject: Hola\n<p>Hola {{ first_name }}</p>", "utf-8")
    smbcrm(*base, "campaign", "create", "Promo", "--template", str(template), "--audience",
           "all", "--account", "Local", env=env)  # fmt: skip
    assert smbcrm(*base, "campaign", "send", "Promo", env=env)["sent"] == 1
    assert server.auth_attempts and len(server.received) == 1  # the password was really used
    smbcrm(*base, "backup", env=env)
    smbcrm(*base, "export", "shop", str(tmp_path / "shop.xlsx"), env=env)
    smbcrm(*base, "export", "customers", str(tmp_path / "customers.csv"), env=env)

    places = [p for p in tmp_path.rglob("*") if p.is_file()] + [
        p for p in log_dir().rglob("*") if p.is_file()
    ]
    assert any(p.name.endswith(".db.gz") for p in places) and any(
        p.name == "smbcrm.log" for p in places
    )
    for path in places:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as workbook:
                data = b"".join(workbook.read(name) for name in workbook.namelist())
        assert CANARY.encode() not in data, path
        assert CANARY.encode("utf-16-le") not in data, path
