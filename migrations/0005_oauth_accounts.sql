-- Subscription (OAuth) accounts. For these, accounts.api_key holds the
-- current access token (sealed like every secret).

-- 'api_key' or 'oauth'.
ALTER TABLE accounts ADD COLUMN auth TEXT NOT NULL DEFAULT 'api_key';
-- Sealed refresh token of an OAuth account.
ALTER TABLE accounts ADD COLUMN refresh_token TEXT;
-- When the access token expires, Unix milliseconds.
ALTER TABLE accounts ADD COLUMN expires_at INTEGER;
-- A refresh failed for good: the user must log in again; routing skips it.
ALTER TABLE accounts ADD COLUMN needs_login INTEGER NOT NULL DEFAULT 0;
-- Who the account belongs to, when the provider says (shown, and used to
-- update rather than duplicate an account on a second login).
ALTER TABLE accounts ADD COLUMN email TEXT;
-- Provider-specific facts learnt at login, JSON: ChatGPT account id, Qwen
-- resource URL, ...
ALTER TABLE accounts ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';

-- The subscription service whose conventions requests to this provider
-- follow ('claude-code', 'codex', 'github-copilot', 'qwen'); NULL for plain
-- API-key providers.
ALTER TABLE providers ADD COLUMN subscription TEXT;

-- What a subscription service's usage endpoint last said about an account:
-- one row per window ('five_hour', 'seven_day', 'monthly_premium', ...).
CREATE TABLE service_quotas (
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    window       TEXT    NOT NULL,
    used_percent REAL    NOT NULL,
    resets_at    INTEGER,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, window)
) STRICT;
