"""Numbered schema migrations: each step runs in one transaction and records its version row."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from peewee import SqliteDatabase

from smbcrm.core.dates import utc_now
from smbcrm.core.phones import phone_search_text

# 'SMBC': marks a SQLite file as a shop file, so another program's database is recognised.
APPLICATION_ID = 0x534D4243


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[SqliteDatabase], None]


def _run_script(db: SqliteDatabase, filename: str) -> None:
    """Run a .sql file statement by statement (triggers included) inside the step's transaction."""
    script = (Path(__file__).parent / filename).read_text(encoding="utf-8")
    statement = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not statement.strip():
            continue
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute_sql(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"{filename} ends with an incomplete statement")


def _create_first_tables(db: SqliteDatabase) -> None:
    _run_script(db, "schema_v1.sql")


def _customers_search_and_history(db: SqliteDatabase) -> None:
    rows = db.execute_sql(
        "SELECT id, phone, phone_e164 FROM customer WHERE phone != '' OR phone_e164 IS NOT NULL"
    ).fetchall()
    db.execute_sql("ALTER TABLE customer ADD COLUMN phone_digits TEXT NOT NULL DEFAULT ''")
    for customer_id, typed, e164 in rows:
        db.execute_sql(
            "UPDATE customer SET phone_digits = ? WHERE id = ?",
            (phone_search_text(typed, e164), customer_id),
        )
    _run_script(db, "schema_v2.sql")


def _undoable_imports(db: SqliteDatabase) -> None:
    _run_script(db, "schema_v3.sql")


def _segments(db: SqliteDatabase) -> None:
    _run_script(db, "schema_v4.sql")


def _email_campaigns(db: SqliteDatabase) -> None:
    _run_script(db, "schema_v5.sql")


def _leaner_search_index(db: SqliteDatabase) -> None:
    _run_script(db, "schema_v6.sql")


# CHECK (column IN (...)) made SQLite build a temporary index of the list for every row a
# prepared statement inserts (EXPLAIN: OpenEphemeral and an IdxInsert for each value, on every
# run): for 100,000 customers written by executemany, 0.19 to 0.3 s of the 0.7 to 1 s their
# rows take. The same test written with = and OR costs nothing measurable. These are the
# tables bulk operations fill a row at a time (imports, campaigns); the others take a row
# now and then.
_IN_LIST_CHECKS = {
    "customer": ("email_consent", ("unknown", "granted", "withdrawn")),
    "consent_event": ("state", ("unknown", "granted", "withdrawn")),
    "outbox_message": (
        "state",
        ("queued", "sending", "sent", "deferred", "failed", "uncertain", "suppressed"),
    ),
}


def _checks_without_in_lists(db: SqliteDatabase) -> None:
    """The same checks, written with = and OR, by the procedure SQLite documents for changing
    a CHECK constraint (lang_altertable.html, "other kinds of table schema changes"): the
    stored CREATE TABLE text is edited and the schema version moved on, in this step's
    transaction. Every row already stored passes the new check, which is the old one.

    Only speed depends on it: a table whose stored text is not the one smbcrm wrote, or a
    SQLite that refuses to edit its schema (defensive mode), keeps its check as it is."""
    for table, (column, values) in _IN_LIST_CHECKS.items():
        row = db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        sql = row[0] if row else ""
        written = re.search(
            rf"CHECK \({column} IN\s*\(\s*" + r",\s*".join(f"'{v}'" for v in values) + r"\s*\)\)",
            sql,
        )
        if written is None:
            continue
        ored = " OR ".join(f"{column} = '{value}'" for value in values)
        changed = sql[: written.start()] + f"CHECK ({ored})" + sql[written.end() :]
        version = db.execute_sql("PRAGMA schema_version").fetchone()[0]
        db.execute_sql("SAVEPOINT in_list_check")
        try:
            db.execute_sql("PRAGMA writable_schema = ON")
            db.execute_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (changed, table),
            )
            db.execute_sql(f"PRAGMA schema_version = {int(version) + 1}")
        except sqlite3.DatabaseError:
            db.execute_sql("ROLLBACK TO in_list_check")
        finally:
            db.execute_sql("PRAGMA writable_schema = OFF")
            db.execute_sql("RELEASE in_list_check")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "first tables", _create_first_tables),
    Migration(
        2, "customer search, totals, custom fields, consent, merges", _customers_search_and_history
    ),
    Migration(3, "undoable imports, saved mappings", _undoable_imports),
    Migration(4, "segments and static lists", _segments),
    Migration(5, "email accounts, templates, campaigns, outbox", _email_campaigns),
    Migration(6, "search index without prefix indexes", _leaner_search_index),
    Migration(7, "checks of bulk-filled tables without IN lists", _checks_without_in_lists),
)
LATEST_VERSION = MIGRATIONS[-1].version


def schema_version_of(connection: sqlite3.Connection) -> int:
    """The schema version stored in a database; 0 for a new, empty file."""
    has_table = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not has_table:
        return 0
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return row[0] or 0


def pending_migrations(
    db: SqliteDatabase, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[Migration]:
    current = schema_version_of(db.connection())
    return [step for step in migrations if step.version > current]


def migrate(
    db: SqliteDatabase,
    migrations: tuple[Migration, ...] = MIGRATIONS,
    before: Callable[[SqliteDatabase, int], None] | None = None,
) -> list[int]:
    """Apply every pending step in order, each in its own transaction; returns versions applied.

    before(db, current_version) runs once when there is something to do on a file that already
    holds a schema (the automatic backup).
    """
    steps = pending_migrations(db, migrations)
    if not steps:
        return []
    current = schema_version_of(db.connection())
    if before is not None and current > 0:
        before(db, current)
    for step in steps:
        with db.atomic():
            step.apply(db)
            db.execute_sql(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, str(utc_now())),
            )
            # PRAGMA application_id is transactional: it is written with the step.
            db.execute_sql(f"PRAGMA application_id = {APPLICATION_ID}")
    return [step.version for step in steps]
