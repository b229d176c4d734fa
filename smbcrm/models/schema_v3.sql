-- Schema version 3: imports that can be undone, saved column mappings, and purchase lines that
-- remember which file row they came from, so importing the same file twice adds nothing twice.
CREATE TABLE import_batch (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('customers', 'purchases', 'vcard')),
    file_name TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    rows INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    undone_at TEXT
);
-- One row per customer the import created or changed; "previous" holds what undo puts back.
CREATE TABLE import_change (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES import_batch (id) ON DELETE CASCADE,
    customer_id INTEGER NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('created', 'updated')),
    previous TEXT
);
CREATE INDEX import_change_batch ON import_change (batch_id);
ALTER TABLE purchase ADD COLUMN import_batch_id INTEGER REFERENCES import_batch (id) ON DELETE SET NULL;
CREATE INDEX purchase_import_batch ON purchase (import_batch_id);
ALTER TABLE purchase_line ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX purchase_line_import_key ON purchase_line (import_key) WHERE import_key IS NOT NULL;
ALTER TABLE consent_event ADD COLUMN import_batch_id INTEGER REFERENCES import_batch (id) ON DELETE SET NULL;
CREATE TABLE saved_mapping (
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    mapping TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
