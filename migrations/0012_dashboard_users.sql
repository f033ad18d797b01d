-- People who sign in to a served dashboard by name: admins manage
-- everything, members only the API keys they own and those keys' usage.
CREATE TABLE dashboard_users (
    name        TEXT    PRIMARY KEY,
    argon2_hash TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    created_at  INTEGER NOT NULL
) STRICT;

-- The member a session belongs to (NULL: an administrator's session).
ALTER TABLE dashboard_sessions ADD COLUMN member TEXT;
