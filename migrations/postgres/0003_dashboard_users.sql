-- As SQLite's 0012: named dashboard users with roles.
CREATE TABLE dashboard_users (
    name        TEXT   PRIMARY KEY,
    argon2_hash TEXT   NOT NULL,
    role        TEXT   NOT NULL CHECK (role IN ('admin', 'member')),
    created_at  BIGINT NOT NULL
);

ALTER TABLE dashboard_sessions ADD COLUMN member TEXT;
