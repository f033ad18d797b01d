-- Combos: a named, ordered list of `prefix/model` targets tried in turn.

CREATE TABLE combos (
    id          INTEGER PRIMARY KEY,
    -- Used as a model name by clients; never contains '/'.
    name        TEXT    NOT NULL UNIQUE,
    -- JSON array of `prefix/model` targets, in fallback order.
    targets     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
