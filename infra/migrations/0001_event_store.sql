-- The system of record: the eventsourcing library's application table,
-- created here (not by the services) so that the schema is versioned.
CREATE TABLE reporting_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
) WITH (
    autovacuum_enabled = true,
    autovacuum_vacuum_threshold = 100000000,
    autovacuum_vacuum_scale_factor = 0.5,
    autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01
);
CREATE UNIQUE INDEX reporting_events_notification_id_idx
    ON reporting_events (notification_id ASC);
-- The library inserts a batch of events as one unnest() of this composite type.
CREATE TYPE stored_event_uuid AS (
    originator_id uuid,
    originator_version bigint,
    topic text,
    state bytea
);

-- Idempotency-Key records, written in the same transaction as the events they produced.
CREATE TABLE idempotency_keys (
    subject text NOT NULL,
    key text NOT NULL,
    fingerprint bytea NOT NULL,
    status_code integer NOT NULL,
    response bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, key)
);

-- Bearer tokens, stored as SHA-256 of the secret (docs/DECISIONS.md, "Identity comes from the credential").
CREATE TABLE api_tokens (
    token_hash bytea PRIMARY KEY,
    subject text NOT NULL UNIQUE,
    role text NOT NULL,
    agency text,
    label text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz
);

-- The relay's position: the last notification id the broker acknowledged,
-- overall and per partition (so that a broker that lost its log is noticed).
CREATE TABLE relay_positions (
    topic text NOT NULL,
    partition integer NOT NULL,  -- -1 is the overall cursor
    position bigint NOT NULL,    -- the last notification id acknowledged on this partition
    "offset" bigint,             -- the broker offset it was written at (to check it is still there)
    PRIMARY KEY (topic, partition)
);

-- Projector positions, written in the same transaction as the read models
-- (docs/DECISIONS.md, "Exactly-once effects in projections").
CREATE TABLE projector_positions (
    projection text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    topic_id text NOT NULL,  -- a recreated topic has a new id: its offsets mean nothing to us
    next_offset bigint NOT NULL,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);
