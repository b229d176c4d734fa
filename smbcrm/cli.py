"""The command line: the same use cases as the window, for scripts, checks and tests."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smbcrm import __version__
from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _, environment_language, ngettext, set_language
from smbcrm.core.paths import default_db_path
from smbcrm.core.progress import Cancelled
from smbcrm.messaging.credentials import default_password_store, keyring_status
from smbcrm.models.database import ShopDatabase
from smbcrm.services import backup as backups
from smbcrm.services import (
    campaigns,
    customers,
    email_accounts,
    exporting,
    importing,
    mail_templates,
    segments,
)
from smbcrm.services.demo import create_demo_shop
from smbcrm.services.shop import open_shop
from smbcrm.transfer.tables import open_table

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

    importer = commands.add_parser("import", help=_("bring customers, purchases or contacts in"))
    import_kinds = importer.add_subparsers(dest="what", metavar="WHAT", required=True)
    for what, text in (
        ("customers", _("customers from .xlsx, .xls, .ods or .csv")),
        ("purchases", _("purchases (one row per sale or sale line)")),
        ("vcard", _("contacts from a .vcf file")),
        ("shop", _("a whole-shop workbook, into an empty shop")),
    ):
        sub = import_kinds.add_parser(what, help=text)
        sub.add_argument("file", type=Path)
        if what in ("customers", "purchases"):
            sub.add_argument("--sheet", help=_("the sheet to read (default: the first)"))
            sub.add_argument("--mapping", type=Path, help=_('JSON {"header": "field"} to use'))
            sub.add_argument("--mode", choices=("both", "create", "update"), default="both")
            sub.add_argument("--blank-overwrites", action="store_true",
                             help=_("let empty cells blank existing values"))  # fmt: skip
            sub.add_argument("--create-customers", action="store_true",
                             help=_("purchases: create customers that are not found"))  # fmt: skip
        if what != "shop":
            sub.add_argument("--dry-run", action="store_true",
                             help=_("check every row and report, change nothing"))  # fmt: skip
        sub.add_argument("--json", action="store_true", help=_("print one JSON object"))

    exporter = commands.add_parser("export", help=_("take customers, purchases or the shop out"))
    export_kinds = exporter.add_subparsers(dest="what", metavar="WHAT", required=True)
    for what, text in (
        ("customers", _("customers to .xlsx, .csv or .vcf (by the file's extension)")),
        ("purchases", _("purchase lines to .xlsx or .csv")),
        ("shop", _("every table to one .xlsx workbook")),
    ):
        sub = export_kinds.add_parser(what, help=text)
        sub.add_argument("file", type=Path)
        if what == "customers":
            sub.add_argument("--search", default="", help=_("only customers matching this text"))
            sub.add_argument("--tag", help=_("only customers with this tag"))
            sub.add_argument("--segment", help=_("only the customers of this segment"))
        if what != "shop":
            sub.add_argument(
                "--semicolon", action="store_true", help=_("CSV with ; between fields")
            )
        sub.add_argument("--json", action="store_true", help=_("print one JSON object"))

    segment_list = commands.add_parser("segments", help=_("every segment with its customers now"))
    segment_list.add_argument("--json", action="store_true", help=_("print one JSON object"))

    history = commands.add_parser("imports", help=_("list past imports, newest first"))
    history.add_argument("--json", action="store_true", help=_("print one JSON object"))
    undo = commands.add_parser("undo-import", help=_("take a whole import back"))
    undo.add_argument("id", type=int)
    undo.add_argument("--json", action="store_true", help=_("print one JSON object"))

    check = commands.add_parser("check", help=_("check the shop file for damage"))
    check.add_argument("--json", action="store_true", help=_("print one JSON object"))
    _mail_commands(commands)
    return parser


def _mail_commands(commands) -> None:
    as_json = {"action": "store_true", "help": _("print one JSON object")}
    account = commands.add_parser("account", help=_("email accounts that send your messages"))
    actions = account.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add", help=_("add an SMTP account (the password stays in the keyring)")
    )
    add.add_argument("name")
    add.add_argument("--host", required=True)
    add.add_argument("--port", type=int, required=True)
    add.add_argument("--security", choices=email_accounts.SECURITIES, required=True)
    add.add_argument("--user", default="")
    add.add_argument("--from", dest="from_address", required=True, metavar="ADDRESS")
    add.add_argument("--from-name", default="")
    add.add_argument("--reply-to", default="")
    add.add_argument("--provider", default="custom")
    for window in ("minute", "hour", "day"):
        add.add_argument(f"--per-{window}", type=int, default=None, metavar="N")
    add.add_argument("--json", **as_json)
    listing = actions.add_parser("list", help=_("list the email accounts"))
    listing.add_argument("--json", **as_json)

    campaign = commands.add_parser("campaign", help=_("personal emails to a group of customers"))
    actions = campaign.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help=_("prepare a campaign"))
    create.add_argument("name")
    create.add_argument(
        "--template", required=True, help=_("an HTML file, or the name of a saved template")
    )
    create.add_argument("--audience", required=True, help="all | tag:T | segment:S")
    create.add_argument("--account", required=True)
    create.add_argument("--subject", default="")
    create.add_argument("--json", **as_json)
    for action, text in (
        ("send", _("check, queue and send, or resume, from the outbox")),
        ("status", _("how many messages are in each state")),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("name")
        sub.add_argument("--json", **as_json)
    resolve = actions.add_parser(
        "resolve", help=_("decide about messages that may or may not have arrived")
    )
    resolve.add_argument("name")
    choice = resolve.add_mutually_exclusive_group(required=True)
    choice.add_argument("--resend", action="store_true")
    choice.add_argument("--skip", action="store_true")
    resolve.add_argument("--json", **as_json)


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


def _import_summary(result: importing.ImportResult) -> str:
    lines = [
        (_("Dry run, nothing was changed: ") if result.dry_run else "")
        + _("{rows} rows: {created} created, {updated} updated, {skipped} skipped, {errors} refused.").format(
            rows=result.rows, created=result.created, updated=result.updated,
            skipped=result.skipped, errors=len(result.errors),
        )
    ]  # fmt: skip
    lines += [
        _("row {row}: {message}").format(row=e.row, message=e.message) for e in result.errors[:200]
    ]
    if len(result.errors) > 200:
        lines.append(_("… and {count} more").format(count=len(result.errors) - 200))
    return "\n".join(lines)


def _command_import(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    if args.what == "shop":
        counts = exporting.import_shop(db, args.file)
        return (
            counts,
            _("Shop loaded: {count} customers.").format(count=counts.get("customer", 0)),
            EXIT_OK,
        )
    if args.what == "vcard":
        result = importing.import_vcards(db, args.file, dry_run=args.dry_run, progress=bar)
    else:
        options = importing.ImportOptions(
            mode=args.mode, blank_overwrites=args.blank_overwrites,
            create_missing_customers=args.create_customers,
        )  # fmt: skip
        mapping = None
        if args.mapping is not None:
            with open_table(args.file, sheet=args.sheet) as table:
                mapping = importing.load_mapping_file(args.mapping, table.info.headers)
        run = importing.import_customers if args.what == "customers" else importing.import_purchases
        result = run(db, args.file, sheet=args.sheet, mapping=mapping, options=options,
                     dry_run=args.dry_run, progress=bar)  # fmt: skip
    status = EXIT_OK if not result.errors or result.created + result.updated else EXIT_REJECTED
    return result.as_json(), _import_summary(result), status


def _command_export(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    delimiter = ";" if getattr(args, "semicolon", False) else ","
    if args.what == "shop":
        exporting.export_shop(db, args.file)
        count = None
    elif args.what == "purchases":
        count = exporting.export_purchases(db, args.file, delimiter=delimiter)
    else:
        tags = ()
        if args.tag:
            found = [
                t.id for t in customers.list_tags(db) if t.name.casefold() == args.tag.casefold()
            ]
            if not found:
                raise UserError(_("There is no tag called “{tag}”.").format(tag=args.tag))
            tags = tuple(found)
        query = customers.CustomerQuery(text=args.search, tag_ids=tags, segment=args.segment or "")
        count = exporting.export_customers(
            db, args.file, query=query, delimiter=delimiter, progress=bar
        )
    text = _("Exported to {path}").format(path=args.file)
    return {"path": str(args.file), "rows": count}, text, EXIT_OK


def _command_segments(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    found = segments.list_segments(db)
    rows = [
        {"name": s.name, "count": s.count, "key": s.key, "builtin": s.builtin, "static": s.static}
        for s in found
    ]
    width = max((len(s.name) for s in found), default=0)
    lines = [f"{s.name:<{width}}  {s.count:>8}" for s in found]
    return {"segments": rows}, "\n".join(lines), EXIT_OK


def _command_imports(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    found = importing.list_imports(db)
    rows = [
        {"id": i.id, "kind": i.kind, "file": i.file_name, "imported_at": i.imported_at.isoformat(),
         "rows": i.rows, "created": i.created, "updated": i.updated, "errors": i.errors,
         "undone": i.undone_at is not None}
        for i in found
    ]  # fmt: skip
    lines = [
        f"{i.id:>5}  {i.imported_at:%Y-%m-%d %H:%M}  {i.kind:<9} {i.file_name}  "
        f"+{i.created} ~{i.updated} !{i.errors}" + (_("  (undone)") if i.undone_at else "")
        for i in found
    ]
    return {"imports": rows}, "\n".join(lines) or _("No imports yet."), EXIT_OK


def _command_undo_import(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    backups.create_backup(db, "before-bulk-change")
    importing.undo_import(db, args.id)
    return {"undone": args.id}, _("Import {id} was undone.").format(id=args.id), EXIT_OK


class CommandLinePasswords:
    """SMBCRM_SMTP_PASSWORD when set (scripts, CI), else the OS keyring."""

    def __init__(self) -> None:
        self.store = default_password_store()

    def get(self, account: str) -> str | None:
        return os.environ.get("SMBCRM_SMTP_PASSWORD") or self.store.get(account)

    def set(self, account: str, password: str) -> None:
        self.store.set(account, password)

    def delete(self, account: str) -> None:
        self.store.delete(account)


def _command_account(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    if args.action == "list":
        found = email_accounts.list_accounts(db)
        rows = [
            {"name": a.name, "host": a.host, "port": a.port, "security": a.security,
             "user": a.username, "from": a.from_address}
            for a in found
        ]  # fmt: skip
        lines = [
            _("{name}: {address} through {server} ({security})").format(
                name=a.name, address=a.from_address, server=f"{a.host}:{a.port}",
                security=a.security,
            )
            for a in found
        ]  # fmt: skip
        return {"accounts": rows}, "\n".join(lines) or _("No email accounts yet."), EXIT_OK
    form = email_accounts.AccountForm(
        name=args.name, host=args.host, port=args.port, security=args.security,
        username=args.user, from_name=args.from_name, from_address=args.from_address,
        reply_to=args.reply_to, provider=args.provider, per_minute=args.per_minute,
        per_hour=args.per_hour, per_day=args.per_day,
    )  # fmt: skip
    info = email_accounts.save_account(db, form)
    text = _("Account “{name}” added.").format(name=info.name)
    if info.username:
        usable, why = keyring_status()
        if os.environ.get("SMBCRM_SMTP_PASSWORD") and usable:
            default_password_store().set(info.password_key, os.environ["SMBCRM_SMTP_PASSWORD"])
            text += " " + _("Its password was saved in the system keyring.")
        else:
            text += " " + _(
                "smbcrm reads its password from the system keyring (type it once in the "
                "window) or from the SMBCRM_SMTP_PASSWORD variable."
            )
            if not usable:
                text += " " + why
    return {"account": info.name, "id": info.id}, text, EXIT_OK


def _campaign_template(db: ShopDatabase, args: argparse.Namespace) -> int:
    path = Path(args.template)
    if not path.is_file():
        return mail_templates.find_template(db, args.template).id
    try:
        body = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(
            _("The template {path} cannot be read: {reason}").format(path=path, reason=error)
        ) from error
    subject = args.subject
    first, _newline, rest = body.partition("\n")
    if first.lower().startswith(("subject:", "asunto:")):
        subject = subject or first.split(":", 1)[1].strip()
        body = rest
    if not subject:
        raise UserError(_("Give the subject with --subject, or a first line “Subject: …”."))
    name = _("{campaign} (template)").format(campaign=" ".join(args.name.split()))
    existing = next((t for t in mail_templates.list_templates(db) if t.name == name), None)
    saved = mail_templates.save_template(
        db, name, subject, body, template_id=existing.id if existing else None
    )
    return saved.id


def _status_figures(found: dict[str, int]) -> dict[str, int]:
    return {state: found.get(state, 0) for state in campaigns.OUTBOX_STATES}


def _status_text(info: campaigns.CampaignInfo) -> str:
    parts = [f"{_(campaigns.STATE_LABELS[state])}: {count}"
             for state, count in info.counts.items() if count]  # fmt: skip
    return f"{info.name} — {info.state_text}\n" + "\n".join(parts)


def _command_campaign(db: ShopDatabase, args: argparse.Namespace, bar: TextProgress):
    if args.action == "create":
        template_id = _campaign_template(db, args)
        account = email_accounts.find_account(db, args.account)
        info = campaigns.create_campaign(
            db, args.name, template_id=template_id, account_id=account.id,
            audience=args.audience, subject=args.subject,
        )  # fmt: skip
        text = _("Campaign “{name}” is ready: {audience}. Send it with: campaign send").format(
            name=info.name, audience=campaigns.audience_label(info.audience, db)
        )
        return {"campaign": info.name, "id": info.id}, text, EXIT_OK
    info = campaigns.find_campaign(db, args.name)
    if args.action == "status":
        return _status_figures(info.counts), _status_text(info), EXIT_OK
    if args.action == "resolve":
        changed = campaigns.resolve_uncertain(db, info.id, resend=args.resend)
        info = campaigns.campaign(db, info.id)
        done = (
            ngettext(
                "{count} message will be sent again.",
                "{count} messages will be sent again.",
                changed,
            )
            if args.resend
            else ngettext(
                "{count} message is left as it is.",
                "{count} messages are left as they are.",
                changed,
            )
        ).format(count=changed)
        return _status_figures(info.counts), f"{done}\n" + _status_text(info), EXIT_OK
    lines = []
    if info.state == "draft":
        check = campaigns.check_campaign(db, info.id, progress=bar)
        lines.append(check.summary())
        campaigns.queue_campaign(db, check)
    try:
        outcome = campaigns.send_campaign(
            db, info.id, passwords=CommandLinePasswords(), progress=bar, max_wait=120.0
        )
    except KeyboardInterrupt:  # Ctrl+C: what went stays sent; the next run goes on from there
        outcome = campaigns.SendOutcome(
            "stopped",
            campaigns.counts(db, info.id),
            _("Stopped. Messages already sent stay sent; run campaign send again to go on."),
        )
    info = campaigns.campaign(db, info.id)
    lines += [_status_text(info), outcome.message]
    figures = {**_status_figures(outcome.counts), "state": outcome.state}
    if outcome.resume_at is not None:
        figures["resume_at"] = outcome.resume_at.isoformat() + "Z"
    status = EXIT_REJECTED if outcome.state == "paused" else EXIT_OK
    return figures, "\n".join(line for line in lines if line), status


COMMANDS: dict[str, Callable[..., tuple[dict[str, Any], str, int]]] = {
    "demo": _command_demo,
    "backup": _command_backup,
    "backups": _command_backups,
    "restore": _command_restore,
    "check": _command_check,
    "search": _command_search,
    "import": _command_import,
    "export": _command_export,
    "segments": _command_segments,
    "imports": _command_imports,
    "undo-import": _command_undo_import,
    "account": _command_account,
    "campaign": _command_campaign,
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
