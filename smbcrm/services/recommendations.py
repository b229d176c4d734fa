"""Products a customer is likely to want, computed on this computer from the shop's own sales.

Three signals, strongest first: products bought in the same sale as what the customer bought
(by other customers), best sellers of the customer's favourite categories, best sellers of
the shop. What the customer bought recently is left out, and archived products never appear."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta

from peewee import SqliteDatabase

from smbcrm.core.dates import utc_now

PARTNERS_PER_PRODUCT = 12
BESTSELLERS = 30


@dataclass(frozen=True)
class Recommendation:
    product_id: int
    name: str
    category: str
    price: int  # minor units


_CACHE: dict[str, tuple[tuple, Recommender]] = {}


def shop_recommender(db: SqliteDatabase) -> Recommender:
    """The shop's recommender, built again only when sales or products changed."""
    version = tuple(
        db.execute_sql(
            "SELECT (SELECT MAX(id) FROM purchase), (SELECT COUNT(*) FROM purchase), "
            "(SELECT MAX(id) FROM product), (SELECT COUNT(*) FROM product WHERE archived = 0), "
            "date('now')"
        ).fetchone()
    )
    cached = _CACHE.get(str(db.database))
    if cached is not None and cached[0] == version:
        return cached[1]
    recommender = Recommender(db)
    _CACHE[str(db.database)] = (version, recommender)
    return recommender


class Recommender:
    """Built once for a campaign (one pass over the last year's sales), then asked per customer."""

    def __init__(
        self, db: SqliteDatabase, *, history_days: int = 365, recent_days: int = 90
    ) -> None:
        self.db = db
        now = utc_now()
        self._since = str(now - timedelta(days=history_days))
        self._recent = str(now - timedelta(days=recent_days))
        self._products = {
            product_id: Recommendation(product_id, name, category or "", price)
            for product_id, name, category, price in db.execute_sql(
                "SELECT p.id, p.name, c.name, p.price FROM product p "
                "LEFT JOIN category c ON c.id = p.category_id WHERE p.archived = 0"
            )
        }
        self._category_of = {
            product_id: category_id
            for product_id, category_id in db.execute_sql(
                "SELECT id, category_id FROM product WHERE archived = 0"
            )
        }
        self._partners = self._bought_together()
        self._bestsellers, self._by_category = self._best_sellers()
        # Category best sellers rank below any bought-together signal, above the shop's list.
        floor = 1.0 / (BESTSELLERS + 1)
        self._category_scores = {
            category: {
                product: floor * (BESTSELLERS - rank) / BESTSELLERS
                for rank, product in enumerate(products)
            }
            for category, products in self._by_category.items()
        }
        self._shop_scores = {
            product: floor * floor * (BESTSELLERS - rank) / BESTSELLERS
            for rank, product in enumerate(self._bestsellers)
        }

    def _bought_together(self) -> dict[int, list[tuple[int, int]]]:
        pairs: dict[int, Counter[int]] = defaultdict(Counter)
        rows = self.db.execute_sql(
            "SELECT a.product_id, b.product_id, COUNT(*) FROM purchase p "
            "JOIN purchase_line a ON a.purchase_id = p.id "
            "JOIN purchase_line b ON b.purchase_id = p.id AND b.product_id != a.product_id "
            "WHERE p.purchased_at >= ? AND a.product_id IS NOT NULL "
            "GROUP BY a.product_id, b.product_id",
            (self._since,),
        )
        for first, second, count in rows:
            if second in self._products:
                pairs[first][second] = count
        return {
            product: counter.most_common(PARTNERS_PER_PRODUCT) for product, counter in pairs.items()
        }

    def _best_sellers(self) -> tuple[list[int], dict[int, list[int]]]:
        overall: list[int] = []
        by_category: dict[int, list[int]] = defaultdict(list)
        rows = self.db.execute_sql(
            "SELECT l.product_id, SUM(l.quantity) AS units FROM purchase p "
            "JOIN purchase_line l ON l.purchase_id = p.id "
            "WHERE p.purchased_at >= ? AND l.product_id IS NOT NULL "
            "GROUP BY l.product_id ORDER BY units DESC",
            (self._since,),
        )
        for product_id, _units in rows:
            if product_id not in self._products:
                continue
            if len(overall) < BESTSELLERS:
                overall.append(product_id)
            category = self._category_of.get(product_id)
            if category is not None and len(by_category[category]) < BESTSELLERS:
                by_category[category].append(product_id)
        return overall, by_category

    def histories(self, customer_ids: list[int]) -> dict[int, list[tuple[int, str, int]]]:
        """(product id, last bought, times bought) per customer, for many customers at once."""
        found: dict[int, list[tuple[int, str, int]]] = {customer: [] for customer in customer_ids}
        for start in range(0, len(customer_ids), 500):
            chunk = customer_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for customer, product, last, times in self.db.execute_sql(
                f"SELECT p.customer_id, l.product_id, MAX(p.purchased_at), COUNT(*) FROM purchase p "
                f"JOIN purchase_line l ON l.purchase_id = p.id WHERE p.customer_id IN ({marks}) "
                f"AND l.product_id IS NOT NULL GROUP BY p.customer_id, l.product_id",
                chunk,
            ):
                found[customer].append((product, str(last), times))
        return found

    def for_customer(
        self, customer_id: int, count: int, history: list[tuple[int, str, int]] | None = None
    ) -> list[Recommendation]:
        count = max(0, min(int(count), 20))
        if not count or not self._products:
            return []
        bought = self.histories([customer_id])[customer_id] if history is None else history
        recent = {product for product, last, _times in bought if last >= self._recent}
        scores: Counter[int] = Counter(self._shop_scores)
        categories: Counter[int] = Counter()
        for product, _last, times in bought:
            for partner, together in self._partners.get(product, ()):
                scores[partner] += together * times
            category = self._category_of.get(product)
            if category is not None:
                categories[category] += times
        for rank_of_category, (category, _n) in enumerate(categories.most_common(2)):
            for product, score in self._category_scores.get(category, {}).items():
                scores[product] += score / (1 + rank_of_category)
        candidates = (
            (score, product)
            for product, score in scores.items()
            if product not in recent and product in self._products
        )
        best = heapq.nsmallest(count, candidates, key=lambda item: (-item[0], item[1]))
        return [self._products[product] for _score, product in best]
