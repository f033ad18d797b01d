-- Keys as policies: budgets in USD per UTC day, ISO week and calendar month
-- with a warning threshold, and requests and tokens per minute. NULL: no limit.
ALTER TABLE api_keys ADD COLUMN budget_day_usd REAL;
ALTER TABLE api_keys ADD COLUMN budget_week_usd REAL;
ALTER TABLE api_keys ADD COLUMN budget_month_usd REAL;
ALTER TABLE api_keys ADD COLUMN budget_warn_percent INTEGER;
ALTER TABLE api_keys ADD COLUMN requests_per_minute INTEGER;
ALTER TABLE api_keys ADD COLUMN tokens_per_minute INTEGER;
CREATE INDEX IF NOT EXISTS requests_api_key_started ON requests (api_key_id, started_at);
