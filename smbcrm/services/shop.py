"""Opening and closing the shop file, and the shop at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from peewee import SqliteDatabase, fn

from smbcrm.core.dates import utc_now
from smbcrm.core.i18n import set_message_locale
from smbcrm.models.database import ShopDatabase, open_database
from smbcrm.models.migrations import MIGRATIONS, Migration
from smbcrm.models.tables import Category, Customer, Product, Purchase, PurchaseLine
from smbcrm.services.backup import create_backup
from smbcrm.services.settings import shop_profile


def _backup_before_migration(db: SqliteDatabase, version: int) -> None:
    create_backup(db, "before-migration")


def open_shop(path: Path | str, *, migrations: tuple[Migration, ...] = MIGRATIONS) -> ShopDatabase:
    """Open the shop file (creating it if new), with a backup before any schema upgrade.
    Numbers in messages follow the shop's country from then on."""
    db = open_database(path, before_migrate=_backup_before_migration, migrations=migrations)
    set_message_locale(shop_profile(db).locale)
    return db


@dataclass(frozen=True)
class ShopSummary:
    customers: int
    customers_with_consent: int
    products: int
    categories: int
    purchases: int
    purchase_lines: int
    revenue_last_12_months: int  # minor units


def shop_summary(db: SqliteDatabase) -> ShopSummary:
    year_ago = utc_now() - timedelta(days=365)
    active = Customer.select().where(~Customer.archived)
    return ShopSummary(
        customers=active.count(),
        customers_with_consent=active.where(
            Customer.email.is_null(False) & (Customer.email_consent == "granted")
        ).count(),
        products=Product.select().count(),
        categories=Category.select().count(),
        purchases=Purchase.select().count(),
        purchase_lines=PurchaseLine.select().count(),
        revenue_last_12_months=Purchase.select(fn.COALESCE(fn.SUM(Purchase.total), 0))
        .where(Purchase.purchased_at >= year_ago)
        .scalar(),
    )
