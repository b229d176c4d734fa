"""Backups of the shop file: taken safely, thinned like Anki does, restored, and health checks."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from peewee import SqliteDatabase

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import N_, _
from smbcrm.core.paths import backups_dir
from smbcrm.core.progress import CancelToken, ProgressCallback, no_progress
from smbcrm.models.migrations import APPLICATION_ID, LATEST_VERSION, migrate, schema_version_of

AUTOMATIC_INTERVAL_S = 30 * 60
_STAMP = "%Y%m%d-%H%M%S-%f"
_NAME = re.compile(r"^(?P<stem>.+)-(?P<stamp>\d{8}-\d{6}-\d{6})-(?P<reason>[a-z-]+)\.db\.gz$")
REASONS = {
    "automatic": N_("automatic"),
    "manual": N_("made by you"),
    "before-migration": N_("before an update of smbcrm"),
    "before-restore": N_("before a restore"),
    "before-bulk-change": N_("before a bulk change"),
    "on-close": N_("when smbcrm was closed"),
}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    taken_at: datetime  # UTC, naive
    reason: str
    size: int

    @property
    def reason_text(self) -> str:
        return _(REASONS.get(self.reason, self.reason))


@dataclass(frozen=True)
class CheckReport:
    ok: bool
    problems: tuple[str, ...]


def _db_path(db: SqliteDatabase) -> Path:
    return Path(db.database)


def _fsync_directory(directory: Path) -> None:
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(path: Path, stem: str) -> BackupInfo | None:
    match = _NAME.match(path.name)
    if not match or match["stem"] != stem:
        return None
    taken_at = datetime.strptime(match["stamp"], _STAMP)
    return BackupInfo(path, taken_at, match["reason"], path.stat().st_size)


def list_backups(db_path: Path) -> list[BackupInfo]:
    """This shop's backups, newest first."""
    folder = backups_dir(db_path)
    if not folder.is_dir():
        return []
    found = (_parse(path, Path(db_path).stem) for path in folder.iterdir())
    return sorted((info for info in found if info), key=lambda i: i.taken_at, reverse=True)


def _checkpoint(db_path: Path) -> None:
    """Fold the -wal into the main file now, so the file's times only move on a later change."""
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def _copy_database(source_path: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API (one read transaction, writers go on)."""
    source = sqlite3.connect(source_path)
    try:
        target_connection = sqlite3.connect(target)
        try:
            source.backup(target_connection)
            # The copy is a standalone file: no -wal beside it.
            target_connection.execute("PRAGMA journal_mode = DELETE")
        finally:
            target_connection.close()
    finally:
        source.close()


def _verify_shop_file(path: Path, what: str) -> int:
    """quick_check plus our marks on a plain database file; returns its schema version."""
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            ok = connection.execute("PRAGMA quick_check").fetchone()[0]
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            version = schema_version_of(connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        ok, application_id, version = "damaged", 0, 0
    if ok != "ok" or application_id != APPLICATION_ID:
        raise UserError(
            _("{what} is damaged or is not a smbcrm backup; nothing was changed.").format(what=what)
        )
    if version > LATEST_VERSION:
        raise UserError(
            _(
                "{what} was made by a newer version of smbcrm; install it to use this backup."
            ).format(what=what)
        )
    return version


def _compress(
    source: Path, target: Path, progress: ProgressCallback, cancel: CancelToken | None
) -> None:
    total = source.stat().st_size
    done = 0
    with source.open("rb") as plain, open(target, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3, mtime=0) as packed:
            while chunk := plain.read(_CHUNK):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                packed.write(chunk)
                done += len(chunk)
                progress(done, total, _("Compressing the backup…"))
        raw.flush()
        os.fsync(raw.fileno())


def create_backup(
    db: SqliteDatabase,
    reason: str = "manual",
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> BackupInfo:
    """Copy the shop into backups/ beside it: backup API to a temporary name, quick_check,
    compress, fsync, then rename, so a half-written backup never carries a backup's name."""
    db_path = _db_path(db)
    folder = backups_dir(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    _checkpoint(db_path)
    taken_at = datetime.now(UTC).replace(tzinfo=None)
    name = f"{db_path.stem}-{taken_at.strftime(_STAMP)}-{reason}.db.gz"
    plain = folder / f".{name}.tmp"
    packed = folder / f".{name}.part"
    try:
        progress(0, 0, _("Copying the shop file…"))
        _copy_database(db_path, plain)
        _verify_shop_file(plain, _("The new backup"))
        _compress(plain, packed, progress, cancel)
        final = folder / name
        os.replace(packed, final)
        _fsync_directory(folder)
    finally:
        for leftover in (plain, packed):
            leftover.unlink(missing_ok=True)
    return BackupInfo(final, taken_at, reason, final.stat().st_size)


def export_copy(db: SqliteDatabase, destination: Path) -> Path:
    """A plain, uncompressed copy of the shop at destination (a file, or a folder to put it in)."""
    db_path = _db_path(db)
    destination = Path(destination).expanduser()
    if destination.is_dir():
        stamp = datetime.now().strftime("%Y-%m-%d-%H%M%S")
        destination = destination / f"{db_path.stem}-{stamp}.db"
    if destination.resolve() == db_path.resolve():
        raise UserError(_("Choose another file for the copy: that is the shop file itself."))
    if destination.exists():
        raise UserError(
            _("{path} already exists; choose a new name so nothing is overwritten.").format(
                path=destination
            )
        )
    if not destination.parent.is_dir():
        raise UserError(_("The folder {folder} does not exist.").format(folder=destination.parent))
    temporary = destination.with_name(f".{destination.name}.tmp")
    try:
        _copy_database(db_path, temporary)
        _verify_shop_file(temporary, _("The copy"))
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)
    return destination


def last_change_time(db_path: Path) -> float:
    """When the shop file's data last changed (in WAL mode, a commit grows the -wal file)."""
    times = [db_path.stat().st_mtime]
    wal = Path(f"{db_path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        times.append(wal.stat().st_mtime)
    return max(times)


def changed_since_last_backup(db_path: Path) -> bool:
    backups = list_backups(db_path)
    if not backups:
        return True
    newest = backups[0].taken_at.replace(tzinfo=UTC).timestamp()
    return last_change_time(Path(db_path)) > newest


def backups_to_keep(
    times: Iterable[datetime],
    now: datetime,
    *,
    recent_days: int = 2,
    daily: int = 12,
    weekly: int = 10,
    monthly: int = 9,
) -> set[datetime]:
    """Anki's thinning: every backup of the last days, then one a day, a week, a month."""
    ordered = sorted(times, reverse=True)
    keep: set[datetime] = set(ordered[:1])  # never the newest
    days: set[object] = set()
    weeks: set[object] = set()
    months: set[object] = set()
    kept_days = kept_weeks = kept_months = 0
    for moment in ordered:
        day = moment.date()
        week = day.isocalendar()[:2]
        month = (day.year, day.month)
        if now - moment < timedelta(days=recent_days):
            keep.add(moment)
        elif kept_days < daily:
            if day not in days:
                keep.add(moment)
                kept_days += 1
        elif kept_weeks < weekly:
            if week not in weeks:
                keep.add(moment)
                kept_weeks += 1
        elif kept_months < monthly and month not in months:
            keep.add(moment)
            kept_months += 1
        if moment in keep:
            days.add(day)
            weeks.add(week)
            months.add(month)
    return keep


def thin_backups(db_path: Path, now: datetime | None = None) -> list[Path]:
    """Delete the backups the thinning rule no longer keeps; returns what was deleted."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    backups = list_backups(db_path)
    keep = backups_to_keep((info.taken_at for info in backups), now)
    deleted = []
    for info in backups:
        if info.taken_at not in keep:
            info.path.unlink(missing_ok=True)
            deleted.append(info.path)
    return deleted


def backup_if_changed(
    db: SqliteDatabase,
    reason: str = "automatic",
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> BackupInfo | None:
    """The automatic backup: only when data changed since the newest backup; then thin."""
    db_path = _db_path(db)
    if not changed_since_last_backup(db_path):
        return None
    info = create_backup(db, reason, progress=progress, cancel=cancel)
    thin_backups(db_path)
    return info


def _unpack(backup: Path, target: Path, cancel: CancelToken | None) -> None:
    try:
        if backup.name.endswith(".gz"):
            with gzip.open(backup, "rb") as packed, target.open("wb") as plain:
                while chunk := packed.read(_CHUNK):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    plain.write(chunk)
        else:
            shutil.copyfile(backup, target)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise UserError(
            _("The backup {path} cannot be read ({reason}); nothing was changed.").format(
                path=backup, reason=error
            )
        ) from error


def restore_backup(
    db: SqliteDatabase,
    backup: Path,
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> BackupInfo:
    """Replace the open shop's data with a backup's, after a safety backup of the current data.

    The backup is unpacked and checked first; the copy into the live file goes through SQLite's
    backup API, so it is all or nothing. Returns the safety backup.
    """
    backup = Path(backup)
    db_path = _db_path(db)
    scratch = backups_dir(db_path) / f".restore-{os.getpid()}-{time.time_ns()}.tmp"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        progress(0, 3, _("Reading the backup…"))
        _unpack(backup, scratch, cancel)
        _verify_shop_file(scratch, _("The backup {name}").format(name=backup.name))
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(1, 3, _("Saving the current data first…"))
        safety = create_backup(db, "before-restore")
        progress(2, 3, _("Restoring…"))
        source = sqlite3.connect(scratch)
        try:
            source.backup(db.connection())
        finally:
            source.close()
        migrate(db)  # a backup from an older version is brought up to date
    finally:
        scratch.unlink(missing_ok=True)
    progress(3, 3, _("Restored."))
    return safety


def replace_file_with_backup(db_path: Path, backup: Path) -> Path:
    """Restore a shop file that cannot be opened: the damaged file is moved aside, never deleted.

    Returns where the damaged file was put.
    """
    db_path = Path(db_path)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    scratch = db_path.with_name(f".{db_path.name}.restore.tmp")
    try:
        _unpack(Path(backup), scratch, None)
        _verify_shop_file(scratch, _("The backup {name}").format(name=Path(backup).name))
        aside = db_path.with_name(f"{db_path.stem}.damaged-{stamp}{db_path.suffix}")
        for suffix in ("", "-wal", "-shm"):
            current = Path(f"{db_path}{suffix}")
            if current.exists():
                os.replace(current, Path(f"{aside}{suffix}"))
        os.replace(scratch, db_path)
        _fsync_directory(db_path.parent)
    finally:
        scratch.unlink(missing_ok=True)
    return aside


def check_database(db: SqliteDatabase, *, quick: bool = False) -> CheckReport:
    """SQLite's integrity_check (or the faster quick_check) and foreign_key_check, in plain words."""
    problems: list[str] = []
    pragma = "quick_check" if quick else "integrity_check"
    for (message,) in db.execute_sql(f"PRAGMA {pragma}").fetchall():
        if message != "ok":
            problems.append(_("The file structure is damaged: {detail}").format(detail=message))
    for table, rowid, parent, _index in db.execute_sql("PRAGMA foreign_key_check").fetchall():
        problems.append(
            _("A record in “{table}” (number {rowid}) points to a missing “{parent}”.").format(
                table=table, rowid=rowid, parent=parent
            )
        )
    return CheckReport(not problems, tuple(problems))
