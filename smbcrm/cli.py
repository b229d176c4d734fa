"""The command line: the same use cases as the window, for scripts, checks and tests."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smbcrm import __version__
from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _, environment_language, set_language
from smbcrm.core.paths import default_db_path
from smbcrm.core.progress import Cancelled
from smbcrm.models.database import ShopDatabase
from smbcrm.services import backup as backups
from smbcrm.services import customers
from smbcrm.services.demo import create_demo_shop
from smbcrm.services.shop import open_shop

log = logging.getLogger(__name__)

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


class TextProgress:
    """A one-line progress bar on a terminal; silent when output goes to a file or pipe."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done != total):
            return
        self._last = now
        if total:
            filled = int(30 * done / total)
            bar = "#" * filled + "-" * (30 - filled)
            line = f"\r[{bar}] {100 * done // total:3d}% {message}"
        else:
            line = f"\r{message}"
        self.stream.write(line[:100].ljust(100))
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smbcrm",
        description=_("smbcrm: the customers of your shop, in one file on this computer."),
    )
    parser.add_argument("--db", metavar="PATH", type=Path, help=_("the shop file to open"))
    parser.add_argument("--version", action="version", version=f"smbcrm {__version__}")
    parser.add_argument(
        "--selftest", action="store_true", help=_("open the main window offscreen and exit")
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help=_("fill an empty shop with a realistic demo"))
    demo.add_argument("--customers", type=int, default=2_000, metavar="N")
    demo.add_argument("--seed", type=int, default=1, metavar="S")
    demo.add_argument("--json", action="store_true", help=_("print one JSON object"))

    backup = commands.add_parser("backup", help=_("back up the shop file now"))
    backup.add_argument(
        "dest", nargs="?", type=Path, help=_("a file or folder for a plain copy (optional)")
    )
    backup.add_argument("--json", action="store_true", help=_("print one JSON object"))

    listing = commands.add_parser("backups", help=_("list the shop's backups, newest first"))
    listing.add_argument("--json", action="store_true", help=_("print one JSON object"))

    restore = commands.add_parser("restore", help=_("replace the shop's data with a backup"))
    restore.add_argument("backup", type=Path, help=_("the backup file"))
    restore.add_argument("--json", action="store_true", help=_("print one JSON object"))

    search = commands.add_parser("search", help=_("find customers, best match first"))
    search.add_argument("text", help=_("name, email, phone, city, tag or words from notes"))
    search.add_argument("--limit", type=int, default=20, metavar="N")
    search.add_argument("--json", action="store_true", help=_("print one JSON object"))

    check = commands.add_parser("check", help=_("check the shop file for damage"))
    check.add_argument("--json", action="store_true", help=_("print one JSON object"))
    return parser


def _command_demo(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    started = time.monotonic()
    result = create_demo_shop(db, args.customers, args.seed, progress=bar)
    figures = {
        "customers": result.customers,
        "products": result.products,
        "categories": result.categories,
        "purchases": result.purchases,
        "purchase_lines": result.purchase_lines,
        "seconds": round(time.monotonic() - started, 2),
    }
    text = _(
        "Demo shop ready: {customers} customers, {products} products in {categories} "
        "categories, {purchases} purchases with {lines} lines."
    ).format(
        customers=result.customers,
        products=result.products,
        categories=result.categories,
        purchases=result.purchases,
        lines=result.purchase_lines,
    )
    return figures, text, EXIT_OK


def _command_backup(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    if args.dest is not None:
        path = backups.export_copy(db, args.dest)
    else:
        path = backups.create_backup(db, "manual", progress=bar).path
        backups.thin_backups(db.path)
    size = path.stat().st_size
    return {"path": str(path), "size": size}, _("Backup saved: {path}").format(path=path), EXIT_OK


def _command_backups(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    found = backups.list_backups(db.path)
    rows = [
        {"path": str(i.path), "taken_at": i.taken_at.isoformat() + "Z", "reason": i.reason,
         "size": i.size}
        for i in found
    ]  # fmt: skip
    lines = [f"{i.taken_at:%Y-%m-%d %H:%M} UTC  {i.reason_text}  {i.path}" for i in found]
    text = "\n".join(lines) if lines else _("This shop has no backups yet.")
    return {"backups": rows}, text, EXIT_OK


def _command_restore(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    safety = backups.restore_backup(db, args.backup, progress=bar)
    text = _("Restored from {backup}. The data you had before is kept in {safety}.").format(
        backup=args.backup, safety=safety.path
    )
    return {"restored": str(args.backup), "safety_backup": str(safety.path)}, text, EXIT_OK


def _command_check(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    report = backups.check_database(db)
    text = (
        _("The shop file is in good health.")
        if report.ok
        else "\n".join([_("Problems found:"), *report.problems])
    )
    status = EXIT_OK if report.ok else EXIT_REJECTED
    return {"ok": report.ok, "problems": list(report.problems)}, text, status


def _command_search(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    results = customers.search(db, args.text, limit=args.limit)
    rows = [{"id": r.id, "name": r.name, "email": r.email, "phone": r.phone} for r in results]
    lines = [f"{r.id:>7}  {r.name}  {r.email}  {r.phone}".rstrip() for r in results]
    text = "\n".join(lines) if lines else _("No customer matches “{text}”.").format(text=args.text)
    return {"results": rows}, text, EXIT_OK


COMMANDS: dict[str, Callable[..., tuple[dict[str, Any], str, int]]] = {
    "demo": _command_demo,
    "backup": _command_backup,
    "backups": _command_backups,
    "restore": _command_restore,
    "check": _command_check,
    "search": _command_search,
}


def run(args: argparse.Namespace) -> int:
    """Run a parsed command; prints a summary, or with --json one JSON object as the last line."""
    set_language(environment_language())
    as_json = getattr(args, "json", False)
    bar = TextProgress()
    db = None
    try:
        db = open_shop(args.db or default_db_path())
        figures, text, status = COMMANDS[args.command](db, args, bar)
    except UserError as error:
        bar.finish()
        _report_failure(error.message, as_json)
        return EXIT_REJECTED
    except (Cancelled, KeyboardInterrupt):
        bar.finish()
        _report_failure(_("Cancelled; nothing was changed."), as_json)
        return EXIT_REJECTED
    finally:
        if db is not None:
            db.close_for_good()
    bar.finish()
    print(json.dumps(figures, ensure_ascii=False) if as_json else text)
    return status


def _report_failure(message: str, as_json: bool) -> None:
    log.info("command refused: %s", message)
    print(message, file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message}, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        print(_("Give a command, or run smbcrm without one to open the window."), file=sys.stderr)
        return EXIT_USAGE
    return run(args)
