"""Segments: saved rules, static lists and the built-in segments (activity, RFM groups, value
tiers), counted and listed now, usable as a filter, an export or a campaign audience.

Every segment is one SQL query over the customers (see segment_rules); nothing loads the
customers into Python to filter them. Built-in segments have fixed keys ("active", "rfm_lost",
"tier_gold"…); saved ones have the key "segment-<id>", so a rule that refers to another segment
survives a rename.
"""

from __future__ import annotations

import functools
import gettext
import json
import re
from dataclasses import dataclass
from typing import Any

from peewee import IntegrityError, SqliteDatabase

from smbcrm.core.dates import utc_now
from smbcrm.core.errors import UserError
from smbcrm.core.i18n import DOMAIN, LANGUAGES, N_, _
from smbcrm.core.money import format_money, minor_digits
from smbcrm.core.paths import LOCALE_DIR
from smbcrm.core.progress import CancelToken, ProgressCallback, no_progress
from smbcrm.models.tables import CustomerTag, Segment, SegmentMember
from smbcrm.services import segment_conditions  # noqa: F401  (registers the condition types)
from smbcrm.services.customers import display_name, tag_id
from smbcrm.services.segment_rules import (
    RULE_VERSION,
    Clock,
    CompileContext,
    CompiledRule,
    Problem,
    Sql,
    compile_rule,
    empty_rule,
    rule_version,
)
from smbcrm.services.settings import load_settings, number_locale

NAME_LIMIT = 80
SAVED_PREFIX = "segment-"
# Customers a segment can hold: not archived, not merged into another.
LIVE = "c.merged_into_id IS NULL AND c.archived = 0"


@dataclass(frozen=True)
class BuiltinSegment:
    key: str
    name: str  # N_
    description: str  # N_
    family: str  # activity | rfm | tier


BUILTINS = (
    BuiltinSegment("new", N_("New"), N_("First purchase in the last {new} days."), "activity"),
    BuiltinSegment("active", N_("Active"), N_("Bought in the last {active} days."), "activity"),
    BuiltinSegment("at_risk", N_("At risk"),
                   N_("Last purchase between {active} and {lapsed} days ago."), "activity"),
    BuiltinSegment("lapsed", N_("Lapsed"), N_("No purchase in the last {lapsed} days."),
                   "activity"),
    BuiltinSegment("top", N_("Top customers"),
                   N_("The best {top}% of buyers by spend in the last 12 months."), "activity"),
    BuiltinSegment("rfm_champions", N_("Champions"),
                   N_("Bought recently, often and a lot."), "rfm"),
    BuiltinSegment("rfm_loyal", N_("Loyal"), N_("Come back regularly and spend well."), "rfm"),
    BuiltinSegment("rfm_need_attention", N_("Need attention"),
                   N_("Bought recently, but little or seldom."), "rfm"),
    BuiltinSegment("rfm_at_risk", N_("At risk (RFM)"),
                   N_("Were good customers, but have not come back for a while."), "rfm"),
    BuiltinSegment("rfm_lost", N_("Lost"), N_("Bought little, long ago."), "rfm"),
    BuiltinSegment("tier_platinum", N_("Platinum"),
                   N_("Spent at least {platinum} in the last 12 months."), "tier"),
    BuiltinSegment("tier_gold", N_("Gold"), N_("Spent at least {gold} in the last 12 months."),
                   "tier"),
    BuiltinSegment("tier_silver", N_("Silver"),
                   N_("Spent at least {silver} in the last 12 months."), "tier"),
)  # fmt: skip
BUILTIN_BY_KEY = {segment.key: segment for segment in BUILTINS}
RFM_GROUPS = tuple(segment.key for segment in BUILTINS if segment.family == "rfm")
TIERS = ("tier_platinum", "tier_gold", "tier_silver")
YEAR_DAYS = 365


def rfm_group(recency: int, value: int) -> str:
    """The RFM group of a cell of the grid: recency score 1–5, value (frequency and money) 1–5."""
    if recency >= 3:
        if value >= 4 and recency >= 4:
            return "rfm_champions"
        return "rfm_loyal" if value >= 3 else "rfm_need_attention"
    return "rfm_at_risk" if value >= 3 else "rfm_lost"


# ---- the SQL of built-in segments ------------------------------------------------------------------

# RFM: each customer who bought gets three scores 1–5 by rank among all who bought (the share of
# them with a smaller value, in fifths; ties share a score): recency (last purchase), frequency
# (purchases) and money (total spent). Value joins frequency and money, rounded up. The fifths'
# boundaries are read first (a few ordered reads), so a score is a plain expression on the row.
SCORED = f"{LIVE} AND c.purchase_count > 0"
# A partial index holding just these customers and columns (schema_v4.sql): read in a tenth of
# the time of the table. The planner cannot tell it fits without statistics, so it is named.
RFM_SOURCE = "customer c INDEXED BY customer_rfm"
RFM_COLUMNS = {"r": "c.last_purchase_at", "f": "c.purchase_count", "m": "c.total_spent"}


_UNREACHABLE = object()  # a score nobody reaches (fewer than two buyers to rank)


def rfm_bounds(db: SqliteDatabase) -> dict[str, list[Any]]:
    """Per score, the values a customer must exceed to reach scores 2, 3, 4 and 5 (a None
    bound is reached by everyone)."""
    scored = db.execute_sql(f"SELECT COUNT(*) FROM {RFM_SOURCE} WHERE {SCORED}").fetchone()[0]
    if scored <= 1:
        return {score: [_UNREACHABLE] * 4 for score in RFM_COLUMNS}
    positions = [-(-k * (scored - 1) // 5) for k in range(1, 5)]  # ceil(k (n - 1) / 5)
    wanted = sorted({p - 1 for p in positions if p > 0})
    bounds: dict[str, list[Any]] = {}
    for score, column in RFM_COLUMNS.items():
        at = dict(
            db.execute_sql(
                f"SELECT pos, value FROM (SELECT {column} AS value, ROW_NUMBER() OVER "
                f"(ORDER BY {column}) - 1 AS pos FROM {RFM_SOURCE} WHERE {SCORED}) "
                f"WHERE pos IN ({', '.join('?' * len(wanted))})",
                wanted,
            ).fetchall()
        )
        bounds[score] = [at[p - 1] if p > 0 else None for p in positions]
    return bounds


def _score_sql(column: str, bounds: list[Any]) -> Sql:
    parts, params = ["1"], []
    for bound in bounds:
        if bound is _UNREACHABLE:
            continue
        if bound is None:
            parts.append("1")
        else:
            parts.append(f"({column} > ?)")
            params.append(bound)
    return "(" + " + ".join(parts) + ")", params


def _rfm_cell_sql(bounds: dict[str, list[Any]]) -> Sql:
    """An expression: 10 × recency score + value score, for a customer who bought."""
    r, r_params = _score_sql(RFM_COLUMNS["r"], bounds["r"])
    f, f_params = _score_sql(RFM_COLUMNS["f"], bounds["f"])
    m, m_params = _score_sql(RFM_COLUMNS["m"], bounds["m"])
    return f"({r} * 10 + ({f} + {m} + 1) / 2)", [*r_params, *f_params, *m_params]


def _rfm_where(db: SqliteDatabase, cells: list[tuple[int, int]]) -> Sql:
    cell, params = _rfm_cell_sql(rfm_bounds(db))
    codes = [r * 10 + v for r, v in cells]
    return (
        f"c.purchase_count > 0 AND {cell} IN ({', '.join('?' * len(codes))})",
        [*params, *codes],
    )


def _settings(db: SqliteDatabase) -> dict[str, Any]:
    return load_settings(db)


def _tier_bounds(db: SqliteDatabase, values: dict[str, Any]) -> dict[str, tuple[int, int | None]]:
    """Minor-unit [low, high) of 12-month spend per tier; a tier's top is the next tier's start."""
    scale = 10 ** minor_digits(values["currency"])
    silver, gold, platinum = (values[f"tier_{n}"] * scale for n in ("silver", "gold", "platinum"))
    return {
        "tier_platinum": (platinum, None),
        "tier_gold": (gold, max(gold, platinum)),
        "tier_silver": (silver, max(silver, gold)),
    }


# Activity by the last purchase (kept on the customer row); :name marks a UTC bound.
ACTIVITY_TESTS = {
    "new": "CASE WHEN c.last_purchase_at >= :new THEN NOT EXISTS (SELECT 1 FROM purchase p "
    "WHERE p.customer_id = c.id AND p.purchased_at < :new) ELSE 0 END",
    "active": "c.last_purchase_at >= :active",
    "at_risk": "c.last_purchase_at < :active AND c.last_purchase_at >= :lapsed",
    "lapsed": "c.last_purchase_at < :lapsed",
}


def _bound_names(test: str) -> list[str]:
    return re.findall(r":(\w+)", test)


def _positional(test: str) -> str:
    return re.sub(r":\w+", "?", test)


def _builtin_where(db: SqliteDatabase, key: str, clock: Clock) -> Sql:
    values = _settings(db)
    new = clock.since_days(values["segment_new_days"])
    active = clock.since_days(values["segment_active_days"])
    lapsed = clock.since_days(values["segment_lapsed_days"])
    year = clock.since_days(YEAR_DAYS)
    if key in ACTIVITY_TESTS:
        test = ACTIVITY_TESTS[key]
        bounds = {"new": new, "active": active, "lapsed": lapsed}
        return f"c.purchase_count > 0 AND {_positional(test)}", [
            bounds[name] for name in _bound_names(test)
        ]
    if key == "top":
        return (
            "c.id IN (SELECT customer_id FROM (SELECT s.customer_id, ROW_NUMBER() OVER "
            "(ORDER BY s.spent DESC, s.customer_id) AS place, COUNT(*) OVER () AS buyers FROM "
            "(SELECT customer_id, SUM(total) AS spent FROM purchase WHERE customer_id IS NOT NULL "
            "AND purchased_at >= ? GROUP BY customer_id) s JOIN customer b ON b.id = s.customer_id "
            "WHERE b.merged_into_id IS NULL AND b.archived = 0) "
            "WHERE place <= (buyers * ? + 99) / 100)",
            [year, values["segment_top_percent"]],
        )
    if key in RFM_GROUPS:
        cells = [(r, v) for r in range(1, 6) for v in range(1, 6) if rfm_group(r, v) == key]
        return _rfm_where(db, cells)
    if key.startswith("rfm_cell_"):
        recency, value = (int(part) for part in key.removeprefix("rfm_cell_").split("_"))
        return _rfm_where(db, [(recency, value)])
    low, high = _tier_bounds(db, values)[key]
    having = "SUM(total) >= ?" + (" AND SUM(total) < ?" if high is not None else "")
    return (
        "c.id IN (SELECT customer_id FROM purchase WHERE customer_id IS NOT NULL "
        f"AND purchased_at >= ? GROUP BY customer_id HAVING {having})",
        [year, low] + ([high] if high is not None else []),
    )


def builtin_description(db: SqliteDatabase, key: str) -> str:
    """What a built-in segment holds, with the owner's settings filled in."""
    values = _settings(db)
    locale = number_locale(values["language"], values["country"])
    scale = 10 ** minor_digits(values["currency"])
    money = {
        name: format_money(values[f"tier_{name}"] * scale, values["currency"], locale)
        for name in ("silver", "gold", "platinum")
    }
    return _(BUILTIN_BY_KEY[key].description).format(
        new=values["segment_new_days"],
        active=values["segment_active_days"],
        lapsed=values["segment_lapsed_days"],
        top=values["segment_top_percent"],
        **money,
    )


# ---- finding a segment by name or key --------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    key: str
    name: str
    builtin: bool
    static: bool
    id: int | None
    rule: dict[str, Any] | None


def _load_rule(text: str) -> dict[str, Any]:
    try:
        loaded = json.loads(text or "{}")
    except ValueError:
        loaded = None
    return loaded if isinstance(loaded, dict) else {"version": RULE_VERSION, "unreadable": True}


def _find(db: SqliteDatabase, name_or_key: str) -> _Found | None:
    wanted = str(name_or_key).strip()
    if wanted in BUILTIN_BY_KEY or wanted.startswith("rfm_cell_"):
        if wanted.startswith("rfm_cell_") and not _valid_cell(wanted):
            return None
        name = _(BUILTIN_BY_KEY[wanted].name) if wanted in BUILTIN_BY_KEY else wanted
        return _Found(wanted, name, True, False, None, None)
    row = None
    if wanted.startswith(SAVED_PREFIX) and wanted.removeprefix(SAVED_PREFIX).isdigit():
        row = Segment.get_or_none(Segment.id == int(wanted.removeprefix(SAVED_PREFIX)))
    if row is None:
        row = Segment.select().where(Segment.name.collate("NOCASE") == wanted).first()
    if row is not None:
        return _Found(f"{SAVED_PREFIX}{row.id}", row.name, False, row.kind == "static", row.id,
                      _load_rule(row.rule))  # fmt: skip
    folded = wanted.casefold()
    for segment in BUILTINS:  # by its name, in the language shown or any other smbcrm speaks
        if folded == _(segment.name).casefold() or folded in _names_everywhere(segment.name):
            return _Found(segment.key, _(segment.name), True, False, None, None)
    return None


@functools.cache
def _names_everywhere(name: str) -> frozenset[str]:
    """A built-in segment's name in every language smbcrm has, case-folded."""
    names = {name.casefold()}
    for code in LANGUAGES:
        catalogue = gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)
        names.add(catalogue.gettext(name).casefold())
    return frozenset(names)


def _valid_cell(key: str) -> bool:
    parts = key.removeprefix("rfm_cell_").split("_")
    return len(parts) == 2 and all(p in ("1", "2", "3", "4", "5") for p in parts)


def _require(db: SqliteDatabase, name_or_key: str) -> _Found:
    found = _find(db, name_or_key)
    if found is None:
        raise UserError(
            _("There is no segment called “{name}”. `smbcrm segments` lists them all.").format(
                name=str(name_or_key)[:80]
            )
        )
    return found


def _where_of(db: SqliteDatabase, found: _Found, clock: Clock, seen: tuple[str, ...]) -> Sql:
    if found.builtin:
        return _builtin_where(db, found.key, clock)
    if found.static:
        # A member merged into another customer is on the list as that customer (two merges
        # deep); undoing the merge puts them back as they were.
        return (
            "c.id IN (SELECT COALESCE(m2.merged_into_id, m.merged_into_id, m.id) "
            "FROM segment_member sm JOIN customer m ON m.id = sm.customer_id "
            "LEFT JOIN customer m2 ON m2.id = m.merged_into_id WHERE sm.segment_id = ?)",
            [found.id],
        )
    compiled = _compile(db, found.rule or empty_rule(), clock, (*seen, found.key))
    return compiled.where, list(compiled.params)


def _compile(
    db: SqliteDatabase, rule: dict[str, Any], clock: Clock, seen: tuple[str, ...] = ()
) -> CompiledRule:
    def other_segment(key: str, ctx: CompileContext) -> Sql | None:
        found = _find(db, key)
        if found is None:
            return None
        if found.key in ctx.segments_seen:
            return "SELECT NULL WHERE 0", []
        where, params = _where_of(db, found, clock, ctx.segments_seen)
        return f"SELECT c.id FROM customer c WHERE {where}", params

    return compile_rule(db, rule, clock=clock, segment_sql=other_segment, segments_seen=seen)


def _select(where: str) -> str:
    return f"SELECT c.id FROM customer c WHERE {LIVE} AND ({where})"


# ---- the team's entry points ------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentSummary:
    id: int | None  # saved segments only
    key: str
    name: str  # translated for built-ins
    count: int
    builtin: bool
    static: bool
    family: str = "saved"  # saved | static | activity | rfm | tier
    description: str = ""
    problems: int = 0  # conditions that match nobody because something they named is gone


def segment_sql(
    db: SqliteDatabase, name_or_key: str, *, clock: Clock | None = None
) -> tuple[str, tuple]:
    """`SELECT c.id FROM customer c WHERE …` for the segment's live customers, with its params;
    usable as a subquery (`WHERE id IN (<sql>)`). UserError when there is no such segment."""
    found = _require(db, name_or_key)
    where, params = _where_of(db, found, clock or Clock(), ())
    return _select(where), tuple(params)


def segment_customer_ids(
    db: SqliteDatabase, name_or_key: str, *, clock: Clock | None = None
) -> list[int]:
    """Ids of the segment's customers (not archived, not merged), evaluated now, by id."""
    sql, params = segment_sql(db, name_or_key, clock=clock)
    return [row[0] for row in db.execute_sql(f"{sql} ORDER BY c.id", params)]


def list_segments(
    db: SqliteDatabase, *, clock: Clock | None = None, grid: RfmGrid | None = None
) -> list[SegmentSummary]:
    """Every built-in and saved segment with its count now: built-ins first, then by name."""
    clock = clock or Clock()
    counts = builtin_counts(db, clock=clock, grid=grid)
    found = [
        SegmentSummary(None, b.key, _(b.name), counts[b.key], True, False, b.family,
                       builtin_description(db, b.key))
        for b in BUILTINS
    ]  # fmt: skip
    for row in Segment.select().order_by(Segment.name.collate("NOCASE")):
        static = row.kind == "static"
        if static:
            where, params = _where_of(db, _Found("", "", False, True, row.id, None), clock, ())
            problems = 0
        else:
            compiled = _compile(db, _load_rule(row.rule), clock, (f"{SAVED_PREFIX}{row.id}",))
            where, params, problems = compiled.where, compiled.params, len(compiled.problems)
        count = db.execute_sql(f"SELECT COUNT(*) FROM ({_select(where)})", params).fetchone()[0]
        found.append(
            SegmentSummary(row.id, f"{SAVED_PREFIX}{row.id}", row.name, count, False, static,
                           "static" if static else "saved", problems=problems)
        )  # fmt: skip
    return found


def builtin_counts(
    db: SqliteDatabase, *, clock: Clock | None = None, grid: RfmGrid | None = None
) -> dict[str, int]:
    """The count of every built-in segment in three passes: one over the buyers' partial index
    (activity), one over the last year's purchases (tiers and top customers), and the RFM grid
    (unless it was just read). Each equals what the segment's own SQL finds."""
    clock = clock or Clock()
    values = _settings(db)
    bounds = {
        "new": clock.since_days(values["segment_new_days"]),
        "active": clock.since_days(values["segment_active_days"]),
        "lapsed": clock.since_days(values["segment_lapsed_days"]),
    }
    tests, params = [], []
    for test in ACTIVITY_TESTS.values():
        tests.append(f"COALESCE(SUM({_positional(test)}), 0)")
        params.extend(bounds[name] for name in _bound_names(test))
    row = db.execute_sql(
        f"SELECT {', '.join(tests)} FROM {RFM_SOURCE} WHERE {SCORED}", params
    ).fetchone()
    counts = dict(zip(ACTIVITY_TESTS, row, strict=True))
    tiers, buyers = _year_spend_counts(db, clock, values)
    counts["top"] = min(buyers, (buyers * values["segment_top_percent"] + 99) // 100)
    counts.update(tiers)
    grid = grid or rfm_grid(db)
    for key in RFM_GROUPS:
        counts[key] = grid.groups.get(key, 0)
    return counts


@dataclass(frozen=True)
class RfmGrid:
    """Customers per cell: recency score (1–5, 5 = most recent) × value score (1–5)."""

    cells: dict[tuple[int, int], int]
    groups: dict[str, int]

    def count(self, recency: int, value: int) -> int:
        return self.cells.get((recency, value), 0)


def rfm_grid(db: SqliteDatabase) -> RfmGrid:
    cell, params = _rfm_cell_sql(rfm_bounds(db))
    rows = db.execute_sql(
        f"SELECT {cell} AS rfm_cell, COUNT(*) FROM {RFM_SOURCE} WHERE {SCORED} GROUP BY rfm_cell",
        params,
    ).fetchall()
    cells = {(code // 10, code % 10): n for code, n in rows}
    groups: dict[str, int] = dict.fromkeys(RFM_GROUPS, 0)
    for (r, v), n in cells.items():
        groups[rfm_group(r, v)] += n
    return RfmGrid(cells, groups)


def tier_counts(db: SqliteDatabase, *, clock: Clock | None = None) -> dict[str, int]:
    return _year_spend_counts(db, clock or Clock(), _settings(db))[0]


def _year_spend_counts(
    db: SqliteDatabase, clock: Clock, values: dict[str, Any]
) -> tuple[dict[str, int], int]:
    """Customers per value tier, and how many bought in the last year (one pass)."""
    sums, params = [], []
    for tier in TIERS:
        low, high = _tier_bounds(db, values)[tier]
        sums.append("COALESCE(SUM(s.spent >= ?" + (" AND s.spent < ?" if high is not None else "")
                    + "), 0)")  # fmt: skip
        params.extend([low] if high is None else [low, high])
    row = db.execute_sql(
        f"SELECT COUNT(*), {', '.join(sums)} FROM customer c JOIN "
        "(SELECT customer_id, SUM(total) AS spent FROM purchase WHERE customer_id IS NOT NULL "
        "AND purchased_at >= ? GROUP BY customer_id) s ON s.customer_id = c.id "
        f"WHERE {LIVE}",
        (*params, clock.since_days(YEAR_DAYS)),
    ).fetchone()
    return dict(zip(TIERS, row[1:], strict=True)), row[0]


# ---- rules while they are edited ----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleCount:
    count: int
    examples: tuple[str, ...]  # a few names, to see who is in
    problems: tuple[Problem, ...]


def rule_where(
    db: SqliteDatabase, rule: dict[str, Any], *, clock: Clock | None = None, key: str = ""
) -> CompiledRule:
    """The rule compiled (an expression over `c`); key is the segment being edited, if saved."""
    return _compile(db, rule, clock or Clock(), (key,) if key else ())


def count_rule(
    db: SqliteDatabase,
    rule: dict[str, Any],
    *,
    examples: int = 5,
    clock: Clock | None = None,
    key: str = "",
    cancel: CancelToken | None = None,
) -> RuleCount:
    """How many customers a rule matches now, with a few of their names (the live count).
    A cancelled count (the rule changed meanwhile) stops before its query."""
    if cancel is not None:
        cancel.raise_if_cancelled()
    compiled = rule_where(db, rule, clock=clock, key=key)
    if cancel is not None:
        cancel.raise_if_cancelled()
    # One pass: the window counts every match before the best few are kept.
    rows = db.execute_sql(
        f"SELECT c.first_name, c.last_name, c.email, COUNT(*) OVER () FROM customer c "
        f"WHERE {LIVE} AND ({compiled.where}) ORDER BY c.total_spent DESC, c.id LIMIT ?",
        (*compiled.params, max(1, examples)),
    ).fetchall()
    count = rows[0][3] if rows else 0
    names = tuple(display_name(first, last, email) for first, last, email, _n in rows[:examples])
    return RuleCount(count, names, compiled.problems)


def rule_customer_ids(
    db: SqliteDatabase, rule: dict[str, Any], *, clock: Clock | None = None, key: str = ""
) -> list[int]:
    compiled = rule_where(db, rule, clock=clock, key=key)
    sql = f"{_select(compiled.where)} ORDER BY c.id"
    return [row[0] for row in db.execute_sql(sql, compiled.params)]


# ---- saving ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentDetail:
    id: int
    key: str
    name: str
    static: bool
    rule: dict[str, Any]


def _clean_name(db: SqliteDatabase, name: str, segment_id: int | None) -> str:
    name = " ".join(str(name).split())
    if not name or len(name) > NAME_LIMIT or any(ord(char) < 32 for char in str(name)):
        raise UserError(
            _("Give the segment a name of 1 to {limit} characters.").format(limit=NAME_LIMIT)
        )
    folded = name.casefold()
    for segment in BUILTINS:
        if folded in _names_everywhere(segment.name) or folded == segment.key:
            raise UserError(
                _("“{name}” is the name of a built-in segment; choose another.").format(name=name)
            )
    clash = Segment.select().where(Segment.name.collate("NOCASE") == name)
    if segment_id is not None:
        clash = clash.where(Segment.id != segment_id)
    if clash.exists():
        raise UserError(_("There is already a segment called “{name}”.").format(name=name))
    return name


def save_segment(
    db: SqliteDatabase, name: str, rule: dict[str, Any], segment_id: int | None = None
) -> int:
    """Create (segment_id None) or change a rule segment; returns its id."""
    stored = dict(rule)
    stored["version"] = max(RULE_VERSION, rule_version(stored))
    text = json.dumps(stored, ensure_ascii=False)
    with db.atomic():
        name = _clean_name(db, name, segment_id)
        if segment_id is None:
            try:
                return Segment.create(name=name, kind="rule", rule=text).id
            except IntegrityError as error:
                raise UserError(_("There is already a segment called “{name}”.").format(
                    name=name)) from error  # fmt: skip
        updated = (
            Segment.update(name=name, rule=text, updated_at=utc_now())
            .where((Segment.id == segment_id) & (Segment.kind == "rule"))
            .execute()
        )
        if not updated:
            raise UserError(_("This segment no longer exists."))
    return segment_id


def rename_segment(db: SqliteDatabase, segment_id: int, name: str) -> None:
    with db.atomic():
        name = _clean_name(db, name, segment_id)
        Segment.update(name=name, updated_at=utc_now()).where(Segment.id == segment_id).execute()


def delete_segment(db: SqliteDatabase, segment_id: int) -> None:
    """Delete a saved segment or list; rules that refer to it then match nobody for that part."""
    with db.atomic():
        Segment.delete().where(Segment.id == segment_id).execute()


def segment_detail(db: SqliteDatabase, name_or_key: str) -> SegmentDetail:
    found = _require(db, name_or_key)
    if found.builtin or found.id is None:
        raise UserError(_("Built-in segments cannot be edited."))
    return SegmentDetail(found.id, found.key, found.name, found.static, found.rule or {})


def freeze_segment(
    db: SqliteDatabase, name_or_key: str, list_name: str, *, clock: Clock | None = None
) -> int:
    """A static list holding the segment's customers as they are now; returns its id."""
    source = _require(db, name_or_key)
    sql, params = segment_sql(db, name_or_key, clock=clock)
    now = str(utc_now())
    with db.atomic():
        name = _clean_name(db, list_name, None)
        rule = {"version": RULE_VERSION, "frozen_from": source.key, "frozen_at": now}
        list_id = Segment.create(name=name, kind="static", rule=json.dumps(rule)).id
        db.execute_sql(
            "INSERT INTO segment_member (segment_id, customer_id, added_at) "
            f"SELECT ?, id, ? FROM ({sql})",
            (list_id, now, *params),
        )
    return list_id


def _static_list(list_id: int) -> Segment:
    row = Segment.get_or_none(Segment.id == list_id)
    if row is None or row.kind != "static":
        raise UserError(_("This list no longer exists."))
    return row


def add_to_list(db: SqliteDatabase, list_id: int, customer_ids: list[int]) -> int:
    """Add customers to a static list by hand; returns how many were not on it yet."""
    now = str(utc_now())
    added = 0
    with db.atomic():
        _static_list(list_id)
        for customer_id in customer_ids:
            cursor = db.execute_sql(
                "INSERT OR IGNORE INTO segment_member (segment_id, customer_id, added_at) "
                "SELECT ?, id, ? FROM customer WHERE id = ?",
                (list_id, now, customer_id),
            )
            added += cursor.rowcount
    return added


def remove_from_list(db: SqliteDatabase, list_id: int, customer_ids: list[int]) -> int:
    with db.atomic():
        _static_list(list_id)
        return (
            SegmentMember.delete()
            .where((SegmentMember.segment == list_id) & SegmentMember.customer.in_(customer_ids))
            .execute()
        )


def tag_segment_members(
    db: SqliteDatabase,
    name_or_key: str,
    tag_name: str,
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> int:
    """Give every customer of the segment a tag (created if needed); returns how many got it."""
    sql, params = segment_sql(db, name_or_key)
    with db.atomic():
        tag = tag_id(tag_name)
        before = CustomerTag.select().where(CustomerTag.tag == tag).count()
        progress(0, 0, _("Tagging customers…"))
        db.execute_sql(
            f"INSERT OR IGNORE INTO customer_tag (customer_id, tag_id) SELECT id, ? FROM ({sql})",
            (tag, *params),
        )
        if cancel is not None:
            cancel.raise_if_cancelled()
        return CustomerTag.select().where(CustomerTag.tag == tag).count() - before


@dataclass(frozen=True)
class SegmentsOverview:
    """What the Segments page shows: every segment with its count, and the RFM grid."""

    segments: tuple[SegmentSummary, ...]
    grid: RfmGrid


def segments_overview(db: SqliteDatabase, *, clock: Clock | None = None) -> SegmentsOverview:
    grid = rfm_grid(db)
    return SegmentsOverview(tuple(list_segments(db, clock=clock, grid=grid)), grid)


@dataclass(frozen=True)
class BuilderChoices:
    """What the rule builder offers in its lists: (id or key, name) pairs."""

    tags: tuple[tuple[int, str], ...]
    products: tuple[tuple[int, str], ...]
    categories: tuple[tuple[int, str], ...]
    custom_fields: tuple[tuple[int, str], ...]
    segments: tuple[tuple[str, str], ...]
    places: tuple[str, ...]  # cities and regions, most customers first


def builder_choices(db: SqliteDatabase) -> BuilderChoices:
    def pairs(sql: str) -> tuple[tuple[Any, str], ...]:
        return tuple((row[0], row[1]) for row in db.execute_sql(sql))

    return BuilderChoices(
        tags=pairs("SELECT id, name FROM tag ORDER BY name COLLATE NOCASE"),
        products=pairs("SELECT id, name FROM product ORDER BY name COLLATE NOCASE"),
        categories=pairs("SELECT id, name FROM category ORDER BY name COLLATE NOCASE"),
        custom_fields=pairs("SELECT id, name FROM custom_field ORDER BY position, name"),
        segments=segment_choices(db),
        places=tuple(
            row[0]
            for row in db.execute_sql(
                "SELECT place FROM (SELECT city AS place FROM customer UNION ALL "
                "SELECT region FROM customer) WHERE place != '' GROUP BY place COLLATE NOCASE "
                "ORDER BY COUNT(*) DESC LIMIT 300"
            )
        ),
    )


def segment_choices(db: SqliteDatabase) -> tuple[tuple[str, str], ...]:
    """(key, name) of every segment, built-in first, without counting them (cheap)."""
    saved = db.execute_sql("SELECT id, name FROM segment ORDER BY name COLLATE NOCASE")
    return tuple((b.key, _(b.name)) for b in BUILTINS) + tuple(
        (f"{SAVED_PREFIX}{row_id}", name) for row_id, name in saved
    )
