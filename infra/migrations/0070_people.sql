-- People's credentials and web sessions, kept beside the event store: the events say who was given
-- access and when (docs/DECISIONS.md, *Identity*); secrets and their hashes never enter an event.

-- A person's password, hashed with argon2id; written in the same transaction as the account event
-- that set it.
CREATE TABLE account_credentials (
    username text PRIMARY KEY,
    password_hash text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Server-side web sessions. The cookie holds a random secret; only its SHA-256 is stored.
CREATE TABLE web_sessions (
    session_hash bytea PRIMARY KEY,
    username text NOT NULL,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,      -- absolute end, whatever the activity
    idle_seconds integer NOT NULL,        -- ends this long after the last request
    ended_at timestamptz                  -- signed out, signed out everywhere, or account disabled
);
CREATE INDEX ON web_sessions (username) WHERE ended_at IS NULL;

-- Failed sign-ins, per username (known or not) and per client address, for throttling.
CREATE TABLE signin_failures (
    throttle_key text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON signin_failures (throttle_key, failed_at);
