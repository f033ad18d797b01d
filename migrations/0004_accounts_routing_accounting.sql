-- Several accounts per provider, routing state that must survive a restart,
-- prices, quota limits, and a fuller request log.

-- An account (connection) of a provider: its own secret, priority and switch.
CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    -- Unique within the provider; shown in lists, logs and usage.
    label       TEXT    NOT NULL,
    -- Secret: the upstream API key.
    api_key     TEXT    NOT NULL,
    -- Lower goes first under the priority strategy.
    priority    INTEGER NOT NULL DEFAULT 0,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    UNIQUE (provider_id, label)
) STRICT;

INSERT INTO accounts (provider_id, label, api_key, priority, enabled, created_at)
    SELECT id, 'default', api_key, 0, 1, created_at FROM providers;

ALTER TABLE providers DROP COLUMN api_key;
-- How requests pick among the provider's accounts: 'priority', 'round-robin'
-- or 'sticky'; NULL follows the global setting.
ALTER TABLE providers ADD COLUMN account_strategy TEXT;

-- A combo's strategy: 'fallback', 'round-robin' or 'weighted'. Targets become
-- objects {"target", "weight", "enabled"}; a target is `prefix/model`, an
-- alias or another combo's name.
ALTER TABLE combos ADD COLUMN strategy TEXT NOT NULL DEFAULT 'fallback';
UPDATE combos SET targets = (
    SELECT json_group_array(json_object('target', value, 'weight', 1, 'enabled', json('true')))
    FROM json_each(combos.targets)
);

-- Short names for a `prefix/model` or a combo.
CREATE TABLE aliases (
    name        TEXT    PRIMARY KEY,
    target      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- Accounts skipped until `until`: whole accounts (model '') or one model of
-- an account (per-model lockout). `failures` drives the exponential back-off.
CREATE TABLE cooldowns (
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    model       TEXT    NOT NULL DEFAULT '',
    until       INTEGER NOT NULL,
    failures    INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    PRIMARY KEY (account_id, model)
) STRICT;

-- Prices in USD per million tokens, overriding the built-in table. `model`
-- is an upstream model id ('gpt-4o-mini') or a 'prefix/model'.
CREATE TABLE prices (
    model               TEXT PRIMARY KEY,
    input_per_mtok      REAL NOT NULL,
    output_per_mtok     REAL NOT NULL,
    cache_read_per_mtok REAL,
    cache_write_per_mtok REAL
) STRICT;

-- Local quota limits per account and window ('5h', 'day', 'week', 'month').
CREATE TABLE quota_limits (
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    window      TEXT    NOT NULL,
    -- 'requests' or 'tokens'.
    metric      TEXT    NOT NULL,
    max         INTEGER NOT NULL,
    PRIMARY KEY (account_id, window, metric)
) STRICT;

-- What providers last reported about an account's rate limits (headers).
CREATE TABLE reported_quotas (
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- 'requests' or 'tokens'.
    metric      TEXT    NOT NULL,
    remaining   INTEGER NOT NULL,
    max         INTEGER,
    reset_at    INTEGER,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, metric)
) STRICT;

-- The request log gains the client's dialect, the combo, the answering
-- account and target, cached and reasoning tokens, cost and time to first
-- byte. `attempts` now holds every attempt, the final one included (rows
-- written before this migration hold only the failed ones).
ALTER TABLE requests RENAME COLUMN failed_attempts TO attempts;
ALTER TABLE requests ADD COLUMN dialect TEXT;
ALTER TABLE requests ADD COLUMN combo TEXT;
ALTER TABLE requests ADD COLUMN target TEXT;
ALTER TABLE requests ADD COLUMN account_id INTEGER;
ALTER TABLE requests ADD COLUMN account TEXT;
ALTER TABLE requests ADD COLUMN cached_tokens INTEGER;
ALTER TABLE requests ADD COLUMN reasoning_tokens INTEGER;
ALTER TABLE requests ADD COLUMN cost_usd REAL;
ALTER TABLE requests ADD COLUMN ttfb_ms INTEGER;
CREATE INDEX requests_by_account ON requests (account_id, started_at);

-- Full bodies of recent requests, only when the log_bodies setting is on.
CREATE TABLE request_bodies (
    request_id  INTEGER PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    request     TEXT,
    response    TEXT
) STRICT;
