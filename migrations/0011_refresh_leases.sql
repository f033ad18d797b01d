-- Who is refreshing an account's OAuth tokens: one process (replica) at a
-- time, so a provider that rotates refresh tokens never sees one used twice.
-- A lease ends when its holder stores the new tokens, or at `until`
-- (Unix milliseconds) if the holder died.
CREATE TABLE refresh_leases (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    holder     TEXT    NOT NULL,
    until      INTEGER NOT NULL
) STRICT;
