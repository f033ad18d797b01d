-- Provider connections, local API keys, settings and the request log.
-- Timestamps are Unix milliseconds (UTC).

CREATE TABLE providers (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    -- Wire format and auth style of the upstream, e.g. 'openai_compatible'.
    kind        TEXT    NOT NULL,
    -- Clients address this provider's models as '<prefix>/<model>'.
    prefix      TEXT    NOT NULL UNIQUE,
    base_url    TEXT    NOT NULL,
    api_key     TEXT    NOT NULL,
    -- JSON array of upstream model ids listed in /v1/models.
    models      TEXT    NOT NULL DEFAULT '[]',
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    -- SHA-256 of the key, hex; the key itself is shown once and never stored.
    key_hash    TEXT    NOT NULL UNIQUE,
    -- The first characters of the key, to tell keys apart in lists.
    key_hint    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

CREATE TABLE settings (
    key         TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL
) STRICT;

CREATE TABLE requests (
    id                 INTEGER PRIMARY KEY,
    started_at         INTEGER NOT NULL,
    api_key_id         INTEGER,
    endpoint           TEXT    NOT NULL,
    -- The model as the client named it, e.g. 'openai/gpt-4o-mini'.
    model              TEXT    NOT NULL,
    -- Provider name at the time of the request (kept if the provider is removed).
    provider           TEXT,
    status             INTEGER NOT NULL,
    stream             INTEGER NOT NULL,
    latency_ms         INTEGER NOT NULL,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER
) STRICT;

CREATE INDEX requests_by_time ON requests (started_at);
