-- As SQLite's 0011: one refresher per account at a time, across replicas.
CREATE TABLE refresh_leases (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    holder     TEXT   NOT NULL,
    until      BIGINT NOT NULL
);
