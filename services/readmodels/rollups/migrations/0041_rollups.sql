-- Ministry roll-ups (services/readmodels/rollups/projection.py; arithmetic in domain/rollups.py).

-- What the roll-up projection needs to know about agencies and indicators,
-- kept by the projection itself so that it can be rebuilt on its own.
CREATE TABLE rm_rollup_agencies (
    agency text PRIMARY KEY,
    kind text NOT NULL,
    region text
);

CREATE TABLE rm_rollup_indicators (
    indicator text PRIMARY KEY,
    value_type text NOT NULL,
    aggregation_time text NOT NULL,
    aggregation_agencies text NOT NULL
);

-- Each agency's figure per indicator and period: months as reported, and the
-- quarter, half-year and year combined over time by the indicator's aggregation_time.
-- A quarter, half-year or year row also keeps the running state its figure comes
-- from, so that a new or corrected month updates it without reading the other months.
CREATE TABLE rm_rollup_cells (
    agency text NOT NULL,
    indicator text NOT NULL,
    period text NOT NULL,
    months smallint NOT NULL,      -- months of the period with a value
    figure numeric,                -- null: not numeric, aggregation none, or definition not seen yet
    value jsonb,                   -- the figure as JSON, or the (last) value of a non-numeric indicator
    numbers smallint,              -- state of a longer period: months with a numeric value,
    total numeric,                 --   their sum, least and greatest,
    least numeric,
    greatest numeric,
    last_month text,               --   the latest month reported, its number and its value
    last_number numeric,
    last_value jsonb,
    PRIMARY KEY (agency, indicator, period)
) WITH (fillfactor = 80);          -- room for in-page (HOT) updates of the running state
-- (indicator, period) for recounts and reports; with agency, so that it is an exact lookup too.
CREATE INDEX ON rm_rollup_cells (indicator, period, agency);

-- Per scope ('national', 'region:<region>', 'kind:<agency kind>'), period and
-- indicator: running statistics of the agencies' figures. The figure itself
-- (sum, average, min, max) is chosen on read by the indicator's aggregation_agencies.
CREATE TABLE rm_rollups (
    scope text NOT NULL,
    period text NOT NULL,
    indicator text NOT NULL,
    agencies integer NOT NULL,     -- agencies with at least one monthly value in the period
    figures integer NOT NULL,      -- of which with a numeric figure
    total numeric NOT NULL,        -- sum of the figures
    min_figure numeric,            -- kept for indicators aggregated by min or max across agencies only
    max_figure numeric,
    PRIMARY KEY (scope, period, indicator)
);
