"""Opening the shop file: pragmas, one program per file, and files that must be refused untouched."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat

import pytest

from smbcrm.core.errors import DatabaseFileError
from smbcrm.models.database import BUSY_TIMEOUT_MS, indexes_suspended, read_pragmas
from smbcrm.models.migrations import APPLICATION_ID, LATEST_VERSION
from smbcrm.models.tables import ALL_TABLES
from smbcrm.services.backup import check_database
from smbcrm.services.shop import open_shop
from tests.conftest import damage_deep_inside, shop_with_filler


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pragmas_are_read_back_from_sqlite(shop):
    assert read_pragmas(shop) == {
        "journal_mode": "wal",
        "synchronous": 2,  # FULL
        "foreign_keys": 1,
        "busy_timeout": BUSY_TIMEOUT_MS,
    }


def test_a_new_file_gets_the_latest_schema_and_our_mark(shop):
    connection = sqlite3.connect(shop.path)
    assert connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == (
        LATEST_VERSION
    )
    connection.close()


def test_every_model_matches_its_table(shop):
    for model in ALL_TABLES:
        table = model._meta.table_name
        columns = {row[1] for row in shop.execute_sql(f"PRAGMA table_info({table})")}
        fields = {field.column_name for field in model._meta.sorted_fields}
        assert columns == fields, table


def test_a_second_program_cannot_open_the_same_file(shop):
    with pytest.raises(DatabaseFileError, match="already open"):
        open_shop(shop.path)


def test_the_file_is_free_again_after_closing(tmp_path):
    first = open_shop(tmp_path / "shop.db")
    first.close_for_good()
    again = open_shop(tmp_path / "shop.db")
    again.close_for_good()


def _refused_untouched(path, match):
    before = digest(path)
    with pytest.raises(DatabaseFileError, match=match):
        open_shop(path)
    assert digest(path) == before
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path):
    path = tmp_path / "clientes.db"
    path.write_bytes(b"Nombre;Correo\nAna;ana@example.com\n" * 100)
    _refused_untouched(path, "not a SQLite database")


def test_a_file_with_a_damaged_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "shop.db"
    data = shop_with_filler(path)
    data[100:4096] = b"\xa5" * (4096 - 100)  # the first page: the list of tables
    path.write_bytes(bytes(data))
    _refused_untouched(path, "damaged")


def test_a_cut_short_file_is_refused_untouched(tmp_path):
    path = tmp_path / "shop.db"
    data = shop_with_filler(path)
    path.write_bytes(bytes(data[: len(data) // 2]))
    _refused_untouched(path, "damaged")


def test_damage_deep_inside_is_found_by_the_check(tmp_path):
    path = tmp_path / "shop.db"
    damage_deep_inside(path)
    db = open_shop(path)
    try:
        quick = check_database(db, quick=True)
        full = check_database(db)
    finally:
        db.close_for_good()
    assert not quick.ok and not full.ok
    assert full.problems[0].startswith("The file structure is damaged")


def test_another_programs_database_is_refused_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE songs (title TEXT)")
    connection.commit()
    connection.close()
    _refused_untouched(path, "another program")


def test_a_file_from_a_newer_smbcrm_is_refused_untouched(tmp_path):
    path = tmp_path / "shop.db"
    open_shop(path).close_for_good()
    connection = sqlite3.connect(path)
    connection.execute(
        "INSERT INTO schema_version VALUES (?, 'from the future', '2030-01-01')",
        (LATEST_VERSION + 1,),
    )
    connection.commit()
    connection.close()
    _refused_untouched(path, "newer version")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only files")
def test_a_read_only_file_is_refused_untouched(tmp_path):
    path = tmp_path / "shop.db"
    open_shop(path).close_for_good()
    path.chmod(stat.S_IRUSR)
    _refused_untouched(path, "read-only")


def test_a_read_only_file_is_refused_even_for_root(tmp_path, monkeypatch):
    path = tmp_path / "shop.db"
    open_shop(path).close_for_good()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode)
    )
    _refused_untouched(path, "read-only")


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(DatabaseFileError, match="folder"):
        open_shop(tmp_path)


def _indexes(db, table):
    return db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name",
        (table,),
    ).fetchall()


def test_suspended_indexes_come_back_and_a_failed_block_leaves_nothing(shop):
    before = _indexes(shop, "customer")
    with pytest.raises(RuntimeError, match="open transaction"), indexes_suspended(shop, "customer"):
        pass
    insert = (
        "INSERT INTO customer (first_name, code, created_at, updated_at) "
        "VALUES (?, ?, 'now', 'now')"
    )
    with shop.atomic():
        with indexes_suspended(shop, "customer", keep=("customer_city",)):
            during = _indexes(shop, "customer")
            shop.execute_sql(insert, ("Ana", "C1"))
        assert _indexes(shop, "customer") == before
        statements: list[str] = []
        shop.connection().set_trace_callback(statements.append)
        with pytest.raises(ZeroDivisionError), indexes_suspended(shop, "customer"):
            shop.execute_sql(insert, ("Luis", "C2"))
            1 / 0  # noqa: B018 - the work fails (Cancel, an error)
        shop.connection().set_trace_callback(None)
        # Back by rolling back to the savepoint, with the failed block's row: nothing is built.
        assert _indexes(shop, "customer") == before
        assert not [s for s in statements if s.startswith("CREATE INDEX")]
        names = [row[0] for row in shop.execute_sql("SELECT first_name FROM customer")]
        assert names == ["Ana"]
    # Only the unique index on the code, and those kept, stay while suspended.
    assert [name for name, _sql in during] == ["customer_city", "sqlite_autoindex_customer_1"]
    assert shop.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_index_with_a_quote_in_its_name_is_suspended_too(shop):
    shop.execute_sql('CREATE INDEX "odd""name" ON customer (region)')
    before = _indexes(shop, "customer")
    with shop.atomic(), indexes_suspended(shop, "customer"):
        assert 'odd"name' not in [name for name, _sql in _indexes(shop, "customer")]
    assert _indexes(shop, "customer") == before
