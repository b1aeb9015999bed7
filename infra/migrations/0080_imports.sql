-- Imports (services/ingest/application/imports/): the uploaded files, content-addressed, and the
-- jobs that import them. Files live in the database itself, so a backup of the database holds
-- them with the events they produced (every such event's `source` is `sha256:` + its name here).

CREATE TABLE import_files (
    sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size bigint NOT NULL,
    chunks integer NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    stored_by text NOT NULL              -- the first uploader's subject
);

-- The bytes, in chunks of 1 MiB, written in the same transaction as the file's row: a file is
-- there whole or not at all, and is read back without holding it in memory.
CREATE TABLE import_file_chunks (
    sha256 text NOT NULL REFERENCES import_files (sha256),
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (sha256, seq)
);

CREATE TABLE import_jobs (
    id uuid PRIMARY KEY,
    lock_key integer GENERATED ALWAYS AS IDENTITY UNIQUE,  -- the worker's advisory lock while it runs
    subject text NOT NULL,
    role text NOT NULL,
    agency text,
    request_key text NOT NULL,           -- subject, agency, file and request: a repeat finds its first job
    dry_run boolean NOT NULL,
    request jsonb NOT NULL,
    file_sha256 text NOT NULL REFERENCES import_files (sha256),
    filename text,
    media_type text NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    rows_total integer,
    rows_done integer NOT NULL DEFAULT 0,
    batches_done integer NOT NULL DEFAULT 0,  -- the cursor: batches 1..n are recorded
    summary jsonb,
    error text
);
CREATE UNIQUE INDEX import_jobs_request ON import_jobs (subject, request_key) WHERE NOT dry_run;
CREATE INDEX import_jobs_waiting ON import_jobs (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX import_jobs_agency ON import_jobs (agency, created_at);
CREATE INDEX import_jobs_file ON import_jobs (file_sha256);

-- What each batch did (its answer is also stored under its Idempotency-Key, with its events).
CREATE TABLE import_job_batches (
    job_id uuid NOT NULL REFERENCES import_jobs (id),
    number integer NOT NULL,
    agency text NOT NULL,
    period text NOT NULL,
    submitted integer NOT NULL,
    corrected integer NOT NULL,
    unchanged integer NOT NULL,
    rejected integer NOT NULL,
    position bigint,
    PRIMARY KEY (job_id, number)
);

-- Every record of a file that was not stored, by its place in the file.
CREATE TABLE import_job_rejections (
    job_id uuid NOT NULL REFERENCES import_jobs (id),
    ordinal integer NOT NULL,
    location text NOT NULL,
    code text NOT NULL,
    message text NOT NULL,
    agency text,
    period text,
    indicator text,
    stage text NOT NULL CHECK (stage IN ('read', 'write')),
    PRIMARY KEY (job_id, ordinal)
);

-- Electronic identifier codes are folded from their events (infra/electronic_codes.py): found
-- through this partial index instead of a scan of the whole log.
CREATE INDEX reporting_events_electronic_codes ON reporting_events (notification_id)
    WHERE topic = 'domain.agencies:Agency.ElectronicCodeAssigned';
