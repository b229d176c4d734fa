"""Duplicates are found, merged with their whole history, and the merge can be undone."""

from __future__ import annotations

from datetime import datetime

import pytest

from smbcrm.core.errors import UserError
from smbcrm.services import customers as cs
from smbcrm.services import duplicates as du
from smbcrm.services.custom_fields import add_field, set_custom_values
from smbcrm.services.timeline import timeline
from tests.conftest import make_purchase


def create(db, **fields):
    return cs.create_customer(db, cs.CustomerInput(**fields), region="CO")


def pairs(db):
    return {(p.first.id, p.second.id): p.reason for p in du.find_duplicates(db)}


def test_same_email_same_phone_and_similar_names_in_one_city(shop):
    a = create(shop, first_name="Ana", last_name="Gómez", email="ana@example.com", city="Cali")
    b = create(shop, first_name="Anita", email="ana@example.com")
    c = create(shop, first_name="Luis", phone="300 111 2222")
    d = create(shop, first_name="Luis Eduardo", phone="+57 3001112222")
    e = create(shop, first_name="Jhon Jairo", last_name="Ramírez", city="Pereira")
    f = create(shop, first_name="John Jairo", last_name="Ramirez", city="pereira")
    create(shop, first_name="John Jairo", last_name="Ramirez", city="Bogotá")  # another city
    assert pairs(shop) == {(a, b): "email", (c, d): "phone", (e, f): "name"}
    du.dismiss_duplicate(shop, f, e)
    assert (e, f) not in pairs(shop)


def test_merge_moves_everything_and_undo_puts_it_back(shop):
    keep = create(shop, first_name="Ana", last_name="Gómez", email="ana@example.com",
                  phone="300 111 2222", code="C1")  # fmt: skip
    other = create(shop, first_name="Ana María", last_name="Gómez", email="anamaria@example.com",
                   city="Medellín", code="C2")  # fmt: skip
    make_purchase(cs_customer(keep), (10_000,))
    make_purchase(cs_customer(other), (25_000, 5_000), when=datetime(2026, 3, 1))
    cs.add_note(shop, other, "Le gusta el café de Huila")
    cs.record_consent(shop, other, "granted", method="form", source="papel")
    cs.set_tags(shop, keep, ["VIP"])
    cs.set_tags(shop, other, ["VIP", "Vecino"])
    field = add_field(shop, "Talla", "text")
    set_custom_values(shop, other, {field: "M"})

    merge = du.merge_customers(shop, keep, other, ("first_name", "city", "code"))

    kept = cs.customer_detail(shop, keep)
    assert (kept.first_name, kept.city, kept.code, kept.email) == (
        "Ana María", "Medellín", "C2", "ana@example.com"
    )  # fmt: skip
    assert kept.purchase_count == 2 and kept.total_spent == 40_000
    assert kept.tags == ("Vecino", "VIP")
    assert kept.custom_values == {field: "M"}
    assert kept.email_consent == "granted" or kept.consent_history
    assert [r.id for r in cs.search(shop, "huila")] == [keep]
    assert cs.customer_ids(shop, cs.CustomerQuery()) == [keep]
    for table in ("purchase", "activity", "consent_event", "customer_tag", "customer_field_value"):
        left = shop.execute_sql(f"SELECT COUNT(*) FROM {table} WHERE customer_id = ?", (other,))
        assert left.fetchone()[0] == 0, table
    events = timeline(shop, keep)
    assert events[0].kind == "merge" and events[0].undo_merge_id == merge

    assert du.undo_merge(shop, merge) == other
    kept, restored = cs.customer_detail(shop, keep), cs.customer_detail(shop, other)
    assert (kept.first_name, kept.city, kept.code) == ("Ana", "", "C1")
    assert (restored.first_name, restored.code, restored.merged_into_id) == (
        "Ana María",
        "C2",
        None,
    )
    assert (kept.purchase_count, restored.purchase_count) == (1, 1)
    assert kept.tags == ("VIP",) and restored.tags == ("Vecino", "VIP")
    assert restored.custom_values == {field: "M"} and kept.custom_values == {}
    assert [r.id for r in cs.search(shop, "huila")] == [other]
    assert sorted(cs.customer_ids(shop, cs.CustomerQuery())) == [keep, other]
    assert timeline(shop, keep)[0].kind == "merge_undone"
    with pytest.raises(UserError, match="already undone"):
        du.undo_merge(shop, merge)


def test_merge_refuses_nonsense(shop):
    a = create(shop, first_name="Ana")
    with pytest.raises(UserError):
        du.merge_customers(shop, a, a)
    with pytest.raises(UserError):
        du.merge_customers(shop, a, 999)


def cs_customer(customer_id):
    from smbcrm.models.tables import Customer

    return Customer.get_by_id(customer_id)
