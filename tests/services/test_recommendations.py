"""Recommendations from the shop's own sales: bought together first, then the customer's
categories, then the shop's best sellers; recent purchases and archived products left out."""

from __future__ import annotations

from datetime import datetime, timedelta

from smbcrm.models.tables import Category, Product, Purchase, PurchaseLine
from smbcrm.services.recommendations import Recommender
from tests.conftest import make_customer


def sale(customer, products, days_ago):
    purchase = Purchase.create(
        customer=customer, purchased_at=datetime.now() - timedelta(days=days_ago),
        total=1000 * len(products), currency="COP",
    )  # fmt: skip
    for product in products:
        PurchaseLine.create(purchase=purchase, product=product, unit_price=1000, amount=1000)


def catalogue():
    shoes, food = Category.create(name="Calzado"), Category.create(name="Despensa")
    names = {"tenis": shoes, "medias": shoes, "sandalias": shoes, "cafe": food, "arroz": food,
             "viejo": food}  # fmt: skip
    return {name: Product.create(name=name, category=category, price=5000)
            for name, category in names.items()}  # fmt: skip


def names(recommendations):
    return [r.name for r in recommendations]


def test_products_bought_together_come_first_and_recent_ones_are_left_out(shop):
    p = catalogue()
    for n in range(4):  # others buy tenis with medias
        sale(make_customer(email=f"o{n}@example.com"), [p["tenis"], p["medias"]], days_ago=10)
    sale(make_customer(email="x@example.com"), [p["cafe"], p["arroz"]], days_ago=5)
    ana = make_customer(email="ana@example.com")
    sale(ana, [p["tenis"]], days_ago=200)
    luis = make_customer(email="luis@example.com")
    sale(luis, [p["tenis"]], days_ago=2)
    recommender = Recommender(shop)
    assert names(recommender.for_customer(ana.id, 1)) == ["medias"]
    luis_picks = names(recommender.for_customer(luis.id, 3))
    assert luis_picks[0] == "medias" and "tenis" not in luis_picks  # bought two days ago


def test_a_new_customer_gets_the_best_sellers_and_archived_products_never_appear(shop):
    p = catalogue()
    for n in range(3):
        sale(make_customer(email=f"o{n}@example.com"), [p["cafe"], p["viejo"]], days_ago=20)
    sale(make_customer(email="z@example.com"), [p["arroz"]], days_ago=20)
    Product.update(archived=True).where(Product.id == p["viejo"].id).execute()
    nobody = make_customer(email="new@example.com")
    picks = names(Recommender(shop).for_customer(nobody.id, 3))
    assert picks[:2] == ["cafe", "arroz"] and "viejo" not in picks


def test_an_empty_shop_recommends_nothing(shop):
    assert Recommender(shop).for_customer(make_customer().id, 3) == []
