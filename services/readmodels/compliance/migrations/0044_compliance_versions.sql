-- A month's latest change (its rows' highest position) found from the index alone: the compliance
-- board is worked out again only when it changed (services/readmodels/compliance/queries.py).
CREATE INDEX ON rm_compliance (period, position);
