"""Every released schema upgrades to the current one without losing data; a failed step undoes itself."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from peewee import IntegrityError

from smbcrm.models.migrations import LATEST_VERSION, MIGRATIONS, Migration, schema_version_of
from smbcrm.services.backup import list_backups
from smbcrm.services.customers import matching_ids
from smbcrm.services.shop import open_shop

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fixture_versions() -> list[int]:
    return sorted(int(p.stem.removeprefix("schema_v")) for p in FIXTURES.glob("schema_v*.db"))


def test_every_released_schema_has_a_fixture():
    assert fixture_versions() == [step.version for step in MIGRATIONS]


@pytest.mark.parametrize("version", fixture_versions())
def test_each_fixture_upgrades_to_the_current_schema_keeping_its_data(tmp_path, version):
    path = tmp_path / "shop.db"
    shutil.copy(FIXTURES / f"schema_v{version}.db", path)
    before = sqlite3.connect(path)
    customers = before.execute("SELECT first_name, last_name, email FROM customer").fetchall()
    totals = before.execute("SELECT id, total FROM purchase ORDER BY id").fetchall()
    before.close()
    assert customers and totals

    db = open_shop(path)
    try:
        assert schema_version_of(db.connection()) == LATEST_VERSION
        assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute_sql("SELECT first_name, last_name, email FROM customer").fetchall() == (
            customers
        )
        assert db.execute_sql("SELECT id, total FROM purchase ORDER BY id").fetchall() == totals
    finally:
        db.close_for_good()


def test_the_search_index_rebuilt_without_prefix_indexes_still_finds_by_prefix(tmp_path):
    path = tmp_path / "shop.db"
    shutil.copy(FIXTURES / "schema_v5.db", path)
    db = open_shop(path)
    try:
        definition = db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'customer_search'"
        ).fetchone()[0]
        assert "prefix" not in definition
        ana = db.execute_sql("SELECT id FROM customer WHERE email = 'ana.gomez@example.com'")
        ana_id = ana.fetchone()[0]
        for typed in ("go", "gom", "Gómez Rest", "ana.gomez@ex", "mede", "antio"):
            assert ana_id in matching_ids(db, typed), typed
    finally:
        db.close_for_good()


@pytest.mark.parametrize("start", ["schema_v6.db", None])
def test_bulk_filled_tables_check_their_states_without_in_lists(tmp_path, start):
    path = tmp_path / "shop.db"
    if start:
        shutil.copy(FIXTURES / start, path)
    db = open_shop(path)
    db.close_for_good()
    db = open_shop(path)  # read again from the file, by a new connection
    try:
        for table in ("customer", "consent_event", "outbox_message"):
            sql = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = ?", (table,))
            assert not re.search(r"\bIN\s*\(", sql.fetchone()[0]), table
        insert = ("INSERT INTO customer (first_name, email_consent, created_at, updated_at) "
                  "VALUES ('Pía', ?, 'hoy', 'hoy')")  # fmt: skip
        plan = db.execute_sql("EXPLAIN " + insert, ("granted",)).fetchall()
        assert "OpenEphemeral" not in {step[1] for step in plan}  # no list built for each row
        db.execute_sql(insert, ("withdrawn",))
        with pytest.raises(IntegrityError, match="CHECK"):
            db.execute_sql(insert, ("tal vez",))
        with pytest.raises(IntegrityError, match="CHECK"):
            db.execute_sql("INSERT INTO consent_event (customer_id, state, recorded_at, method) "
                           "VALUES (1, 'quizás', 'hoy', 'import')")  # fmt: skip
        assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close_for_good()


def _add_column(db):
    db.execute_sql("ALTER TABLE customer ADD COLUMN nickname TEXT NOT NULL DEFAULT ''")


def _broken(db):
    db.execute_sql("ALTER TABLE customer ADD COLUMN half_done TEXT")
    db.execute_sql("THIS IS NOT SQL")


def test_a_migration_is_applied_after_a_backup(tmp_path):
    path = tmp_path / "shop.db"
    open_shop(path).close_for_good()
    steps = (*MIGRATIONS, Migration(LATEST_VERSION + 1, "nicknames", _add_column))
    db = open_shop(path, migrations=steps)
    try:
        assert schema_version_of(db.connection()) == LATEST_VERSION + 1
        columns = {row[1] for row in db.execute_sql("PRAGMA table_info(customer)")}
        assert "nickname" in columns
    finally:
        db.close_for_good()
    assert [info.reason for info in list_backups(path)] == ["before-migration"]


def test_a_failing_migration_leaves_the_schema_as_it_was(tmp_path):
    path = tmp_path / "shop.db"
    open_shop(path).close_for_good()
    steps = (*MIGRATIONS, Migration(LATEST_VERSION + 1, "broken", _broken))
    with pytest.raises(Exception, match="syntax error"):
        open_shop(path, migrations=steps)
    connection = sqlite3.connect(path)
    columns = {row[1] for row in connection.execute("PRAGMA table_info(customer)")}
    assert "half_done" not in columns
    assert schema_version_of(connection) == LATEST_VERSION
    connection.close()
    open_shop(path).close_for_good()  # and the file is free again
