-- The attempts that failed before a request's final answer (combo fallbacks):
-- a JSON array of {"target", "provider", "status", "latency_ms"}; NULL when none.
ALTER TABLE requests ADD COLUMN failed_attempts TEXT;
