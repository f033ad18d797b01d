-- Webhooks: where events go (signed with HMAC-SHA256 by a sealed secret),
-- and every delivery with its attempts and outcome.
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    format TEXT NOT NULL,
    events TEXT,
    sealed_secret TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    status INTEGER,
    outcome TEXT NOT NULL,
    error TEXT
);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
