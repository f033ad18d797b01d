-- Sync across a user's devices through a hub (a Switchyard they own).

-- On a device: its link to a hub (at most one).
CREATE TABLE sync_link (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    hub_url         TEXT    NOT NULL,
    space_id        TEXT    NOT NULL,
    device_id       TEXT    NOT NULL,
    device_name     TEXT    NOT NULL,
    -- The device credential, sealed.
    token           TEXT    NOT NULL,
    -- End-to-end mode: the key derived from the passphrase, sealed.
    e2e_key         TEXT,
    -- The hub version this device has pulled up to.
    cursor          INTEGER NOT NULL DEFAULT 0,
    linked_at       INTEGER NOT NULL,
    last_sync_at    INTEGER,
    -- synced, syncing, offline, conflict, revoked.
    state           TEXT    NOT NULL DEFAULT 'syncing',
    last_error      TEXT,
    -- The newest hub conflict this device has announced.
    conflicts_seen  INTEGER NOT NULL DEFAULT 0,
    open_conflicts  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- On a device: per record, the hub version and the content (hashed) it
-- last agreed with the hub; a different content now is a local change.
CREATE TABLE sync_seen (
    kind     TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    hash     TEXT    NOT NULL,
    PRIMARY KEY (kind, name)
) STRICT;

-- On a hub: linked devices (tokens as SHA-256 hashes).
CREATE TABLE sync_devices (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER,
    revoked_at    INTEGER
) STRICT;

-- On a hub: one-time pairing codes (hashed).
CREATE TABLE sync_pairing_codes (
    code_hash   TEXT    PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_by     TEXT
) STRICT;

-- On a hub: the version counter and, in end-to-end mode, the passphrase's
-- salt and a check value sealed with the derived key.
CREATE TABLE sync_space (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    -- Random, made once: a device finding another one knows the hub was reset.
    space_id   TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    e2e_salt   TEXT,
    e2e_check  TEXT
) STRICT;

-- On a hub: every synced record's newest version; body sealed (NULL: deleted).
CREATE TABLE sync_items (
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    body        TEXT,
    device_id   TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
) STRICT;
CREATE INDEX sync_items_by_version ON sync_items (version);

-- On a hub: concurrent edits; the losing value kept (sealed) for restore.
CREATE TABLE sync_conflicts (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    winner_version  INTEGER NOT NULL,
    winner_device   TEXT    NOT NULL,
    loser_device    TEXT    NOT NULL,
    loser_body      TEXT,
    at              INTEGER NOT NULL,
    resolved_at     INTEGER
) STRICT;

-- On a hub: who refreshes an account's tokens now.
CREATE TABLE sync_leases (
    subject    TEXT    PRIMARY KEY,
    device_id  TEXT    NOT NULL,
    until      INTEGER NOT NULL
) STRICT;

-- On a hub: pushes already taken (a replayed push is refused).
CREATE TABLE sync_requests (
    request_id  TEXT    PRIMARY KEY,
    at          INTEGER NOT NULL
) STRICT;

-- On a hub: each device's usage summary per UTC day and model.
CREATE TABLE sync_usage (
    device_id          TEXT    NOT NULL,
    day                TEXT    NOT NULL,
    model              TEXT    NOT NULL,
    requests           INTEGER NOT NULL,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    cost_usd           REAL    NOT NULL,
    PRIMARY KEY (device_id, day, model)
) STRICT;
