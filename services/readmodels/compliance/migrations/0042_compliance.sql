-- Compliance board (services/readmodels/compliance/projection.py): one row per submission
-- (agency x month), from SubmissionOpened and the lifecycle events.
CREATE TABLE rm_compliance (
    agency text NOT NULL,
    period text NOT NULL,
    status text NOT NULL,            -- draft, submitted, approved, returned, reopened, recalled
    template text,
    template_version integer,
    opened_at timestamptz,
    deadline date,
    times_submitted integer NOT NULL,
    first_submitted_at timestamptz,
    first_late boolean,              -- timeliness is judged on the first submission
    first_days_late integer,
    last_submitted_at timestamptz,
    last_late boolean,
    last_days_late integer,
    approved_at timestamptz,
    returned_at timestamptz,
    reopened_at timestamptz,
    position bigint NOT NULL,
    PRIMARY KEY (agency, period)
);
CREATE INDEX ON rm_compliance (period);
