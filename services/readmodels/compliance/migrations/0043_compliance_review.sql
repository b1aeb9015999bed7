-- The compliance rows learn the agency's recall and the latest lifecycle step with its reason
-- (what a returned report's agency is told on its home page), and serve the review queue:
-- submitted reports, longest waiting first.
ALTER TABLE rm_compliance
    ADD COLUMN recalled_at timestamptz,
    ADD COLUMN step_at timestamptz,        -- the latest lifecycle step (submitted, returned, ...)
    ADD COLUMN step_actor text,
    ADD COLUMN step_role text,
    ADD COLUMN step_reason text,
    ADD COLUMN return_reason text;         -- the latest return's reason, kept after a resubmission
CREATE INDEX rm_compliance_queue_idx ON rm_compliance (status, last_submitted_at, agency, period);
CREATE INDEX rm_compliance_agency_idx ON rm_compliance (agency, period);
