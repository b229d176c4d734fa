"""The condition types segments are built from: each one declares its parameters and compiles
itself to an SQL expression over `customer c` (1 or 0, never NULL). Add one by writing a class
here with @condition_type; the rule builder, the compiler and saving pick it up."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from smbcrm.core.i18n import N_, _
from smbcrm.services.segment_rules import (
    NOBODY,
    CompileContext,
    ConditionType,
    Param,
    Sql,
    condition_type,
)

PURCHASES = N_("Purchases")
PROFILE = N_("Profile")
CONTACT = N_("Contact and consent")

TEXT_OPERATORS = (
    ("equals", N_("is")),
    ("contains", N_("contains")),
    ("in", N_("is one of")),
    ("empty", N_("is empty")),
)
AT_LEAST_MOST = (("at_least", N_("at least")), ("at_most", N_("at most")))
MONTHS = tuple((str(month), "") for month in range(1, 13))


def _placeholders(values: list[Any]) -> str:
    return ", ".join("?" * len(values))


def _text_test(expression: str, op: str, value: str, values: list[str]) -> Sql:
    """Compare a text expression (never NULL) the way a person means it: case does not matter."""
    if op == "empty":
        return f"{expression} = ''", []
    if op == "equals":
        return f"{expression} = ? COLLATE NOCASE", [value]
    if op == "contains":
        return f"instr(lower({expression}), lower(?)) > 0", [value]
    if not values:
        return NOBODY
    return f"{expression} COLLATE NOCASE IN ({_placeholders(values)})", list(values)


def _text_params(default_op: str = "equals", suggest: str = "") -> tuple[Param, ...]:
    return (
        Param("op", "choice", "", default_op, TEXT_OPERATORS),
        Param("value", "text", "", "", shown_when=("op", ("equals", "contains")), suggest=suggest),
        Param("values", "texts", "", [], shown_when=("op", ("in",)), suggest=suggest),
    )


# ---- profile and place ---------------------------------------------------------------------------

PROFILE_FIELDS = (
    ("first_name", N_("First name")),
    ("last_name", N_("Last name")),
    ("email", N_("Email")),
    ("phone", N_("Phone")),
    ("code", N_("Customer code")),
    ("notes", N_("Notes")),
)
PLACE_FIELDS = (("city", N_("City")), ("region", N_("Region")), ("country", N_("Country code")))
_NULLABLE = {"email", "code"}


def _column(name: str) -> str:
    return f"COALESCE(c.{name}, '')" if name in _NULLABLE else f"c.{name}"


@condition_type
class ProfileField(ConditionType):
    key = "profile"
    label = N_("Profile field")
    group = PROFILE
    params = (Param("field", "choice", "", "first_name", PROFILE_FIELDS), *_text_params())

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        return _text_test(_column(values["field"]), values["op"], values["value"], values["values"])


@condition_type
class Place(ProfileField):
    key = "place"
    label = N_("City, region or country")
    params = (Param("field", "choice", "", "city", PLACE_FIELDS), *_text_params("in", "places"))


@condition_type
class CustomFieldValue(ConditionType):
    key = "custom_field"
    label = N_("Custom field")
    group = PROFILE
    params = (Param("field", "custom_field", "", 0), *_text_params())

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        if not ctx.exists("custom_field", values["field"]):
            return ctx.missing(_("The custom field of this condition was deleted."))
        if values["op"] == "empty":
            return (
                "NOT EXISTS (SELECT 1 FROM customer_field_value v WHERE v.customer_id = c.id "
                "AND v.field_id = ? AND v.value != '')",
                [values["field"]],
            )
        test, params = _text_test("v.value", values["op"], values["value"], values["values"])
        if test == NOBODY[0]:
            return NOBODY
        return (
            "EXISTS (SELECT 1 FROM customer_field_value v WHERE v.customer_id = c.id "
            f"AND v.field_id = ? AND {test})",
            [values["field"], *params],
        )


@condition_type
class HasTag(ConditionType):
    key = "tag"
    label = N_("Has a tag")
    group = PROFILE
    params = (Param("tag", "tag", "", 0),)

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        if not ctx.exists("tag", values["tag"]):
            return ctx.missing(_("The tag of this condition was deleted."))
        return (
            "EXISTS (SELECT 1 FROM customer_tag ct WHERE ct.customer_id = c.id AND ct.tag_id = ?)",
            [values["tag"]],
        )


def birthday_days(start: date, days: int) -> list[str]:
    """The "MM-DD" birthdays celebrated from start to start + days (both included). Someone born
    on 29 February celebrates on 28 February when the year has no 29th."""
    found: list[str] = []
    for offset in range(days + 1):
        day = start + timedelta(days=offset)
        found.append(day.strftime("%m-%d"))
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            found.append("02-29")
    return sorted(set(found))


@condition_type
class Birthday(ConditionType):
    key = "birthday"
    label = N_("Birthday")
    group = PROFILE
    params = (
        Param("when", "choice", "", "next_days",
              (("next_days", N_("within the next")), ("month", N_("is in")))),
        Param("days", "int", "", 7, minimum=0, maximum=366, suffix=N_("days"),
              shown_when=("when", ("next_days",))),
        Param("month", "month", "", 1, shown_when=("when", ("month",))),
    )  # fmt: skip

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        if values["when"] == "month":
            return "c.birthday IS NOT NULL AND substr(c.birthday, 6, 2) = ?", [
                f"{values['month']:02d}"
            ]
        days = birthday_days(ctx.clock.today(), values["days"])
        return (
            f"c.birthday IS NOT NULL AND substr(c.birthday, 6, 5) IN ({_placeholders(days)})",
            days,
        )


# ---- contact and consent ----------------------------------------------------------------------------


@condition_type
class HasContact(ConditionType):
    key = "contact"
    label = N_("Has an email or phone")
    group = CONTACT
    params = (Param("channel", "choice", "", "email",
                    (("email", N_("has an email address")), ("phone", N_("has a phone number")))),)  # fmt: skip

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        if values["channel"] == "email":
            return "COALESCE(c.email, '') != ''", []
        return "c.phone != ''", []


@condition_type
class Consent(ConditionType):
    key = "consent"
    label = N_("Marketing email consent")
    group = CONTACT
    params = (Param("state", "choice", "", "granted", (
        ("granted", N_("accepts marketing email")),
        ("withdrawn", N_("does not want marketing email")),
        ("unknown", N_("not asked")),
    )),)  # fmt: skip

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        return "c.email_consent = ?", [values["state"]]


# ---- purchases -------------------------------------------------------------------------------------

WINDOW = Param("days", "int", N_("in the last (0 = ever)"), 0, minimum=0, maximum=36_500,
               suffix=N_("days"))  # fmt: skip


def _window(values: dict[str, Any], ctx: CompileContext, column: str = "p.purchased_at") -> Sql:
    if not values["days"]:
        return "", []
    return f" AND {column} >= ?", [ctx.clock.since_days(values["days"])]


class _Bought(ConditionType):
    """Bought something (a product, a category) at least N times (purchases), ever or lately."""

    group = PURCHASES
    table = ""
    missing_message = ""

    def lines(self, row_id: int) -> Sql:
        raise NotImplementedError

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        row_id = values[self.table]
        if not ctx.exists(self.table, row_id):
            return ctx.missing(_(self.missing_message))
        which, which_params = self.lines(row_id)
        window, window_params = _window(values, ctx)
        inner = (
            "SELECT p.customer_id FROM purchase_line l JOIN purchase p ON p.id = l.purchase_id "
            f"WHERE {which} AND p.customer_id IS NOT NULL{window}"
        )
        params = [*which_params, *window_params]
        if values["times"] > 1:
            inner += " GROUP BY p.customer_id HAVING COUNT(DISTINCT p.id) >= ?"
            params.append(values["times"])
        return f"c.id IN ({inner})", params


@condition_type
class BoughtProduct(_Bought):
    key = "bought_product"
    label = N_("Bought a product")
    table = "product"
    missing_message = N_("The product of this condition was deleted.")
    params = (
        Param("product", "product", "", 0),
        Param("times", "int", N_("at least"), 1, minimum=1, maximum=10_000, suffix=N_("times")),
        WINDOW,
    )

    def lines(self, row_id: int) -> Sql:
        return "l.product_id = ?", [row_id]


@condition_type
class BoughtCategory(_Bought):
    key = "bought_category"
    label = N_("Bought from a category")
    table = "category"
    missing_message = N_("The category of this condition was deleted.")
    params = (
        Param("category", "category", "", 0),
        Param("times", "int", N_("at least"), 1, minimum=1, maximum=10_000, suffix=N_("times")),
        WINDOW,
    )

    def lines(self, row_id: int) -> Sql:
        return "l.product_id IN (SELECT id FROM product WHERE category_id = ?)", [row_id]


class _PurchaseAggregate(ConditionType):
    """A number over the customer's purchases (in a window) compared with a limit."""

    group = PURCHASES
    aggregate = ""  # over purchase p in the window
    column = ""  # the same over all time, kept on the customer row
    amount = ""  # the parameter holding the limit

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        limit = values[self.amount]
        test = ">=" if values["op"] == "at_least" else "<="
        if not values["days"]:
            return f"c.{self.column} {test} ?", [limit]
        # Per customer, a range of the (customer, date, total) index: cheap for the customers
        # the other conditions left, and no slower than one pass over all purchases.
        return (
            f"COALESCE((SELECT {self.aggregate} FROM purchase p WHERE p.customer_id = c.id "
            f"AND p.purchased_at >= ?), 0) {test} ?",
            [ctx.clock.since_days(values["days"]), limit],
        )


@condition_type
class PurchaseCount(_PurchaseAggregate):
    key = "purchase_count"
    label = N_("Number of purchases")
    aggregate = "COUNT(*)"
    column = "purchase_count"
    amount = "count"
    params = (
        Param("op", "choice", "", "at_least", AT_LEAST_MOST),
        Param("count", "int", "", 2, minimum=0, maximum=1_000_000),
        WINDOW,
    )


@condition_type
class TotalSpent(_PurchaseAggregate):
    key = "total_spent"
    label = N_("Total spent")
    aggregate = "SUM(p.total)"
    column = "total_spent"
    amount = "amount"
    params = (
        Param("op", "choice", "", "at_least", AT_LEAST_MOST),
        Param("amount", "money", "", 0, minimum=0, maximum=10**17),
        Param("days", "int", N_("in the last (0 = ever)"), 365, minimum=0, maximum=36_500,
              suffix=N_("days")),
    )  # fmt: skip


@condition_type
class DaysSinceLastPurchase(ConditionType):
    key = "days_since_last_purchase"
    label = N_("Days since the last purchase")
    group = PURCHASES
    params = (
        Param("op", "choice", "", "at_least", AT_LEAST_MOST),
        Param("days", "int", "", 90, minimum=0, maximum=36_500, suffix=N_("days")),
    )

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        # Customers who never bought have no "days since": they match neither way.
        days = values["days"]
        if values["op"] == "at_most":
            return "c.last_purchase_at IS NOT NULL AND c.last_purchase_at >= ?", [
                ctx.clock.since_days(days)
            ]
        if days == 0:
            return "c.last_purchase_at IS NOT NULL", []
        return "c.last_purchase_at IS NOT NULL AND c.last_purchase_at < ?", [
            ctx.clock.since_days(days - 1)
        ]


@condition_type
class FirstPurchase(ConditionType):
    key = "first_purchase"
    label = N_("First purchase")
    group = PURCHASES
    params = (
        Param("when", "choice", "", "within_days", (
            ("within_days", N_("in the last")),
            ("before", N_("before")),
            ("on_or_after", N_("on or after")),
        )),
        Param("days", "int", "", 30, minimum=0, maximum=36_500, suffix=N_("days"),
              shown_when=("when", ("within_days",))),
        Param("date", "date", "", "2025-01-01", shown_when=("when", ("before", "on_or_after"))),
    )  # fmt: skip

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        first = "(SELECT MIN(p.purchased_at) FROM purchase p WHERE p.customer_id = c.id)"
        if values["when"] == "within_days":
            bound, test = ctx.clock.since_days(values["days"]), ">="
        else:
            bound = ctx.clock.start_of(date.fromisoformat(values["date"]))
            test = "<" if values["when"] == "before" else ">="
        return f"c.last_purchase_at IS NOT NULL AND {first} {test} ?", [bound]


# ---- other segments ------------------------------------------------------------------------------------


@condition_type
class InSegment(ConditionType):
    key = "segment"
    label = N_("In another segment")
    group = N_("Segments")
    params = (Param("segment", "segment", "", "active"),)

    def sql(self, values: dict[str, Any], ctx: CompileContext) -> Sql:
        key = values["segment"]
        if key in ctx.segments_seen:
            return ctx.missing(_("A segment cannot contain itself."))
        found = ctx.segment_sql(key, ctx)
        if found is None:
            return ctx.missing(_("The segment of this condition was deleted."))
        sql, params = found
        return f"c.id IN ({sql})", list(params)
