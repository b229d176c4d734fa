"""Privacy requests: export everything about a customer; erase without a readable trace."""

from __future__ import annotations

import csv
import json
import subprocess

from smbcrm.models.tables import Purchase
from smbcrm.services import customers as cs
from smbcrm.services.demo import create_demo_shop
from smbcrm.services.duplicates import merge_customers
from smbcrm.services.privacy import erase_customer, export_customer_data, is_suppressed
from tests.conftest import make_purchase

NAME, LAST, EMAIL, PHONE = "Zoraida", "Quiñónez Urrutia", "zoraida.qu@ejemplo.co", "311 987 6543"


def make_zoraida(db):
    customer = cs.create_customer(
        db,
        cs.CustomerInput(
            first_name=NAME,
            last_name=LAST,
            email=EMAIL,
            phone=PHONE,
            city="Quibdó",
            notes="Vive en la calle Xilófono 12",
        ),  # fmt: skip
        region="CO",
        tags=["Xiloteca"],
        consent="granted",
    )
    cs.add_note(db, customer, "Zoraida pidió torta de guanábana")
    from smbcrm.models.tables import Customer

    make_purchase(Customer.get_by_id(customer), (55_000,))
    return customer


def test_export_writes_every_personal_field_to_json_and_csv(shop, tmp_path):
    customer = make_zoraida(shop)
    exported = export_customer_data(shop, customer, tmp_path)
    data = json.loads(exported.json_path.read_text(encoding="utf-8"))
    assert data["customer"][0]["email"] == EMAIL
    assert data["tags"] == [{"customer_id": customer, "tag": "Xiloteca"}]
    assert data["purchases"][0]["total"] == 55_000
    assert any("guanábana" in row["summary"] for row in data["timeline"])
    assert data["consent"][0]["state"] == "granted"
    with exported.csv_path.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert {"section": "customer", "row": "1", "field": "phone", "value": PHONE} in rows


def grep(path, needle) -> bool:
    result = subprocess.run(["grep", "-a", "-i", "-c", needle, str(path)], capture_output=True)
    return result.returncode == 0


def test_erase_leaves_no_readable_trace_but_keeps_sales_and_a_hash(shop):
    create_demo_shop(shop, 300, seed=9)
    customer = make_zoraida(shop)
    twin = cs.create_customer(
        shop, cs.CustomerInput(first_name=NAME, email="zq.segundo@ejemplo.co"), region="CO"
    )
    merge_customers(shop, customer, twin)
    shop.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    for needle in (NAME, "Urrutia", EMAIL, "3119876543", "Xilófono", "guanábana", "zq.segundo"):
        assert grep(shop.path, needle), needle  # present before

    total_before = shop.execute_sql("SELECT SUM(total) FROM purchase").fetchone()[0]
    assert erase_customer(shop, customer) == 2

    assert shop.execute_sql("SELECT SUM(total) FROM purchase").fetchone()[0] == total_before
    assert Purchase.select().where(Purchase.customer.is_null()).count() == 1
    assert is_suppressed(shop, EMAIL.upper()) and is_suppressed(shop, "zq.segundo@ejemplo.co")
    assert cs.search(shop, "zoraida") == []
    shop.close()
    # (the tag "Xiloteca" itself stays in the shop's list of tags: it is not personal)
    for needle in (NAME, "Urrutia", EMAIL, "3119876543", "987 6543", "Xilófono", "guanábana",
                   "zq.segundo"):  # fmt: skip
        assert not grep(shop.path, needle), needle
    assert not grep(f"{shop.path}-wal", NAME)
