-- Per-agency report view: the current value of each indicator of a period.
CREATE TABLE rm_report_values (
    agency text NOT NULL,
    period text NOT NULL,
    indicator text NOT NULL,
    value jsonb NOT NULL,
    revision integer NOT NULL,  -- 1 for the first value, +1 per correction
    actor text NOT NULL,
    role text NOT NULL,
    recorded_at timestamptz NOT NULL,
    event_id uuid NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (agency, period, indicator)
);

-- Highest applied position per agency: one agency's events are applied in order,
-- so every event of that agency up to this position is visible.
CREATE TABLE rm_agency_positions (
    agency text PRIMARY KEY,
    position bigint NOT NULL
);
