-- Server mode: the dashboard password, browser sessions, one-time sign-in
-- links, management tokens for `--remote`, and the record of management
-- calls. Tokens and session ids are stored as SHA-256 hashes only.
CREATE TABLE dashboard_password (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    argon2_hash TEXT NOT NULL,
    set_at INTEGER NOT NULL
);

CREATE TABLE dashboard_sessions (
    id_hash TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE signin_links (
    token_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE TABLE management_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);

CREATE TABLE management_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    operation TEXT NOT NULL,
    detail TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX management_log_at ON management_log (at);
