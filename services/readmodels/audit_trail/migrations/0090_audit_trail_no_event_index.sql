-- No query of the audit trail looks an event up by its id (services/readmodels/audit_trail/queries.py):
-- the index cost every projected event an insert for nothing.
DROP INDEX IF EXISTS rm_audit_trail_event_idx;
