-- Rate limits shared by every worker process and replica of the HTTP services (infra/rate_limits.py):
-- one token bucket per scope (requests per token, failed authentications per address) and key.
-- UNLOGGED: a bucket is worth nothing after a crash (it refills within seconds anyway), so it
-- skips the WAL; a low fillfactor keeps its frequent updates HOT.
CREATE UNLOGGED TABLE rate_limit_buckets (
    scope text NOT NULL,
    key text NOT NULL,
    tokens double precision NOT NULL,
    allowed boolean NOT NULL,            -- whether the last request was let through
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
) WITH (fillfactor = 50);
