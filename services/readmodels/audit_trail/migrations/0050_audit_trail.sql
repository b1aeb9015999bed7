-- Audit trail read model (docs/AUDIT.md): one row per event of the log, in global order.
-- The filterable fields are columns; `canonical` holds the event's canonical integration-event bytes,
-- exactly what the transparency log hashes, so every row can be checked against a signed checkpoint.
CREATE TABLE rm_audit_trail (
    position bigint PRIMARY KEY,        -- global position (event store notification id)
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    agency text,
    period text,
    indicator text,
    actor text,
    role text,
    occurred_at timestamptz NOT NULL,
    canonical bytea NOT NULL
);
-- Keyset paging is on position; each filter has an index that yields positions in order.
CREATE INDEX rm_audit_trail_agency_idx ON rm_audit_trail (agency, period, position);
CREATE INDEX rm_audit_trail_indicator_idx ON rm_audit_trail (indicator, position);
CREATE INDEX rm_audit_trail_actor_idx ON rm_audit_trail (actor, position);
CREATE INDEX rm_audit_trail_type_idx ON rm_audit_trail (event_type, position);
CREATE INDEX rm_audit_trail_time_idx ON rm_audit_trail (occurred_at);
CREATE INDEX rm_audit_trail_event_idx ON rm_audit_trail (event_id);
