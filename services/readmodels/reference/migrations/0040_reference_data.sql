-- Reference data read models (services/readmodels/reference/projection.py), built from the
-- agency, catalogue, template and report-definition events: the read side never
-- reads the event store. Each row records the position of the last event that changed it.
CREATE TABLE rm_ref_agencies (
    agency text PRIMARY KEY,
    aggregate_id uuid NOT NULL UNIQUE,
    name_vi text NOT NULL,
    name_en text NOT NULL,
    names jsonb NOT NULL,         -- every name with the date it took effect, oldest first
    kind text NOT NULL,
    region text,
    parent text,
    template text,                -- the template the agency fills now
    effective_from date NOT NULL,
    effective_to date,            -- closed or merged after this day
    successor text,               -- the agency it merged into
    position bigint NOT NULL
);

CREATE TABLE rm_ref_indicators (
    indicator text PRIMARY KEY,
    name_vi text NOT NULL,
    name_en text NOT NULL,
    indicator_group text NOT NULL,
    unit text NOT NULL,
    value_type text NOT NULL,
    aggregation_time text NOT NULL,
    aggregation_agencies text NOT NULL,
    definition jsonb NOT NULL,
    position bigint NOT NULL
);

CREATE TABLE rm_ref_templates (
    template text PRIMARY KEY,
    aggregate_id uuid NOT NULL UNIQUE,
    name_vi text NOT NULL,
    name_en text NOT NULL,
    applies_to text NOT NULL,
    base text,
    position bigint NOT NULL
);

CREATE TABLE rm_ref_template_versions (
    template text NOT NULL,
    version integer NOT NULL,
    effective_from text NOT NULL,  -- the first month (YYYY-MM) it applies to
    indicators text[] NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (template, version)
);

-- Derived report types (ReportDefinitionCreated / ReportDefinitionRevised).
CREATE TABLE rm_report_definitions (
    code text PRIMARY KEY,
    name_vi text NOT NULL,
    name_en text NOT NULL,
    period_kind text NOT NULL,
    scope text NOT NULL,
    indicators text[] NOT NULL,
    revision integer NOT NULL,     -- 1 when created, +1 per revision
    actor text NOT NULL,
    role text NOT NULL,
    defined_at timestamptz NOT NULL,
    position bigint NOT NULL
);

-- How many reference events were applied: readers cache reference data per value.
CREATE TABLE rm_ref_version (
    id smallint PRIMARY KEY CHECK (id = 1),
    events bigint NOT NULL
);
