-- Schema version 5: email accounts, templates, campaigns and the persistent outbox.
-- Frozen once released. Passwords are never stored here: they live in the OS keyring.
CREATE TABLE email_account (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    provider TEXT NOT NULL DEFAULT 'custom',
    host TEXT NOT NULL,
    port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    security TEXT NOT NULL CHECK (security IN ('starttls', 'tls', 'none')),
    username TEXT NOT NULL DEFAULT '',
    from_name TEXT NOT NULL DEFAULT '',
    from_address TEXT NOT NULL,
    reply_to TEXT,
    per_minute INTEGER,
    per_hour INTEGER,
    per_day INTEGER,
    -- An account-level refusal (quota, password) holds every campaign of the account until then.
    held_until TEXT,
    hold_reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

-- Every message handed to the server through an account, campaigns and test sends alike:
-- the provider's limits are counted over these rows, so they hold across restarts.
CREATE TABLE account_send (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES email_account (id) ON DELETE CASCADE,
    sent_at TEXT NOT NULL
);
CREATE INDEX account_send_time ON account_send (account_id, sent_at);

CREATE TABLE mail_template (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    subject TEXT NOT NULL,
    body_html TEXT NOT NULL,
    marketing INTEGER NOT NULL DEFAULT 1,
    builtin_key TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE campaign (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    template_id INTEGER REFERENCES mail_template (id) ON DELETE SET NULL,
    account_id INTEGER REFERENCES email_account (id) ON DELETE SET NULL,
    audience TEXT NOT NULL,
    -- The template as it was when the campaign was queued: later edits do not change it.
    subject TEXT NOT NULL DEFAULT '',
    body_html TEXT NOT NULL DEFAULT '',
    marketing INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'draft'
        CHECK (state IN ('draft', 'queued', 'paused', 'finished', 'cancelled')),
    pause_reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    queued_at TEXT,
    finished_at TEXT
);

-- One row per (campaign, customer). 'sent' is written only after the server's 250 reply;
-- 'sending' is written durably before the message leaves, so a crash leaves evidence.
CREATE TABLE outbox_message (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    customer_id INTEGER REFERENCES customer (id) ON DELETE SET NULL,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN
        ('queued', 'sending', 'sent', 'deferred', 'failed', 'uncertain', 'suppressed')),
    -- While 'sending': 1 once the message data may have reached the server.
    handed_over INTEGER NOT NULL DEFAULT 0,
    -- While 'sending': the computer's boot moment when the row was claimed (see services).
    claimed_boot TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    email TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    server_reply TEXT NOT NULL DEFAULT '',
    message_id TEXT,
    sent_at TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (campaign_id, customer_id)
);
CREATE INDEX outbox_message_state ON outbox_message (campaign_id, state, next_attempt_at);
CREATE INDEX outbox_message_customer ON outbox_message (customer_id, sent_at);
