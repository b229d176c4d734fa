"""Builders for segment tests: a fixed clock in Bogotá, customers, products and purchases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from smbcrm.models.tables import Category, Customer, Product, Purchase, PurchaseLine
from smbcrm.services.segment_rules import Clock

BOGOTA = ZoneInfo("America/Bogota")  # UTC-5 all year
# Sunday 22 November 2026, noon in Bogotá.
NOW = datetime(2026, 11, 22, 17, 0)
TODAY = date(2026, 11, 22)


def clock_at(local: datetime, zone=BOGOTA) -> Clock:
    """A clock whose local time in zone is local."""
    utc = local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    return Clock(now_utc=utc, zone=zone)


CLOCK = Clock(now_utc=NOW, zone=BOGOTA)


def utc_of(local: datetime, zone=BOGOTA) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def local_noon(day: date) -> datetime:
    return utc_of(datetime.combine(day, time(12)))


def customer(first: str = "Ana", **fields) -> int:
    values = {"first_name": first, "last_name": "Test", "email": f"{first.lower()}@example.com"}
    values.update(fields)
    return Customer.create(**values).id


def product(name: str, category: str | None = None, price: int = 1_000_00) -> int:
    category_id = Category.get_or_create(name=category)[0].id if category else None
    return Product.create(name=name, category=category_id, price=price).id


def buy(customer_id: int | None, when_utc: datetime, *lines: tuple[int | None, int]) -> int:
    """A purchase at when_utc (stored UTC) with (product id, amount) lines."""
    lines = lines or ((None, 10_000_00),)
    purchase = Purchase.create(
        customer=customer_id,
        purchased_at=when_utc,
        total=sum(amount for _product, amount in lines),
        currency="COP",
    )
    for product_id, amount in lines:
        PurchaseLine.create(purchase=purchase, product=product_id, unit_price=amount, amount=amount)
    return purchase.id


def rule(*items, match: str = "all") -> dict:
    return {"version": 1, "rule": {"match": match, "items": list(items)}}
