"""Composition root: arguments, language, logging, then either a command or the window."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import tempfile
from pathlib import Path

from smbcrm import cli
from smbcrm.core.i18n import environment_language, set_language
from smbcrm.core.paths import default_db_path, log_file


def configure_logging() -> Path | None:
    """Log to a rotating file in the user log folder; nothing secret is ever logged."""
    path = log_file()
    root = logging.getLogger()
    if any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def selftest() -> int:
    """Open the main window offscreen on a throwaway shop; 0 when it works."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from smbcrm.ui.application import selftest_window

    with tempfile.TemporaryDirectory(prefix="smbcrm-selftest-") as folder:
        return selftest_window(Path(folder) / "selftest.db")


def main(argv: list[str] | None = None) -> int:
    set_language(environment_language())
    configure_logging()
    args = cli.build_parser().parse_args(argv)
    if args.command is not None:
        return cli.run(args)
    if args.selftest:
        return selftest()
    from smbcrm.ui.application import run_window

    return run_window(args.db or default_db_path(), sys.argv[:1])


if __name__ == "__main__":
    sys.exit(main())
