"""Opening a shop file safely: checks before any write, the pragmas, one program per file."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from peewee import DatabaseError as PeeweeDatabaseError
from peewee import SqliteDatabase

from smbcrm.core.errors import DatabaseFileError
from smbcrm.core.i18n import _
from smbcrm.core.instance_lock import AlreadyLocked, InstanceLock
from smbcrm.models.migrations import (
    APPLICATION_ID,
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
    migrate,
    schema_version_of,
)
from smbcrm.models.tables import ALL_TABLES

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000
# synchronous=FULL: a "sent" mark lost to a power cut would mean a duplicate mail.
PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,
    "foreign_keys": 1,
    "busy_timeout": BUSY_TIMEOUT_MS,
    "cache_size": -32_000,
    "temp_store": 2,
    # Deleted content is overwritten, so an erased customer leaves no readable trace.
    "secure_delete": 1,
}


class ShopDatabase(SqliteDatabase):
    """The open shop file. Holds the one-program-per-file lock until close_for_good()."""

    def __init__(self, path: Path, lock: InstanceLock | None) -> None:
        # IMMEDIATE: a write transaction takes the write lock at BEGIN and so waits on the
        # busy timeout, instead of failing when a read turns into a write.
        super().__init__(str(path), pragmas=PRAGMAS, lock_type="IMMEDIATE")
        self.path = Path(path)
        self._instance_lock = lock

    def close_for_good(self) -> None:
        """Close this thread's connection and free the file for other programs."""
        if not self.is_closed():
            self.close()
        if self._instance_lock is not None:
            self._instance_lock.release()
            self._instance_lock = None


def _damaged(path: Path) -> DatabaseFileError:
    return DatabaseFileError(
        _(
            "The shop file {path} is damaged and cannot be read. It has not been changed. "
            "Restore a backup, or open another file."
        ).format(path=path),
        str(path),
    )


def inspect_file(path: Path) -> int:
    """Check, without writing anything, that path can be opened; return its schema version.

    Raises DatabaseFileError with a message in plain words when it cannot.
    """
    if path.exists() and not path.is_file():
        raise DatabaseFileError(
            _("{path} is a folder, not a shop file. Choose a file.").format(path=path),
            str(path),
            can_restore=False,
        )
    directory = path.parent
    if not path.exists():
        if not os.access(directory, os.W_OK):
            raise DatabaseFileError(
                _("smbcrm cannot create a shop file in {folder}: the folder is read-only.").format(
                    folder=directory
                ),
                str(path),
                can_restore=False,
            )
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_MAGIC))
    if header != SQLITE_MAGIC:
        raise DatabaseFileError(
            _(
                "{path} is not a smbcrm shop file (it is not a SQLite database). "
                "It has not been changed. Open another file."
            ).format(path=path),
            str(path),
        )
    if not os.access(path, os.W_OK) or not os.access(directory, os.W_OK):
        raise DatabaseFileError(
            _(
                "smbcrm cannot write to {path}: the file or its folder is read-only. "
                "Copy it to a folder you can write to, such as Documents, and open the copy."
            ).format(path=path),
            str(path),
            can_restore=False,
        )
    try:
        probe = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise _damaged(path) from error
    # Cheap checks only: a full quick_check of a large shop takes seconds, so it runs in the
    # background once the window is open (and in full from Help > Check database).
    try:
        application_id = probe.execute("PRAGMA application_id").fetchone()[0]
        tables = probe.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
        version = schema_version_of(probe)
        page_size = probe.execute("PRAGMA page_size").fetchone()[0]
        page_count = probe.execute("PRAGMA page_count").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise _damaged(path) from error
    finally:
        probe.close()
    wal = Path(f"{path}-wal")
    if size < page_size * page_count and not (wal.exists() and wal.stat().st_size):
        raise _damaged(path)  # cut short: pages the file says it has are missing
    if application_id != APPLICATION_ID and tables:
        raise DatabaseFileError(
            _(
                "{path} is a database of another program, not a smbcrm shop file. "
                "It has not been changed. Open another file."
            ).format(path=path),
            str(path),
            can_restore=False,
        )
    if version > LATEST_VERSION:
        raise DatabaseFileError(
            _(
                "{path} was saved by a newer version of smbcrm. Install the newer version to "
                "open it; the file has not been changed."
            ).format(path=path),
            str(path),
            can_restore=False,
        )
    return version


def open_database(
    path: Path | str,
    *,
    before_migrate: Callable[[SqliteDatabase, int], None] | None = None,
    migrations: tuple[Migration, ...] = MIGRATIONS,
) -> ShopDatabase:
    """Open (creating if needed) the shop file at path, migrate it, and bind the tables to it.

    The file is inspected read-only first: a file that is not ours, damaged, read-only, in use
    or too new is refused with a DatabaseFileError and left exactly as it was.
    """
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = InstanceLock(path)
    try:
        lock.acquire()
    except AlreadyLocked as error:
        raise DatabaseFileError(
            _(
                "The shop file {path} is already open in another smbcrm window or program. "
                "Close it there first, then try again."
            ).format(path=path),
            str(path),
            can_restore=False,
        ) from error
    try:
        inspect_file(path)
        db = ShopDatabase(path, lock)
        try:
            db.connect()
        except (sqlite3.DatabaseError, PeeweeDatabaseError) as error:
            raise _damaged(path) from error
        try:
            migrate(db, migrations, before=before_migrate)
        except BaseException:
            db.close()
            raise
    except BaseException:
        lock.release()
        raise
    db.bind(ALL_TABLES, bind_refs=False, bind_backrefs=False)
    return db


def read_pragmas(db: SqliteDatabase) -> dict[str, object]:
    """The pragmas in force on this thread's connection, as SQLite reports them."""
    return {
        name: db.execute_sql(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
    }


@contextmanager
def triggers_suspended(db: SqliteDatabase, *names: str) -> Iterator[None]:
    """Inside a write transaction, drop these triggers and put them back afterwards.

    For bulk work that does the triggers' job once, set-based, at the end (the search index,
    purchase totals). DDL is transactional in SQLite: if the transaction is rolled back, the
    triggers come back with it; other connections cannot write meanwhile."""
    if not db.in_transaction():
        raise RuntimeError("triggers_suspended needs an open transaction")
    saved = []
    for name in names:
        row = db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
        ).fetchone()
        if row is None:
            raise RuntimeError(f"no trigger {name}")
        saved.append(row[0])
        db.execute_sql(f"DROP TRIGGER {name}")
    try:
        yield
    finally:
        for sql in saved:
            db.execute_sql(sql)


@contextmanager
def indexes_suspended(db: SqliteDatabase, table: str, keep: tuple[str, ...] = ()) -> Iterator[None]:
    """Inside a write transaction, drop the table's secondary indexes (but those in keep) and
    build them again afterwards, from their own definitions.

    For bulk inserts into a table that is small next to what they add: SQLite builds an index
    from sorted keys faster than it adds the same keys one at a time in random order. Unique
    indexes stay (they enforce rules the inserts must meet). All of it runs in a savepoint: when
    the block fails (Cancel, an error), rolling back to it puts the indexes back at once and
    undoes the block's writes, instead of building indexes over rows about to be thrown away;
    a caller that goes on and commits keeps its indexes either way."""
    if not db.in_transaction():
        raise RuntimeError("indexes_suspended needs an open transaction")
    saved = [
        (name, sql)
        for name, sql in db.execute_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL ORDER BY name",
            (table,),
        )
        if not sql.lstrip().upper().startswith("CREATE UNIQUE") and name not in keep
    ]
    with db.atomic():
        for name, _sql in saved:
            db.execute_sql('DROP INDEX "{}"'.format(name.replace('"', '""')))
        yield
        for _name, sql in saved:
            db.execute_sql(sql)
