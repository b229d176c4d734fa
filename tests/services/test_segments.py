"""Segments: every condition type against hand-built histories with known answers, built-in
segments, static lists, bad input that must never crash, and the team's entry points."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from smbcrm.core.errors import UserError
from smbcrm.models.tables import Category, Customer, CustomField, Product, Segment, Tag
from smbcrm.services import segments as sg
from smbcrm.services.custom_fields import add_field, delete_field, set_custom_values
from smbcrm.services.customers import CustomerQuery, customer_ids, delete_tag, set_tags
from smbcrm.services.segment_rules import CONDITION_TYPES, Clock
from smbcrm.services.settings import save_settings
from tests.services.segment_helpers import (
    BOGOTA,
    CLOCK,
    TODAY,
    buy,
    clock_at,
    customer,
    local_noon,
    product,
    rule,
    utc_of,
)


def ids(db, stored, clock=CLOCK) -> list[int]:
    return sg.rule_customer_ids(db, stored, clock=clock)


def one(db, condition, clock=CLOCK) -> list[int]:
    return ids(db, rule(condition), clock)


# ---- profile, place, tags, custom fields --------------------------------------------------------


def test_profile_field_equals_contains_empty_and_in_list_ignore_case(shop):
    ana = customer("Ana", city="Bogotá", email="ana@gmail.com")
    luis = customer("Luis", city="Medellín", email=None)
    eva = customer("Eva", city="Cali", code="C-7")
    place = {"type": "place", "field": "city"}
    assert one(shop, {**place, "op": "in", "values": ["Bogotá", "medellín"]}) == [ana, luis]
    assert one(shop, {**place, "op": "in", "values": ["Bogotá", "Pasto"]}) == [ana]
    assert one(shop, {**place, "op": "equals", "value": "cali"}) == [eva]
    assert one(shop, {**place, "op": "in", "values": []}) == []
    email = {"type": "profile", "field": "email"}
    assert one(shop, {**email, "op": "contains", "value": "GMAIL"}) == [ana]
    assert one(shop, {**email, "op": "empty"}) == [luis]
    assert one(shop, {**email, "op": "empty", "not": True}) == [ana, eva]
    assert one(shop, {"type": "profile", "field": "code", "op": "equals", "value": "c-7"}) == [eva]


def test_tags_and_custom_fields(shop):
    ana, luis, eva = customer("Ana"), customer("Luis"), customer("Eva")
    set_tags(shop, ana, ["VIP"])
    set_tags(shop, luis, ["vecino"])
    vip = Tag.get(Tag.name == "VIP").id
    assert one(shop, {"type": "tag", "tag": vip}) == [ana]
    assert one(shop, {"type": "tag", "tag": vip, "not": True}) == [luis, eva]
    size = add_field(shop, "Talla", "choice", ["S", "M", "L"])
    set_custom_values(shop, ana, {size: "M"})
    set_custom_values(shop, luis, {size: "L"})
    field = {"type": "custom_field", "field": size}
    assert one(shop, {**field, "op": "equals", "value": "m"}) == [ana]
    assert one(shop, {**field, "op": "in", "values": ["M", "L"]}) == [ana, luis]
    assert one(shop, {**field, "op": "empty"}) == [eva]
    assert one(shop, {**field, "op": "contains", "value": "l"}) == [luis]


def test_contact_and_consent(shop):
    ana = customer("Ana", phone="300 123 4567", email_consent="granted")
    luis = customer("Luis", email=None, email_consent="unknown")
    eva = customer("Eva", email_consent="withdrawn")
    assert one(shop, {"type": "contact", "channel": "email"}) == [ana, eva]
    assert one(shop, {"type": "contact", "channel": "phone"}) == [ana]
    assert one(shop, {"type": "consent", "state": "granted"}) == [ana]
    assert one(shop, {"type": "consent", "state": "unknown"}) == [luis]
    assert one(shop, {"type": "consent", "state": "withdrawn", "not": True}) == [ana, luis]


# ---- birthdays -------------------------------------------------------------------------------


def test_birthday_within_the_next_days_includes_today_and_the_last_day(shop):
    today = customer("Hoy", birthday=date(1990, 11, 22))
    in_week = customer("Semana", birthday=date(1985, 11, 29))
    after = customer("Despues", birthday=date(1985, 11, 30))
    yesterday = customer("Ayer", birthday=date(1985, 11, 21))
    customer("Sin")
    condition = {"type": "birthday", "when": "next_days", "days": 7}
    assert one(shop, condition) == [today, in_week]
    assert one(shop, {**condition, "days": 0}) == [today]
    assert sorted(one(shop, {**condition, "not": True})) == sorted(
        [after, yesterday, Customer.get(Customer.first_name == "Sin").id]
    )


def test_birthday_window_across_the_new_year(shop):
    new_year = customer("Enero", birthday=date(1970, 1, 2))
    december = customer("Diciembre", birthday=date(1970, 12, 30))
    customer("Marzo", birthday=date(1970, 3, 2))
    clock = clock_at(datetime(2026, 12, 28, 9, 0))
    assert one(shop, {"type": "birthday", "when": "next_days", "days": 7}, clock) == [
        new_year,
        december,
    ]


def test_birthday_on_29_february_is_celebrated_on_the_28th_in_other_years(shop):
    leapling = customer("Bisiesto", birthday=date(1988, 2, 29))
    condition = {"type": "birthday", "when": "next_days", "days": 3}
    assert one(shop, condition, clock_at(datetime(2027, 2, 25, 10, 0))) == [leapling]
    # In a leap year the 29th exists: three days from the 25th end on the 28th.
    assert one(shop, condition, clock_at(datetime(2028, 2, 25, 10, 0))) == []
    assert one(shop, {**condition, "days": 4}, clock_at(datetime(2028, 2, 25, 10, 0))) == [leapling]
    assert one(shop, {"type": "birthday", "when": "month", "month": 2}) == [leapling]


# ---- purchases ------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(shop):
    return {
        "tenis": product("Tenis", "Calzado"),
        "botas": product("Botas", "Calzado"),
        "cafe": product("Café", "Café"),
    }


def test_bought_a_product_or_category_ever_in_a_window_and_at_least_n_times(shop, catalogue):
    ana, luis, eva, nadie = customer("Ana"), customer("Luis"), customer("Eva"), customer("Nadie")
    buy(ana, local_noon(TODAY - timedelta(days=10)), (catalogue["tenis"], 100_000_00))
    buy(ana, local_noon(TODAY - timedelta(days=200)), (catalogue["botas"], 200_000_00))
    buy(luis, local_noon(TODAY - timedelta(days=400)), (catalogue["tenis"], 100_000_00))
    buy(eva, local_noon(TODAY), (catalogue["cafe"], 20_000_00), (catalogue["cafe"], 1_00))
    calzado = Category.get(Category.name == "Calzado").id
    category = {"type": "bought_category", "category": calzado, "times": 1}
    assert one(shop, {**category, "days": 0}) == [ana, luis]
    assert one(shop, {**category, "days": 180}) == [ana]
    assert one(shop, {**category, "days": 0, "times": 2}) == [ana]
    assert one(shop, {**category, "days": 180, "times": 2}) == []
    assert one(shop, {**category, "days": 30, "not": True}) == [luis, eva, nadie]
    tenis = {"type": "bought_product", "product": catalogue["tenis"], "times": 1}
    assert one(shop, {**tenis, "days": 0}) == [ana, luis]
    # Two lines of the same product in one purchase are one time.
    cafe = {"type": "bought_product", "product": catalogue["cafe"], "days": 0}
    assert one(shop, {**cafe, "times": 2}) == []
    assert one(shop, {**cafe, "times": 1, "days": 0}) == [eva]


def test_windows_include_today_and_count_local_days(shop, catalogue):
    today = customer("Hoy")
    edge = customer("Borde")
    before = customer("Antes")
    buy(today, local_noon(TODAY), (catalogue["tenis"], 1_00))
    # 90 local days ago, late in the evening: in the window.
    buy(edge, utc_of(datetime(2026, 8, 24, 23, 30)), (catalogue["tenis"], 1_00))
    # 23:30 the day before that: out, although in UTC it is already 24 August.
    late = utc_of(datetime(2026, 8, 23, 23, 30))
    assert late.date() == date(2026, 8, 24)
    buy(before, late, (catalogue["tenis"], 1_00))
    condition = {"type": "bought_product", "product": catalogue["tenis"], "times": 1, "days": 90}
    assert one(shop, condition) == [today, edge]
    assert one(shop, {**condition, "days": 1}) == [today]
    assert one(shop, {"type": "purchase_count", "op": "at_least", "count": 1, "days": 90}) == [
        today,
        edge,
    ]


def test_the_same_stored_time_falls_on_the_local_day_of_the_shop_zone(shop, catalogue):
    ana = customer("Ana")
    # 2026-11-22 03:30 UTC is 21 November 22:30 in Bogotá but 22 November in Madrid.
    buy(ana, datetime(2026, 11, 22, 3, 30), (catalogue["tenis"], 1_00))
    condition = {"type": "days_since_last_purchase", "op": "at_least", "days": 1}
    assert one(shop, condition) == [ana]
    from zoneinfo import ZoneInfo

    madrid = Clock(now_utc=datetime(2026, 11, 22, 17, 0), zone=ZoneInfo("Europe/Madrid"))
    assert one(shop, condition, madrid) == []


def test_number_of_purchases_and_total_spent_in_a_window(shop):
    ana, luis, nadie = customer("Ana"), customer("Luis"), customer("Nadie")
    for days in (5, 50, 500):
        buy(ana, local_noon(TODAY - timedelta(days=days)), (None, 300_000_00))
    buy(luis, local_noon(TODAY - timedelta(days=1)), (None, 600_000_00))
    count = {"type": "purchase_count", "op": "at_least"}
    assert one(shop, {**count, "count": 2, "days": 0}) == [ana]
    assert one(shop, {**count, "count": 2, "days": 30}) == []
    assert one(shop, {**count, "count": 1, "days": 30}) == [ana, luis]
    at_most = {"type": "purchase_count", "op": "at_most"}
    assert one(shop, {**at_most, "count": 0, "days": 30}) == [nadie]
    assert one(shop, {**at_most, "count": 1, "days": 0}) == [luis, nadie]
    spent = {"type": "total_spent", "op": "at_least", "amount": 500_000_00}
    assert one(shop, {**spent, "days": 365}) == [ana, luis]
    assert one(shop, {**spent, "days": 30}) == [luis]
    assert one(shop, {**spent, "days": 0}) == [ana, luis]
    assert one(shop, {"type": "total_spent", "op": "at_most", "amount": 0, "days": 365}) == [nadie]


def test_days_since_last_purchase_and_first_purchase(shop):
    recent, old, nadie = customer("Reciente"), customer("Viejo"), customer("Nadie")
    buy(recent, local_noon(TODAY - timedelta(days=3)))
    buy(recent, local_noon(TODAY - timedelta(days=400)))
    buy(old, local_noon(TODAY - timedelta(days=100)))
    since = {"type": "days_since_last_purchase"}
    assert one(shop, {**since, "op": "at_least", "days": 100}) == [old]
    assert one(shop, {**since, "op": "at_least", "days": 101}) == []
    assert one(shop, {**since, "op": "at_most", "days": 3}) == [recent]
    assert one(shop, {**since, "op": "at_most", "days": 2}) == []
    # Never bought: no "days since", in either direction.
    assert nadie not in one(shop, {**since, "op": "at_least", "days": 0})
    first = {"type": "first_purchase"}
    assert one(shop, {**first, "when": "within_days", "days": 100}) == [old]
    assert one(shop, {**first, "when": "before", "date": "2026-01-01"}) == [recent]
    assert one(shop, {**first, "when": "on_or_after", "date": "2026-01-01"}) == [old]


def test_customers_with_no_purchases_and_purchases_of_nobody(shop):
    nadie = customer("Nadie")
    buy(None, local_noon(TODAY))  # a sale to nobody in particular
    assert one(shop, {"type": "purchase_count", "op": "at_least", "count": 1, "days": 0}) == []
    assert one(shop, {"type": "total_spent", "op": "at_most", "amount": 0, "days": 30}) == [nadie]


# ---- groups, nesting, not -----------------------------------------------------------------------


def test_nested_groups_with_any_all_and_none(shop):
    ana = customer("Ana", city="Bogotá", email_consent="granted")
    luis = customer("Luis", city="Cali", email_consent="granted")
    eva = customer("Eva", city="Cali", email_consent="withdrawn")
    bogota = {"type": "place", "field": "city", "op": "in", "values": ["Bogotá"]}
    granted = {"type": "consent", "state": "granted"}
    cali = {"type": "place", "field": "city", "op": "equals", "value": "Cali"}
    nested = rule(granted, {"match": "any", "items": [bogota, {"match": "none", "items": [cali]}]})
    assert ids(shop, nested) == [ana]
    either = rule(bogota, {"match": "all", "items": [cali, granted]}, match="any")
    assert ids(shop, either) == [ana, luis]
    assert ids(shop, rule(bogota, cali, match="none")) == []
    assert ids(shop, rule()) == [ana, luis, eva]  # all of nothing: everyone
    assert ids(shop, rule(match="any")) == []
    negated = {"match": "any", "not": True, "items": [bogota, cali]}
    assert ids(shop, rule(negated)) == [] and ids(shop, rule(granted, negated)) == []
    assert ids(shop, rule({"match": "all", "not": True, "items": [bogota]})) == [luis, eva]
    assert ids(shop, rule({"match": "any", "not": True, "items": []})) == [ana, luis, eva]


def test_archived_and_merged_customers_are_never_members(shop):
    ana = customer("Ana")
    customer("Archivada", archived=True)
    customer("Fusionada", merged_into=ana)
    assert ids(shop, rule()) == [ana]


# ---- bad input ------------------------------------------------------------------------------------


def test_a_deleted_product_tag_field_or_segment_matches_nobody_and_is_reported(shop, catalogue):
    ana = customer("Ana")
    buy(ana, local_noon(TODAY), (catalogue["tenis"], 1_00))
    set_tags(shop, ana, ["VIP"])
    vip = Tag.get(Tag.name == "VIP").id
    field = add_field(shop, "Talla", "text")
    set_custom_values(shop, ana, {field: "M"})
    other = sg.save_segment(shop, "Otro", rule())
    stored = rule(
        {"type": "bought_product", "product": catalogue["tenis"], "times": 1, "days": 0},
        {"type": "tag", "tag": vip},
        {"type": "custom_field", "field": field, "op": "equals", "value": "M"},
        {"type": "segment", "segment": f"segment-{other}"},
        match="any",
    )
    assert ids(shop, stored) == [ana]
    Product.delete().where(Product.id == catalogue["tenis"]).execute()
    delete_tag(shop, vip)
    delete_field(shop, field)
    sg.delete_segment(shop, other)
    result = sg.count_rule(shop, stored, clock=CLOCK)
    assert result.count == 0
    assert [problem.path for problem in result.problems] == [(0,), (1,), (2,), (3,)]
    assert "deleted" in result.problems[0].message
    # "not" of a condition that matches nobody is everyone: the rule still means something.
    negated = rule({"type": "tag", "tag": vip, "not": True})
    assert ids(shop, negated) == [ana]


def test_rules_from_a_newer_version_and_broken_values_open_without_crashing(shop):
    ana = customer("Ana")
    stored = {
        "version": 7,
        "rule": {
            "match": "all",
            "items": [
                {"type": "survey_answer", "survey": 3, "answer": "yes"},
                {"type": "birthday", "when": "next_days", "days": "soon"},
                "nonsense",
                {"match": "sometimes", "items": []},
            ],
        },
    }
    result = sg.count_rule(shop, stored, clock=CLOCK)
    assert result.count == 0
    paths = [problem.path for problem in result.problems]
    assert paths == [(), (0,), (1,), (2,), (3,)]
    saved = sg.save_segment(shop, "Del futuro", stored)
    assert sg.segment_detail(shop, f"segment-{saved}").rule["rule"]["items"][0]["type"] == (
        "survey_answer"
    )
    # Unreadable rules match nobody, never everyone: a damaged file must not mail the shop.
    assert sg.count_rule(shop, {"version": "x", "rule": []}, clock=CLOCK).count == 0
    Segment.update(rule="{not json").where(Segment.id == saved).execute()
    assert sg.segment_customer_ids(shop, "Del futuro") == []
    assert [s.count for s in sg.list_segments(shop) if s.name == "Del futuro"] == [0]
    sg.save_segment(shop, "Todos", rule())  # an empty rule, on purpose: everyone
    assert sg.segment_customer_ids(shop, "Todos") == [ana]


def test_a_segment_that_refers_to_itself_matches_nobody_for_that_part(shop):
    ana = customer("Ana")
    first = sg.save_segment(shop, "Uno", rule())
    second = sg.save_segment(shop, "Dos", rule({"type": "segment", "segment": f"segment-{first}"}))
    sg.save_segment(shop, "Uno", rule({"type": "segment", "segment": f"segment-{second}"}), first)
    assert sg.segment_customer_ids(shop, "Uno") == []
    assert sg.segment_customer_ids(shop, "Dos") == []
    assert ana


# ---- built-in segments ----------------------------------------------------------------------------


def test_built_in_activity_segments_follow_the_owner_settings(shop):
    new = customer("Nueva")
    active = customer("Activa")
    risk = customer("Riesgo")
    lapsed = customer("Pasiva")
    never = customer("Nunca")
    buy(new, local_noon(TODAY - timedelta(days=5)))
    buy(active, local_noon(TODAY - timedelta(days=60)))
    buy(active, local_noon(TODAY - timedelta(days=40)))
    buy(risk, local_noon(TODAY - timedelta(days=120)))
    buy(lapsed, local_noon(TODAY - timedelta(days=181)))
    members = {key: sg.segment_customer_ids(shop, key, clock=CLOCK) for key in
               ("new", "active", "at_risk", "lapsed")}  # fmt: skip
    assert members == {
        "new": [new],
        "active": [new, active],
        "at_risk": [risk],
        "lapsed": [lapsed],
    }
    assert never not in sum(members.values(), [])
    save_settings(shop, segment_lapsed_days=100, segment_active_days=30)
    assert sg.segment_customer_ids(shop, "lapsed", clock=CLOCK) == [risk, lapsed]
    assert sg.segment_customer_ids(shop, "at_risk", clock=CLOCK) == [active]
    counts = sg.builtin_counts(shop, clock=CLOCK)
    for key in sg.BUILTIN_BY_KEY:
        assert counts[key] == len(sg.segment_customer_ids(shop, key, clock=CLOCK)), key


def test_top_customers_and_value_tiers_by_12_month_spend(shop):
    spenders = [customer(f"C{index}") for index in range(20)]
    for index, customer_id in enumerate(spenders):
        buy(customer_id, local_noon(TODAY - timedelta(days=30)), (None, (index + 1) * 100_000_00))
    buy(spenders[0], local_noon(TODAY - timedelta(days=400)), (None, 9_000_000_00))  # too old
    assert sg.segment_customer_ids(shop, "top", clock=CLOCK) == spenders[18:]  # best 10%
    save_settings(shop, tier_silver=1_000_000, tier_gold=1_500_000, tier_platinum=1_900_000)
    assert sg.segment_customer_ids(shop, "tier_platinum", clock=CLOCK) == spenders[18:]
    assert sg.segment_customer_ids(shop, "tier_gold", clock=CLOCK) == spenders[14:18]
    assert sg.segment_customer_ids(shop, "tier_silver", clock=CLOCK) == spenders[9:14]
    counts = sg.tier_counts(shop, clock=CLOCK)
    assert counts == {"tier_platinum": 2, "tier_gold": 4, "tier_silver": 5}


def test_rfm_scores_fill_a_grid_whose_groups_partition_the_buyers(shop):
    buyers = []
    for index in range(25):
        customer_id = customer(f"R{index}")
        buyers.append(customer_id)
        for visit in range(index % 5 + 1):
            buy(customer_id, local_noon(TODAY - timedelta(days=index * 20 + visit)),
                (None, (index % 7 + 1) * 10_000_00))  # fmt: skip
    customer("Nunca")
    grid = sg.rfm_grid(shop)
    assert sum(grid.cells.values()) == 25
    assert sum(grid.groups.values()) == 25
    members = [sg.segment_customer_ids(shop, key) for key in sg.RFM_GROUPS]
    assert sorted(sum(members, [])) == buyers
    for (recency, value), count in grid.cells.items():
        assert len(sg.segment_customer_ids(shop, f"rfm_cell_{recency}_{value}")) == count
    # The most recent, most frequent, biggest spender is a champion; the opposite is lost.
    assert sg.rfm_group(5, 5) == "rfm_champions" and sg.rfm_group(1, 1) == "rfm_lost"


def test_rfm_scores_match_a_ranking_by_hand(shop):
    """Scores are the share of buyers with a smaller value, in fifths; ties share a score."""
    spent = [10, 20, 30, 40, 50, 60]
    made = []
    for index, amount in enumerate(spent):
        customer_id = customer(f"M{index}")
        buy(customer_id, local_noon(TODAY - timedelta(days=10)), (None, amount * 100))
        made.append(customer_id)
    bounds = sg.rfm_bounds(shop)
    # n = 6: positions ceil(k * 5 / 5) = k; money scores 1, 2, 3, 4, 5, 5.
    assert bounds["m"] == [1000, 2000, 3000, 4000]
    assert bounds["f"] == [1, 1, 1, 1]  # everyone bought once: all tie at score 1


# ---- saving, static lists, tagging, entry points -------------------------------------------------


def test_list_segments_and_the_entry_points_for_campaigns(shop):
    ana = customer("Ana", city="Bogotá")
    customer("Luis", city="Cali")
    saved = sg.save_segment(shop, "Bogotanos", rule(
        {"type": "place", "field": "city", "op": "in", "values": ["Bogotá"]}))  # fmt: skip
    found = {s.name: s for s in sg.list_segments(shop)}
    assert found["Bogotanos"] == sg.SegmentSummary(
        saved, f"segment-{saved}", "Bogotanos", 1, False, False, "saved"
    )
    assert found["Lapsed"].builtin and found["Lapsed"].key == "lapsed"
    assert sg.segment_customer_ids(shop, "bogotanos") == [ana]
    assert sg.segment_customer_ids(shop, f"segment-{saved}") == [ana]
    sql, params = sg.segment_sql(shop, "Bogotanos")
    assert sql.startswith("SELECT c.id")
    inside = shop.execute_sql(f"SELECT id FROM customer WHERE id IN ({sql})", params).fetchall()
    assert inside == [(ana,)]
    with pytest.raises(UserError, match="no segment called “Nada”"):
        sg.segment_customer_ids(shop, "Nada")
    with pytest.raises(UserError, match="built-in"):
        sg.save_segment(shop, "lapsed", rule())
    with pytest.raises(UserError, match="already"):
        sg.save_segment(shop, "BOGOTANOS", rule())


def test_built_in_names_are_found_in_spanish_too(shop):
    from smbcrm.core.i18n import set_language

    set_language("es")
    names = {s.key: s.name for s in sg.list_segments(shop)}
    assert names["lapsed"] == "Inactivos"
    assert sg.segment_customer_ids(shop, "inactivos") == []
    assert sg.segment_customer_ids(shop, "Lapsed") == []
    set_language("en")
    assert sg.segment_customer_ids(shop, "Campeones") == []  # a script written in Spanish
    with pytest.raises(UserError, match="built-in"):
        sg.save_segment(shop, "Campeones", rule())


def test_freeze_a_segment_as_a_static_list_and_change_it_by_hand(shop):
    ana = customer("Ana", city="Bogotá")
    luis = customer("Luis", city="Cali")
    sg.save_segment(shop, "Bogotanos", rule(
        {"type": "place", "field": "city", "op": "in", "values": ["Bogotá"]}))  # fmt: skip
    frozen = sg.freeze_segment(shop, "Bogotanos", "Bogotanos de noviembre")
    eva = customer("Eva", city="Bogotá")
    assert sg.segment_customer_ids(shop, "Bogotanos") == [ana, eva]
    assert sg.segment_customer_ids(shop, "Bogotanos de noviembre") == [ana]
    assert sg.add_to_list(shop, frozen, [luis, ana]) == 1
    assert sg.remove_from_list(shop, frozen, [ana]) == 1
    assert sg.segment_customer_ids(shop, f"segment-{frozen}") == [luis]
    summary = next(s for s in sg.list_segments(shop) if s.id == frozen)
    assert summary.static and summary.count == 1
    with pytest.raises(UserError):
        sg.add_to_list(shop, 9999, [ana])


def test_tag_every_member_and_filter_the_customer_list_by_a_segment(shop):
    ana = customer("Ana", city="Bogotá")
    luis = customer("Luis", city="Bogotá")
    customer("Eva", city="Cali")
    sg.save_segment(shop, "Bogotanos", rule(
        {"type": "place", "field": "city", "op": "in", "values": ["Bogotá"]}))  # fmt: skip
    set_tags(shop, ana, ["Bogotá"])
    assert sg.tag_segment_members(shop, "Bogotanos", "Bogotá") == 1
    bogota = Tag.get(Tag.name == "Bogotá").id
    assert customer_ids(shop, CustomerQuery(tag_ids=(bogota,))) == [ana, luis]
    assert customer_ids(shop, CustomerQuery(segment="Bogotanos")) == [ana, luis]
    with pytest.raises(UserError):
        customer_ids(shop, CustomerQuery(segment="Nada"))


def test_every_condition_type_has_defaults_that_compile(shop):
    for key, kind in CONDITION_TYPES.items():
        condition = kind.new()
        result = sg.count_rule(shop, rule(condition), clock=CLOCK)
        assert result.count == 0, key


def test_saved_rules_are_versioned_json(shop):
    saved = sg.save_segment(shop, "Cumpleañeros", rule({"type": "birthday", "when": "month",
                                                         "month": 5}))  # fmt: skip
    stored = json.loads(Segment.get_by_id(saved).rule)
    assert stored["version"] == 1
    assert stored["rule"]["items"][0] == {"type": "birthday", "when": "month", "month": 5}
    assert CustomField.select().count() == 0
    assert BOGOTA


def test_the_segments_of_a_released_shop_file_open_after_an_upgrade(tmp_path):
    import shutil
    from pathlib import Path

    from smbcrm.services.shop import open_shop

    path = tmp_path / "shop.db"
    shutil.copy(Path(__file__).parent.parent / "fixtures" / "schema_v4.db", path)
    db = open_shop(path)
    try:
        found = {s.name: s.count for s in sg.list_segments(db) if not s.builtin}
        assert found == {"Lista de Navidad": 1, "Medellín sin VIP": 1}
    finally:
        db.close_for_good()


def test_a_list_member_merged_into_another_customer_stays_on_the_list_as_that_customer(shop):
    from smbcrm.services.duplicates import merge_customers, undo_merge

    ana, copy_of_ana = customer("Ana"), customer("Ana2")
    only = {"type": "profile", "field": "first_name", "op": "equals", "value": "Ana2"}
    sg.save_segment(shop, "Solo Ana2", rule(only))
    list_id = sg.freeze_segment(shop, "Solo Ana2", "Lista")
    assert sg.segment_customer_ids(shop, f"segment-{list_id}") == [copy_of_ana]
    merge = merge_customers(shop, ana, copy_of_ana)
    assert sg.segment_customer_ids(shop, f"segment-{list_id}") == [ana]
    undo_merge(shop, merge)
    assert sg.segment_customer_ids(shop, f"segment-{list_id}") == [copy_of_ana]


def test_windows_follow_summer_time_in_the_shop_zone():
    from zoneinfo import ZoneInfo

    santiago = ZoneInfo("America/Santiago")  # UTC-3 in summer, UTC-4 in winter
    clock = clock_at(datetime(2026, 11, 22, 12, 0), santiago)
    assert clock.today() == date(2026, 11, 22)
    assert clock.start_of(date(2026, 11, 22)) == "2026-11-22 03:00:00"
    assert clock.start_of(date(2026, 7, 1)) == "2026-07-01 04:00:00"
    assert clock.since_days(144) == "2026-07-01 04:00:00"


def test_a_condition_on_another_segment_built_in_or_saved(shop):
    buyer, other = customer("Compradora"), customer("Otra", city="Cali")
    buy(buyer, local_noon(TODAY - timedelta(days=2)))
    assert one(shop, {"type": "segment", "segment": "active"}) == [buyer]
    assert one(shop, {"type": "segment", "segment": "active", "not": True}) == [other]
    cali = sg.save_segment(shop, "Cali", rule({"type": "place", "field": "city", "op": "in",
                                               "values": ["Cali"]}))  # fmt: skip
    assert one(shop, {"type": "segment", "segment": f"segment-{cali}"}) == [other]
    # One buyer alone ranks lowest on every score (nobody bought less).
    assert one(shop, {"type": "segment", "segment": "rfm_lost"}) == [buyer]
