"""The demo shop is realistic, repeatable, and all-or-nothing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from smbcrm.core.errors import UserError
from smbcrm.core.progress import Cancelled, CancelToken
from smbcrm.services.demo import create_demo_shop
from smbcrm.services.settings import shop_profile
from smbcrm.services.shop import shop_summary
from tests.conftest import make_customer


def scalar(db, sql):
    return db.execute_sql(sql).fetchone()[0]


def test_the_demo_shop_looks_like_a_real_colombian_shop(shop, today):
    result = create_demo_shop(shop, 1_000, seed=7, today=today)
    assert result.customers == scalar(shop, "SELECT COUNT(*) FROM customer") == 1_000
    assert 8 <= result.categories <= 12
    assert 8 <= result.purchase_lines / result.customers <= 13  # about 10 lines a customer

    with_consent = scalar(
        shop,
        "SELECT COUNT(*) FROM customer WHERE email IS NOT NULL AND email_consent = 'granted'",
    )
    assert 0.64 <= with_consent / 1_000 <= 0.76
    emails = [row[0] for row in shop.execute_sql("SELECT email FROM customer WHERE email != ''")]
    assert len(emails) == len(set(emails))
    assert all(re.fullmatch(r"[a-z0-9._]+@[a-z.]+", email) for email in emails)
    phones = [row[0] for row in shop.execute_sql("SELECT phone_e164 FROM customer")]
    assert all(phone is None or re.fullmatch(r"\+573\d{9}", phone) for phone in phones)
    assert scalar(shop, "SELECT COUNT(*) FROM customer WHERE birthday IS NOT NULL") > 700
    assert scalar(shop, "SELECT COUNT(DISTINCT city) FROM customer") >= 15
    assert scalar(shop, "SELECT COUNT(*) FROM customer_tag") > 300
    assert scalar(shop, "SELECT COUNT(*) FROM customer WHERE last_name LIKE '% %'") == 1_000

    oldest = datetime.fromisoformat(scalar(shop, "SELECT MIN(purchased_at) FROM purchase"))
    newest = datetime.fromisoformat(scalar(shop, "SELECT MAX(purchased_at) FROM purchase"))
    start_of_today = datetime.combine(today, datetime.min.time())
    assert start_of_today - timedelta(days=731) <= oldest
    assert newest <= start_of_today + timedelta(days=1)
    mismatched = scalar(
        shop,
        "SELECT COUNT(*) FROM purchase p WHERE total != "
        "(SELECT SUM(amount) FROM purchase_line l WHERE l.purchase_id = p.id)",
    )
    assert mismatched == 0
    profile = shop_profile(shop)
    assert (profile.country, profile.currency, profile.is_demo) == ("CO", "COP", True)
    assert shop_summary(shop).revenue_last_12_months > 0


def test_the_same_seed_gives_the_same_shop(tmp_path, today):
    from smbcrm.services.shop import open_shop

    dumps = []
    for name in ("a.db", "b.db"):
        db = open_shop(tmp_path / name)
        create_demo_shop(db, 200, seed=3, today=today)
        dumps.append(db.execute_sql("SELECT * FROM customer ORDER BY id").fetchall())
        db.close_for_good()
    assert dumps[0] == dumps[1]


def test_a_cancelled_demo_leaves_nothing_behind(shop):
    token = CancelToken()

    def progress(done, total, message):
        if done >= 2_000:
            token.cancel()

    with pytest.raises(Cancelled):
        create_demo_shop(shop, 5_000, progress=progress, cancel=token)
    for table in ("customer", "purchase", "purchase_line", "product", "category", "setting"):
        assert scalar(shop, f"SELECT COUNT(*) FROM {table}") == 0, table


def test_the_demo_refuses_a_shop_that_has_data(shop):
    make_customer()
    with pytest.raises(UserError, match="empty shop"):
        create_demo_shop(shop, 10)


@pytest.mark.parametrize("count", [0, -5, 10_000_000])
def test_the_demo_refuses_silly_sizes(shop, count):
    with pytest.raises(UserError, match="between 1 and"):
        create_demo_shop(shop, count)
