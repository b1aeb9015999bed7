-- Who has access (services/readmodels/access/projection.py): one row per person's account and per
-- system's API token, from their events. Never a password, a secret or a digest: those live beside
-- the event store (account_credentials, api_tokens), not in any event.
CREATE TABLE rm_access_people (
    username text PRIMARY KEY,
    display_name text NOT NULL,
    search_text text NOT NULL,          -- username and display name, lower case, without diacritics
    agency text,                        -- null: a ministry account
    roles text[] NOT NULL,
    enabled boolean NOT NULL,
    disabled_reason text,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    changed_at timestamptz NOT NULL,    -- the last change of any kind
    changed_by text NOT NULL,
    last_change text NOT NULL,          -- its event type
    password_set_at timestamptz,
    position bigint NOT NULL
);
CREATE INDEX ON rm_access_people (agency, username);

CREATE TABLE rm_access_tokens (
    token text PRIMARY KEY,             -- the token's public name (its subject)
    label text NOT NULL,
    search_text text NOT NULL,
    role text NOT NULL,
    agency text,
    issued_at timestamptz NOT NULL,
    issued_by text NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz,
    revoked_by text,
    revoke_reason text,
    position bigint NOT NULL
);
CREATE INDEX ON rm_access_tokens (agency, token);
