-- Keys created in the desktop app keep a sealed (AES-256-GCM) copy of the
-- key so the tray and the dashboard can copy it again later; keys created
-- with the CLI stay hash-only. NULL: no copy kept.
ALTER TABLE api_keys ADD COLUMN sealed_key TEXT;
