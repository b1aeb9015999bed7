-- Token revocation through the admin API (services/ingest/tokens_api.py): who revoked a token.
-- Revocation takes effect on the next request: every request looks its token up (infra/tokens.py).
-- The admin listing pages on `subject`, which is already unique (and so indexed).
ALTER TABLE api_tokens ADD COLUMN revoked_by text;
