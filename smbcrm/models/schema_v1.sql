-- Schema version 1: frozen. Later versions change it only through new numbered migrations.
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE setting (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE customer (
    id INTEGER PRIMARY KEY,
    code TEXT UNIQUE,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    email TEXT,
    phone TEXT NOT NULL DEFAULT '',
    phone_e164 TEXT,
    city TEXT NOT NULL DEFAULT '',
    region TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL DEFAULT '',
    birthday TEXT,
    notes TEXT NOT NULL DEFAULT '',
    email_consent TEXT NOT NULL DEFAULT 'unknown'
        CHECK (email_consent IN ('unknown', 'granted', 'withdrawn')),
    archived INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX customer_email ON customer (email);
CREATE INDEX customer_phone_e164 ON customer (phone_e164);
CREATE TABLE tag (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE customer_tag (
    customer_id INTEGER NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tag (id) ON DELETE CASCADE,
    PRIMARY KEY (customer_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX customer_tag_tag ON customer_tag (tag_id);
CREATE TABLE category (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE product (
    id INTEGER PRIMARY KEY,
    sku TEXT UNIQUE,
    name TEXT NOT NULL,
    category_id INTEGER REFERENCES category (id) ON DELETE SET NULL,
    price INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX product_category ON product (category_id);
CREATE TABLE purchase (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customer (id) ON DELETE SET NULL,
    purchased_at TEXT NOT NULL,
    total INTEGER NOT NULL,
    currency TEXT NOT NULL,
    reference TEXT,
    source TEXT NOT NULL DEFAULT ''
);
-- Covers recency/frequency/value queries per customer without touching the table.
CREATE INDEX purchase_customer ON purchase (customer_id, purchased_at, total);
CREATE INDEX purchase_date ON purchase (purchased_at);
CREATE TABLE purchase_line (
    id INTEGER PRIMARY KEY,
    purchase_id INTEGER NOT NULL REFERENCES purchase (id) ON DELETE CASCADE,
    product_id INTEGER REFERENCES product (id) ON DELETE SET NULL,
    description TEXT NOT NULL DEFAULT '',
    quantity REAL NOT NULL DEFAULT 1,
    unit_price INTEGER NOT NULL,
    amount INTEGER NOT NULL
);
CREATE INDEX purchase_line_purchase ON purchase_line (purchase_id);
CREATE INDEX purchase_line_product ON purchase_line (product_id);
CREATE TABLE activity (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    occurred_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    ref_id INTEGER,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX activity_customer ON activity (customer_id, occurred_at);
