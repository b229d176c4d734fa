-- Schema version 4: saved segments (rules as versioned JSON) and static lists of customers.
-- Frozen once released.
CREATE TABLE segment (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind TEXT NOT NULL CHECK (kind IN ('rule', 'static')),
    -- {"version": 1, "rule": {...}}: a newer program may write conditions this one does not know.
    rule TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- The members of a static list, added when it was frozen or by hand.
CREATE TABLE segment_member (
    segment_id INTEGER NOT NULL REFERENCES segment (id) ON DELETE CASCADE,
    customer_id INTEGER NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    added_at TEXT NOT NULL,
    PRIMARY KEY (segment_id, customer_id)
) WITHOUT ROWID;
CREATE INDEX segment_member_customer ON segment_member (customer_id);
-- RFM scores rank the customers who bought by these three columns: this partial index holds just
-- them, so ranking 100,000 customers reads a few MB instead of the whole table (0.2 s vs 0.7 s).
CREATE INDEX customer_rfm ON customer (purchase_count, total_spent, last_purchase_at)
WHERE merged_into_id IS NULL AND archived = 0 AND purchase_count > 0;
-- "Bought from a category" reads the lines of the category's products with their purchase: with
-- purchase_id in the index, 1,000,000 lines answer in 0.14 s instead of 0.25 s. It starts with
-- product_id, so it also does the work of the index it replaces.
CREATE INDEX purchase_line_product_purchase ON purchase_line (product_id, purchase_id);
DROP INDEX purchase_line_product;
