"""Segment rules: their versioned JSON, the registry of condition types and the compiler that
turns a whole rule into one SQL query over `customer c`.

A stored rule is {"version": 1, "rule": GROUP} where
    GROUP     = {"match": "all" | "any" | "none", "not": false, "items": [GROUP | CONDITION, ...]}
    CONDITION = {"type": "<a registered key>", "not": false, ...the type's parameters}
Conditions the compiler cannot honour (a type from a newer version, a deleted tag or product,
a value that makes no sense) match nobody and are reported as problems at their path, so a rule
always opens and counts; it never crashes.

Adding a condition type is one subclass of ConditionType decorated with @condition_type
(see services.segment_conditions): it declares its parameters (the rule builder draws editors
from them) and compiles itself to an SQL expression with parameters.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, ClassVar

from peewee import SqliteDatabase

from smbcrm.core.dates import utc_now
from smbcrm.core.i18n import N_, _

RULE_VERSION = 1
MATCHES = ("all", "any", "none")
MAX_ITEMS = 200
MAX_DEPTH = 8
NOBODY = ("0", [])

Sql = tuple[str, list[Any]]


# ---- time: windows are counted in the shop's local days ----------------------------------------


@dataclass(frozen=True)
class Clock:
    """Now, and the time zone whose calendar days the rules count in.

    Purchases are stored in UTC; a purchase at 23:30 local time belongs to that local day. So
    the rules never convert rows: they convert a local day's start to a UTC bound and compare
    stored times against it (which keeps the indexes usable, and handles summer time)."""

    now_utc: datetime = field(default_factory=utc_now)  # naive UTC, as stored
    zone: tzinfo | None = None  # None: this computer's time zone, as the window shows times

    def local_now(self) -> datetime:
        aware = self.now_utc.replace(tzinfo=UTC)
        return aware.astimezone(self.zone) if self.zone else aware.astimezone()

    def today(self) -> date:
        return self.local_now().date()

    def start_of(self, day: date) -> str:
        """The UTC text (as stored) of local midnight at the start of day."""
        midnight = datetime.combine(day, time())
        local = midnight.replace(tzinfo=self.zone) if self.zone else midnight.astimezone()
        return local.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")

    def since_days(self, days: int) -> str:
        """Bound for "in the last N days": local days since the purchase ≤ N (0 = today)."""
        return self.start_of(self.today() - timedelta(days=days))


# ---- parameters ----------------------------------------------------------------------------------

# Kinds of parameters the rule builder knows how to edit.
PARAM_KINDS = ("choice", "text", "texts", "int", "money", "date", "month",
               "tag", "product", "category", "custom_field", "segment")  # fmt: skip


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    label: str  # marked with N_; may be "" when the editor explains itself
    default: Any
    choices: tuple[tuple[str, str], ...] = ()  # (value, N_ label) for kind "choice"
    minimum: int = 0
    maximum: int = 1_000_000
    # Shown (and used) only while another parameter has one of these values.
    shown_when: tuple[str, tuple[str, ...]] | None = None
    suffix: str = ""  # N_ text after the editor, e.g. "days"
    suggest: str = ""  # text editors: the builder offers these values as you type ("places")

    def clean(self, raw: Any) -> Any:
        """The value as the compiler may trust it; ValueError when it cannot be used."""
        if raw is None:
            return copy.deepcopy(self.default)
        if self.kind == "choice":
            if raw not in [value for value, _label in self.choices]:
                raise ValueError(raw)
            return raw
        if self.kind == "text":
            return str(raw).strip()
        if self.kind == "texts":
            if not isinstance(raw, list):
                raise ValueError(raw)
            return [str(item).strip() for item in raw if str(item).strip()]
        if self.kind in ("int", "money", "month", "tag", "product", "category", "custom_field"):
            if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
                raise ValueError(raw)
            value = int(raw)
            low, high = (1, 12) if self.kind == "month" else (self.minimum, self.maximum)
            if self.kind in ("int", "money", "month") and not low <= value <= high:
                raise ValueError(raw)
            return value
        if self.kind == "date":
            return date.fromisoformat(str(raw)).isoformat()
        if self.kind == "segment":
            if not isinstance(raw, str) or not raw:
                raise ValueError(raw)
            return raw
        raise ValueError(self.kind)

    def applies(self, values: dict[str, Any]) -> bool:
        if self.shown_when is None:
            return True
        other, wanted = self.shown_when
        return values.get(other) in wanted


# ---- condition types ------------------------------------------------------------------------------


class ConditionType:
    """One kind of condition. Subclasses set key, label, group and params, and write sql()."""

    key: ClassVar[str]
    label: ClassVar[str]  # N_: how the builder's "Add condition" menu names it
    group: ClassVar[str] = N_("Profile")  # N_: the menu section it appears in
    params: ClassVar[tuple[Param, ...]] = ()

    def clean(self, condition: dict[str, Any]) -> dict[str, Any]:
        """The condition's parameters, defaults filled in; ValueError for a wrong value."""
        values: dict[str, Any] = {}
        for param in self.params:
            values[param.name] = param.clean(condition.get(param.name))
        return values

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        """An SQL expression over `c` (the customer row) that is 1 or 0, never NULL, with its
        parameters in order."""
        raise NotImplementedError

    def new(self) -> dict[str, Any]:
        """A fresh condition of this type, as the builder adds it."""
        condition: dict[str, Any] = {"type": self.key}
        for param in self.params:
            condition[param.name] = copy.deepcopy(param.default)
        return condition


CONDITION_TYPES: dict[str, ConditionType] = {}


def condition_type(cls: type[ConditionType]) -> type[ConditionType]:
    """Class decorator: register a condition type under its key."""
    if cls.key in CONDITION_TYPES:
        raise ValueError(f"condition type {cls.key!r} registered twice")
    CONDITION_TYPES[cls.key] = cls()
    return cls


# ---- compiling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: tuple[int, ...]  # indexes from the top group down to the condition
    message: str


@dataclass
class CompileContext:
    db: SqliteDatabase
    clock: Clock
    # Resolves another segment's key or name to (sql selecting customer ids, params), or None.
    segment_sql: Callable[[str, CompileContext], Sql | None]
    segments_seen: tuple[str, ...] = ()
    problems: list[Problem] = field(default_factory=list)
    path: tuple[int, ...] = ()

    def missing(self, message: str) -> Sql:
        """This condition cannot be honoured: it matches nobody, and the builder shows why."""
        self.problems.append(Problem(self.path, message))
        return NOBODY

    def exists(self, table: str, row_id: int) -> bool:
        assert table in ("tag", "product", "category", "custom_field")
        found = self.db.execute_sql(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone()
        return found is not None


@dataclass(frozen=True)
class CompiledRule:
    where: str  # an expression over `c`
    params: tuple[Any, ...]
    problems: tuple[Problem, ...]


def rule_version(stored: Any) -> int:
    """The version a stored rule says it has (1 when it says nothing usable)."""
    version = stored.get("version") if isinstance(stored, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def empty_rule() -> dict[str, Any]:
    return {"version": RULE_VERSION, "rule": {"match": "all", "items": []}}


def rule_root(stored: Any) -> dict[str, Any] | None:
    """The top group of a stored rule (a bare group is accepted too); None when unreadable."""
    if isinstance(stored, dict) and isinstance(stored.get("rule"), dict):
        return stored["rule"]
    if isinstance(stored, dict) and "match" in stored:
        return stored
    return None


def is_group(node: Any) -> bool:
    return isinstance(node, dict) and "match" in node and "type" not in node


def compile_rule(
    db: SqliteDatabase,
    stored: dict[str, Any],
    *,
    clock: Clock | None = None,
    segment_sql: Callable[[str, CompileContext], Sql | None] | None = None,
    segments_seen: tuple[str, ...] = (),
) -> CompiledRule:
    """A rule as one SQL expression over `customer c`, with every problem found on the way."""
    ctx = CompileContext(
        db=db,
        clock=clock or Clock(),
        segment_sql=segment_sql or (lambda key, ctx: None),
        segments_seen=segments_seen,
    )
    newer = rule_version(stored) > RULE_VERSION
    if newer:
        ctx.problems.append(
            Problem(
                (),
                _(
                    "This segment was saved by a newer version of smbcrm; parts of it may "
                    "not be understood here."
                ),
            )  # fmt: skip
        )
    root = rule_root(stored)
    if root is None:  # never "everyone": a damaged rule must not become a mailing to all
        where, params = ctx.missing(_("This segment's rule cannot be read; it matches nobody."))
    else:
        where, params = _node(root, ctx, depth=0)
    return CompiledRule(where, tuple(params), tuple(ctx.problems))


def _node(node: Any, ctx: CompileContext, depth: int) -> Sql:
    if is_group(node):
        return _group(node, ctx, depth)
    if not isinstance(node, dict):
        return ctx.missing(_("This part of the rule cannot be read."))
    kind = CONDITION_TYPES.get(node.get("type"))
    if kind is None:
        return ctx.missing(
            _("A condition of a kind this version of smbcrm does not know ({kind}).").format(
                kind=str(node.get("type"))[:40]
            )
        )
    try:
        values = kind.clean(node)
    except (ValueError, TypeError):
        return ctx.missing(_("This condition has a value that cannot be used."))
    sql, params = kind.sql(values, ctx)
    if node.get("not"):
        sql = f"NOT ({sql})"
    return f"({sql})", params


def _group(node: dict[str, Any], ctx: CompileContext, depth: int) -> Sql:
    match = node.get("match")
    items = node.get("items")
    if match not in MATCHES or not isinstance(items, list):
        return ctx.missing(_("This group of conditions cannot be read."))
    if depth >= MAX_DEPTH or len(items) > MAX_ITEMS:
        return ctx.missing(_("This group is nested too deep or has too many conditions."))
    parts: list[str] = []
    params: list[Any] = []
    for index, item in enumerate(items):
        outer = ctx.path
        ctx.path = (*outer, index)
        sql, item_params = _node(item, ctx, depth + 1)
        ctx.path = outer
        parts.append(sql)
        params.extend(item_params)
    if not parts:  # an empty group: "all of" or "none of" nothing is everyone, "any of" nobody
        everyone = match != "any"
        return ("1" if everyone != bool(node.get("not")) else "0"), []
    joined = (" AND " if match == "all" else " OR ").join(parts)
    if match == "none":
        joined = f"NOT ({joined})"
    if node.get("not"):  # "none of" says it for the builder; a hand-written rule may say "not"
        joined = f"NOT ({joined})"
    return f"({joined})", params


def problems_by_path(problems: tuple[Problem, ...]) -> dict[tuple[int, ...], str]:
    found: dict[tuple[int, ...], str] = {}
    for problem in problems:
        found.setdefault(problem.path, problem.message)
    return found
