"""Backups: safe to take, thinned like Anki, restored with a safety copy, health checks in words."""

from __future__ import annotations

import gzip
import os
import sqlite3
import time
from datetime import datetime, timedelta

import pytest

from smbcrm.core.errors import UserError
from smbcrm.core.paths import backups_dir
from smbcrm.models.tables import Customer
from smbcrm.services import backup as backups
from smbcrm.services.settings import save_settings, shop_profile
from tests.conftest import make_customer, make_purchase


def unpacked_rows(info, sql):
    scratch = info.path.with_name("check.db")
    scratch.write_bytes(gzip.decompress(info.path.read_bytes()))
    connection = sqlite3.connect(scratch)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()
        scratch.unlink()


def test_a_backup_holds_the_data_and_passes_quick_check(shop):
    make_customer(first_name="Lucía")
    info = backups.create_backup(shop, "manual")
    assert info.path.parent == backups_dir(shop.path)
    assert info.path.name.endswith("-manual.db.gz")
    assert unpacked_rows(info, "PRAGMA quick_check") == [("ok",)]
    assert unpacked_rows(info, "SELECT first_name FROM customer") == [("Lucía",)]
    leftovers = [p.name for p in info.path.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_an_automatic_backup_is_taken_only_when_data_changed(shop):
    make_customer()
    assert backups.backup_if_changed(shop) is not None
    assert backups.backup_if_changed(shop) is None
    time.sleep(0.01)
    make_customer(email="otro@example.com")
    assert backups.backup_if_changed(shop) is not None
    assert len(backups.list_backups(shop.path)) == 2


def test_reading_the_shop_does_not_count_as_a_change(shop):
    make_customer()
    backups.backup_if_changed(shop)
    assert Customer.select().count() == 1
    shop.close()  # a fresh connection applies the pragmas again
    assert Customer.select().count() == 1
    assert not backups.changed_since_last_backup(shop.path)


def days_ago(now, *days):
    return [now - timedelta(days=d) for d in days]


def test_thinning_keeps_the_last_two_days_then_daily_weekly_monthly():
    now = datetime(2026, 11, 22, 12, 0)
    every_half_hour = [now - timedelta(minutes=30 * i) for i in range(96)]  # last 2 days
    older = [now - timedelta(days=2, hours=6 * i) for i in range(4 * 400)]  # 4 a day, 400 days
    keep = backups.backups_to_keep(every_half_hour + older, now)
    assert set(every_half_hour) <= keep
    kept_older = sorted((t for t in keep if t not in every_half_hour), reverse=True)
    daily, rest = kept_older[:12], kept_older[12:]
    assert len({t.date() for t in daily}) == 12
    weekly, monthly = rest[:10], rest[10:]
    assert len({t.isocalendar()[:2] for t in weekly}) == 10
    assert len(monthly) == 9
    assert len({(t.year, t.month) for t in monthly}) == 9
    assert len(keep) == 96 + 12 + 10 + 9


def test_thinning_never_deletes_the_newest_even_when_old():
    now = datetime(2026, 11, 22)
    only = [now - timedelta(days=3000)]
    assert backups.backups_to_keep(only, now) == set(only)
    assert backups.backups_to_keep([], now) == set()


def test_thin_backups_deletes_files_the_rule_drops(shop):
    folder = backups_dir(shop.path)
    folder.mkdir()
    now = datetime(2026, 11, 22, 12)
    for moment in [now - timedelta(days=d, hours=h) for d in range(40) for h in (1, 5)]:
        name = f"shop-{moment.strftime('%Y%m%d-%H%M%S-%f')}-automatic.db.gz"
        (folder / name).write_bytes(b"x")
    (folder / "notes.txt").write_text("not a backup")
    deleted = backups.thin_backups(shop.path, now)
    remaining = backups.list_backups(shop.path)
    assert len(remaining) + len(deleted) == 80
    assert len(remaining) == 4 + 12 + 4  # 2 days of 2 a day, 12 daily, then weekly
    assert (folder / "notes.txt").exists()


def test_restore_brings_back_the_data_and_keeps_a_safety_backup(shop):
    save_settings(shop, shop_name="Antes")
    make_customer(first_name="Ana")
    taken = backups.create_backup(shop, "manual")
    save_settings(shop, shop_name="Después")
    make_customer(first_name="Pedro", email="pedro@example.com")

    safety = backups.restore_backup(shop, taken.path)

    assert shop_profile(shop).shop_name == "Antes"
    assert [c.first_name for c in Customer.select()] == ["Ana"]
    assert safety.reason == "before-restore"
    assert ("Pedro",) in unpacked_rows(safety, "SELECT first_name FROM customer")
    assert shop.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert backups.check_database(shop).ok


def test_a_damaged_backup_is_refused_and_nothing_changes(shop):
    make_customer()
    broken = shop.path.parent / "broken.db.gz"
    broken.write_bytes(gzip.compress(b"SQLite format 3\x00" + os.urandom(5000)))
    truncated = shop.path.parent / "truncated.db.gz"
    truncated.write_bytes(backups.create_backup(shop).path.read_bytes()[:300])
    for bad in (broken, truncated):
        with pytest.raises(UserError, match="nothing was changed"):
            backups.restore_backup(shop, bad)
    assert Customer.select().count() == 1


def test_a_damaged_file_can_be_replaced_by_a_backup_and_is_kept_aside(tmp_path, shop):
    make_customer(first_name="Ana")
    taken = backups.create_backup(shop)
    path = shop.path
    shop.close_for_good()
    path.write_bytes(b"garbage" * 1000)
    aside = backups.replace_file_with_backup(path, taken.path)
    assert aside.read_bytes() == b"garbage" * 1000
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT first_name FROM customer").fetchall() == [("Ana",)]
    connection.close()


def test_export_copy_writes_a_plain_database_and_never_overwrites(shop, tmp_path):
    make_customer()
    copy = backups.export_copy(shop, tmp_path / "copia.db")
    connection = sqlite3.connect(copy)
    assert connection.execute("SELECT COUNT(*) FROM customer").fetchone()[0] == 1
    connection.close()
    with pytest.raises(UserError, match="already exists"):
        backups.export_copy(shop, copy)
    with pytest.raises(UserError, match="shop file itself"):
        backups.export_copy(shop, shop.path)


def test_check_database_reports_problems_in_plain_words(shop):
    assert backups.check_database(shop) == backups.CheckReport(True, ())
    make_purchase(make_customer())
    shop.execute_sql("PRAGMA foreign_keys = OFF")
    shop.execute_sql("UPDATE purchase_line SET purchase_id = 999")
    shop.execute_sql("PRAGMA foreign_keys = ON")
    report = backups.check_database(shop)
    assert not report.ok
    assert report.problems == (
        "A record in “purchase_line” (number 1) points to a missing “purchase”.",
    )
