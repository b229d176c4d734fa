"""Where smbcrm keeps its files: the default shop file, backups, logs and bundled resources."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from smbcrm import APP_NAME

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
LOCALE_DIR = RESOURCES / "locale"
DB_FILENAME = "smbcrm.db"


def data_dir() -> Path:
    override = os.environ.get("SMBCRM_DATA_DIR")
    return (
        Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    )


def log_dir() -> Path:
    override = os.environ.get("SMBCRM_DATA_DIR")
    if override:
        return Path(override) / "logs"
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    return data_dir() / DB_FILENAME


def backups_dir(db_path: Path) -> Path:
    """Backups live beside the shop file, in backups/."""
    return Path(db_path).resolve().parent / "backups"


def log_file() -> Path:
    return log_dir() / "smbcrm.log"
