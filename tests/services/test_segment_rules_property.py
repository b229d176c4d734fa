"""Random small shops and random rules: the SQL the rules compile to agrees with a slow,
separately written Python evaluation of the same rules."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smbcrm.models.tables import (
    Category,
    Customer,
    CustomerFieldValue,
    CustomerTag,
    CustomField,
    Product,
    Tag,
)
from smbcrm.services.segments import rule_customer_ids
from tests.services.segment_helpers import BOGOTA, CLOCK, TODAY, buy

CITIES = ("Bogota", "bogota", "Cali", "")
FIRST_NAMES = ("Ana", "ana maria", "Luis", "")
CONSENTS = ("unknown", "granted", "withdrawn")


@dataclass
class ShopData:
    customers: list[dict] = field(default_factory=list)
    purchases: list[dict] = field(default_factory=list)  # customer index, utc, lines


birthdays = st.one_of(
    st.none(),
    st.sampled_from([date(1988, 2, 29), date(1990, 12, 31), date(1990, 1, 1)]),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2005, 12, 31)),
)
customers = st.fixed_dictionaries({
    "first_name": st.sampled_from(FIRST_NAMES),
    "city": st.sampled_from(CITIES),
    "email": st.sampled_from([None, "a@gmail.com", "b@hotmail.com"]),
    "phone": st.sampled_from(["", "300 123 4567"]),
    "email_consent": st.sampled_from(CONSENTS),
    "birthday": birthdays,
    "tags": st.sets(st.sampled_from([0, 1])),
    "size": st.sampled_from([None, "M", "m", "L", "XL"]),  # a custom field
})  # fmt: skip
# Purchases around the windows' edges: whole local days back, at any hour.
moments = st.builds(
    lambda days, minutes: (
        datetime.combine(TODAY - timedelta(days=days), datetime.min.time())
        + timedelta(minutes=minutes)
    ),
    st.one_of(  # often right at a window's edge
        st.sampled_from([0, 1, 2, 7, 8, 30, 31, 90, 91, 200, 201, 365, 366]),
        st.integers(min_value=0, max_value=420),
    ),
    st.one_of(st.sampled_from([0, 23 * 60 + 30]), st.integers(min_value=0, max_value=24 * 60 - 1)),
)


@st.composite
def shops(draw) -> ShopData:
    data = ShopData(customers=draw(st.lists(customers, min_size=1, max_size=10)))
    for _index in range(draw(st.integers(min_value=0, max_value=25))):
        data.purchases.append({
            "customer": draw(st.integers(min_value=0, max_value=len(data.customers) - 1)),
            "local": draw(moments),
            "lines": draw(st.lists(st.tuples(st.sampled_from([0, 1, 2, None]),
                                             st.integers(min_value=1, max_value=400)),
                                   min_size=1, max_size=3)),
        })  # fmt: skip
    return data


windows = st.sampled_from([0, 1, 7, 30, 90, 365])
conditions = st.one_of(
    st.fixed_dictionaries({"type": st.just("place"), "field": st.just("city"),
                           "op": st.sampled_from(["equals", "contains", "empty", "in"]),
                           "value": st.sampled_from(["bogota", "CALI", "o"]),
                           "values": st.lists(st.sampled_from(["BOGOTA", "cali"]), max_size=2)}),
    st.fixed_dictionaries({"type": st.just("profile"),
                           "field": st.sampled_from(["first_name", "email"]),
                           "op": st.sampled_from(["equals", "contains", "empty", "in"]),
                           "value": st.sampled_from(["ana", "GMAIL", "luis"]),
                           "values": st.lists(st.sampled_from(["ANA", "luis"]), max_size=2)}),
    st.fixed_dictionaries({"type": st.just("tag"), "tag": st.sampled_from([0, 1])}),
    st.fixed_dictionaries({"type": st.just("custom_field"), "field": st.just(0),
                           "op": st.sampled_from(["equals", "contains", "empty", "in"]),
                           "value": st.sampled_from(["m", "L", "x"]),
                           "values": st.lists(st.sampled_from(["M", "xl"]), max_size=2)}),
    st.fixed_dictionaries({"type": st.just("birthday"), "when": st.just("next_days"),
                           "days": st.sampled_from([0, 1, 10, 40, 366])}),
    st.fixed_dictionaries({"type": st.just("birthday"), "when": st.just("month"),
                           "month": st.integers(min_value=1, max_value=12)}),
    st.fixed_dictionaries({"type": st.just("bought_product"), "product": st.sampled_from([0, 2]),
                           "times": st.integers(min_value=1, max_value=3), "days": windows}),
    st.fixed_dictionaries({"type": st.just("bought_category"), "category": st.sampled_from([0, 1]),
                           "times": st.integers(min_value=1, max_value=3), "days": windows}),
    st.fixed_dictionaries({"type": st.just("purchase_count"),
                           "op": st.sampled_from(["at_least", "at_most"]),
                           "count": st.integers(min_value=0, max_value=4), "days": windows}),
    st.fixed_dictionaries({"type": st.just("total_spent"),
                           "op": st.sampled_from(["at_least", "at_most"]),
                           "amount": st.sampled_from([0, 100, 500, 1000]), "days": windows}),
    st.fixed_dictionaries({"type": st.just("days_since_last_purchase"),
                           "op": st.sampled_from(["at_least", "at_most"]),
                           "days": st.sampled_from([0, 1, 30, 200])}),
    st.fixed_dictionaries({"type": st.just("first_purchase"),
                           "when": st.sampled_from(["within_days", "before", "on_or_after"]),
                           "days": windows, "date": st.just("2026-06-01")}),
    st.fixed_dictionaries({"type": st.just("contact"),
                           "channel": st.sampled_from(["email", "phone"])}),
    st.fixed_dictionaries({"type": st.just("consent"), "state": st.sampled_from(CONSENTS)}),
).flatmap(lambda c: st.builds(lambda negate: {**c, "not": negate}, st.booleans()))  # fmt: skip
groups = st.recursive(
    conditions,
    lambda children: st.fixed_dictionaries(
        {
            "match": st.sampled_from(["all", "any", "none"]),
            "items": st.lists(children, max_size=3),
        }
    ),  # fmt: skip
    max_leaves=6,
)


# ---- the slow evaluation, written from the rules' meaning --------------------------------------


def local_day(moment_utc: datetime) -> date:
    return moment_utc.replace(tzinfo=UTC).astimezone(BOGOTA).date()


def in_window(moment_utc: datetime, days: int) -> bool:
    return not days or (TODAY - local_day(moment_utc)).days <= days


def celebrates_within(birthday: date, days: int) -> bool:
    for offset in range(days + 1):
        day = TODAY + timedelta(days=offset)
        if (birthday.month, birthday.day) == (day.month, day.day):
            return True
        leap_day_moved = day.month == 2 and day.day == 28 and not calendar.isleap(day.year)
        if birthday.month == 2 and birthday.day == 29 and leap_day_moved:
            return True
    return False


def text_test(value: str, condition: dict) -> bool:
    value = value or ""
    op = condition["op"]
    if op == "empty":
        return value == ""
    if op == "equals":
        return value.lower() == condition["value"].lower()
    if op == "contains":
        return condition["value"].lower() in value.lower()
    return value.lower() in [v.lower() for v in condition["values"]]


def holds(condition: dict, person: dict, bought: list[dict], world: dict) -> bool:
    kind = condition["type"]
    if kind == "place" or kind == "profile":
        result = text_test(person[condition["field"]] or "", condition)
    elif kind == "custom_field":
        result = text_test(person["size"] or "", condition)
    elif kind == "tag":
        result = condition["tag"] in person["tags"]
    elif kind == "birthday":
        birthday = person["birthday"]
        if birthday is None:
            result = False
        elif condition["when"] == "month":
            result = birthday.month == condition["month"]
        else:
            result = celebrates_within(birthday, condition["days"])
    elif kind in ("bought_product", "bought_category"):
        wanted = (
            {condition["product"]}
            if kind == "bought_product"
            else {p for p, c in world["product_category"].items() if c == condition["category"]}
        )
        times = sum(
            1
            for purchase in bought
            if in_window(purchase["utc"], condition["days"])
            and any(line[0] in wanted for line in purchase["lines"])
        )
        result = times >= condition["times"]
    elif kind in ("purchase_count", "total_spent"):
        inside = [p for p in bought if in_window(p["utc"], condition["days"])]
        value = (
            len(inside)
            if kind == "purchase_count"
            else sum(amount for p in inside for _product, amount in p["lines"])
        )
        limit = condition["count" if kind == "purchase_count" else "amount"]
        result = value >= limit if condition["op"] == "at_least" else value <= limit
    elif kind == "days_since_last_purchase":
        if not bought:
            result = False
        else:
            since = (TODAY - local_day(max(p["utc"] for p in bought))).days
            days = condition["days"]
            result = since >= days if condition["op"] == "at_least" else since <= days
    elif kind == "first_purchase":
        if not bought:
            result = False
        else:
            first = local_day(min(p["utc"] for p in bought))
            if condition["when"] == "within_days":
                result = (TODAY - first).days <= condition["days"]
            elif condition["when"] == "before":
                result = first < date.fromisoformat(condition["date"])
            else:
                result = first >= date.fromisoformat(condition["date"])
    elif kind == "contact":
        result = bool(person["email"] if condition["channel"] == "email" else person["phone"])
    elif kind == "consent":
        result = person["email_consent"] == condition["state"]
    else:
        raise AssertionError(kind)
    return result != bool(condition.get("not"))


def matches(node: dict, person: dict, bought: list[dict], world: dict) -> bool:
    if "match" not in node:
        return holds(node, person, bought, world)
    results = [matches(item, person, bought, world) for item in node["items"]]
    if node["match"] == "all":
        return all(results)
    if node["match"] == "any":
        return any(results)
    return not any(results)


# ---- the comparison ---------------------------------------------------------------------------------


def _fill(db, data: ShopData) -> dict:
    for table in ("purchase_line", "purchase", "customer_tag", "customer_field_value",
                  "custom_field", "customer", "product", "category", "tag"):  # fmt: skip
        db.execute_sql(f"DELETE FROM {table}")
    categories = [Category.create(name=f"Cat {i}").id for i in range(2)]
    products = [Product.create(name=f"P{i}", category=categories[i % 2]).id for i in range(3)]
    tags = [Tag.create(name=f"T{i}").id for i in range(2)]
    size = CustomField.create(name="Talla", kind="text").id
    made = []
    for person in data.customers:
        values = {k: v for k, v in person.items() if k not in ("tags", "size")}
        customer_id = Customer.create(last_name="X", **values).id
        if person["size"] is not None:
            CustomerFieldValue.create(customer=customer_id, field=size, value=person["size"])
        for tag in person["tags"]:
            CustomerTag.create(customer=customer_id, tag=tags[tag])
        made.append(customer_id)
    for purchase in data.purchases:
        purchase["utc"] = (
            purchase["local"].replace(tzinfo=BOGOTA).astimezone(UTC).replace(tzinfo=None)
        )
        lines = [
            (products[p] if p is not None else None, amount) for p, amount in purchase["lines"]
        ]
        buy(made[purchase["customer"]], purchase["utc"], *lines)
    return {
        "ids": made,
        "products": products,
        "categories": categories,
        "tags": tags,
        "fields": [size],
        "product_category": {0: 0, 1: 1, 2: 0},
    }


def _to_stored(node: dict, world: dict) -> dict:
    """The rule with indexes into the random shop replaced by real ids."""
    if "match" in node:
        return {"match": node["match"], "items": [_to_stored(i, world) for i in node["items"]]}
    stored = dict(node)
    if node["type"] == "tag":
        stored["tag"] = world["tags"][node["tag"]]
    if node["type"] == "custom_field":
        stored["field"] = world["fields"][node["field"]]
    if node["type"] == "bought_product":
        stored["product"] = world["products"][node["product"]]
    if node["type"] == "bought_category":
        stored["category"] = world["categories"][node["category"]]
    return stored


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])  # fmt: skip
@given(data=shops(), nodes=st.lists(groups, min_size=10, max_size=10))
def test_sql_and_slow_python_evaluation_agree(shop, data, nodes):
    """Each random shop is asked ten random rules."""
    with shop.atomic() as transaction:
        world = _fill(shop, data)
        answers = []
        for node in nodes:
            top = node if "match" in node else {"match": "all", "items": [node]}
            stored = {"version": 1, "rule": _to_stored(top, world)}
            by_sql = rule_customer_ids(shop, stored, clock=CLOCK)
            expected = [
                customer_id
                for index, customer_id in enumerate(world["ids"])
                if matches(
                    top,
                    data.customers[index],
                    [p for p in data.purchases if p["customer"] == index],
                    world,
                )
            ]
            answers.append((top, by_sql, expected))
        transaction.rollback()
    for top, by_sql, expected in answers:
        assert by_sql == expected, top
