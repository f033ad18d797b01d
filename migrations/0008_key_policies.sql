-- Keys as policies: a key can be paused, expire, belong to an owner and be
-- limited to some models (a JSON array of patterns such as "glm/*"; NULL
-- or [] allows every model).
ALTER TABLE api_keys ADD COLUMN paused_at INTEGER;
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN owner TEXT;
ALTER TABLE api_keys ADD COLUMN allowed_models TEXT;
