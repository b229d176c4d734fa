-- Schema version 2: customers' search index, totals, custom fields, consent evidence,
-- suppression list, merges (with undo) and dismissed duplicate pairs. Frozen once released.
-- (customer.phone_digits is added by the migration step itself, which fills it.)
ALTER TABLE customer ADD COLUMN merged_into_id INTEGER REFERENCES customer (id) ON DELETE SET NULL;
ALTER TABLE customer ADD COLUMN purchase_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customer ADD COLUMN total_spent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customer ADD COLUMN last_purchase_at TEXT;
-- The default order of the customer list, covering: listing 100,000 ids reads only this index.
CREATE INDEX customer_list_name
ON customer (archived, first_name COLLATE NOCASE, last_name COLLATE NOCASE)
WHERE merged_into_id IS NULL;
CREATE INDEX customer_city ON customer (city COLLATE NOCASE);
CREATE INDEX customer_last_purchase ON customer (last_purchase_at);
CREATE INDEX customer_total_spent ON customer (total_spent);
CREATE INDEX customer_merged_into ON customer (merged_into_id);

-- Totals per customer follow the purchases, whoever writes them.
CREATE TRIGGER purchase_totals_insert AFTER INSERT ON purchase WHEN NEW.customer_id IS NOT NULL
BEGIN
    UPDATE customer SET purchase_count = purchase_count + 1, total_spent = total_spent + NEW.total,
        last_purchase_at = MAX(COALESCE(last_purchase_at, ''), NEW.purchased_at)
    WHERE id = NEW.customer_id;
END;
CREATE TRIGGER purchase_totals_delete AFTER DELETE ON purchase WHEN OLD.customer_id IS NOT NULL
BEGIN
    UPDATE customer SET
        purchase_count = (SELECT COUNT(*) FROM purchase WHERE customer_id = OLD.customer_id),
        total_spent = (SELECT COALESCE(SUM(total), 0) FROM purchase WHERE customer_id = OLD.customer_id),
        last_purchase_at = (SELECT MAX(purchased_at) FROM purchase WHERE customer_id = OLD.customer_id)
    WHERE id = OLD.customer_id;
END;
CREATE TRIGGER purchase_totals_update AFTER UPDATE OF customer_id, total, purchased_at ON purchase
BEGIN
    UPDATE customer SET
        purchase_count = (SELECT COUNT(*) FROM purchase WHERE customer_id = customer.id),
        total_spent = (SELECT COALESCE(SUM(total), 0) FROM purchase WHERE customer_id = customer.id),
        last_purchase_at = (SELECT MAX(purchased_at) FROM purchase WHERE customer_id = customer.id)
    WHERE id IN (OLD.customer_id, NEW.customer_id);
END;
UPDATE customer SET
    purchase_count = (SELECT COUNT(*) FROM purchase WHERE customer_id = customer.id),
    total_spent = (SELECT COALESCE(SUM(total), 0) FROM purchase WHERE customer_id = customer.id),
    last_purchase_at = (SELECT MAX(purchased_at) FROM purchase WHERE customer_id = customer.id);

-- Full-text search over name, email, phone digits, place, tags and notes.
CREATE VIRTUAL TABLE customer_search USING fts5 (
    name, email, phone, place, tags, notes,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
CREATE VIEW customer_search_source AS
SELECT c.id AS id,
    c.first_name || ' ' || c.last_name AS name,
    COALESCE(c.email, '') AS email,
    c.phone_digits AS phone,
    c.city || ' ' || c.region AS place,
    COALESCE((SELECT group_concat(t.name, ' ') FROM customer_tag ct JOIN tag t ON t.id = ct.tag_id
              WHERE ct.customer_id = c.id), '') AS tags,
    c.notes || ' ' || COALESCE((SELECT group_concat(a.summary, ' ') FROM activity a
                                WHERE a.customer_id = c.id AND a.kind = 'note'), '') AS notes
FROM customer c;
CREATE TRIGGER customer_search_insert AFTER INSERT ON customer BEGIN
    INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes)
    SELECT * FROM customer_search_source WHERE id = NEW.id;
END;
CREATE TRIGGER customer_search_update
AFTER UPDATE OF first_name, last_name, email, phone_digits, city, region, notes ON customer BEGIN
    DELETE FROM customer_search WHERE rowid = NEW.id;
    INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes)
    SELECT * FROM customer_search_source WHERE id = NEW.id;
END;
CREATE TRIGGER customer_search_delete AFTER DELETE ON customer BEGIN
    DELETE FROM customer_search WHERE rowid = OLD.id;
END;
CREATE TRIGGER customer_search_tag_added AFTER INSERT ON customer_tag BEGIN
    DELETE FROM customer_search WHERE rowid = NEW.customer_id;
    INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes)
    SELECT * FROM customer_search_source WHERE id = NEW.customer_id;
END;
CREATE TRIGGER customer_search_tag_removed AFTER DELETE ON customer_tag BEGIN
    DELETE FROM customer_search WHERE rowid = OLD.customer_id;
    INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes)
    SELECT * FROM customer_search_source WHERE id = OLD.customer_id;
END;
CREATE TRIGGER customer_search_tag_renamed AFTER UPDATE OF name ON tag BEGIN
    DELETE FROM customer_search
    WHERE rowid IN (SELECT customer_id FROM customer_tag WHERE tag_id = NEW.id);
    INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes)
    SELECT * FROM customer_search_source
    WHERE id IN (SELECT customer_id FROM customer_tag WHERE tag_id = NEW.id);
END;
CREATE TRIGGER customer_search_note_added AFTER INSERT ON activity WHEN NEW.kind = 'note' BEGIN
    DELETE FROM customer_search WHERE rowid = NEW.customer_id;
    INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes)
    SELECT * FROM customer_search_source WHERE id = NEW.customer_id;
END;
CREATE TRIGGER customer_search_note_removed AFTER DELETE ON activity WHEN OLD.kind = 'note' BEGIN
    DELETE FROM customer_search WHERE rowid = OLD.customer_id;
    INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes)
    SELECT * FROM customer_search_source WHERE id = OLD.customer_id;
END;
CREATE TRIGGER customer_search_note_moved AFTER UPDATE OF customer_id, summary ON activity
WHEN NEW.kind = 'note' BEGIN
    DELETE FROM customer_search WHERE rowid IN (OLD.customer_id, NEW.customer_id);
    INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes)
    SELECT * FROM customer_search_source WHERE id IN (OLD.customer_id, NEW.customer_id);
END;
INSERT INTO customer_search (rowid, name, email, phone, place, tags, notes)
SELECT * FROM customer_search_source;

CREATE TABLE custom_field (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind TEXT NOT NULL CHECK (kind IN ('text', 'number', 'date', 'yesno', 'choice')),
    choices TEXT NOT NULL DEFAULT '[]',
    position INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE customer_field_value (
    customer_id INTEGER NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    field_id INTEGER NOT NULL REFERENCES custom_field (id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    PRIMARY KEY (customer_id, field_id)
) WITHOUT ROWID;
CREATE INDEX customer_field_value_field ON customer_field_value (field_id, value);

-- Consent evidence is appended, never overwritten; customer.email_consent is the latest state.
CREATE TABLE consent_event (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    channel TEXT NOT NULL DEFAULT 'email',
    state TEXT NOT NULL CHECK (state IN ('unknown', 'granted', 'withdrawn')),
    recorded_at TEXT NOT NULL,
    method TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX consent_event_customer ON consent_event (customer_id, recorded_at);

-- Addresses never to be mailed again, kept only as a hash after an erasure.
CREATE TABLE suppression (
    id INTEGER PRIMARY KEY,
    email_hash TEXT NOT NULL UNIQUE,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE customer_merge (
    id INTEGER PRIMARY KEY,
    kept_id INTEGER NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    merged_id INTEGER NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    merged_at TEXT NOT NULL,
    undo TEXT NOT NULL,
    undone_at TEXT
);
CREATE TABLE duplicate_dismissal (
    first_id INTEGER NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    second_id INTEGER NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    PRIMARY KEY (first_id, second_id)
) WITHOUT ROWID;
