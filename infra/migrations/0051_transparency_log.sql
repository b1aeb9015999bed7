-- The transparency log (RFC 6962/9162) over every event in global order (docs/AUDIT.md).
-- Written only by the checkpointer (`reporting checkpoint`, one active: advisory lock).

-- Leaf i: SHA-256(0x00 || canonical bytes of the i-th event in position order).
CREATE TABLE tlog_leaves (
    leaf_index bigint PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    event_id uuid NOT NULL UNIQUE,
    leaf_hash bytea NOT NULL
);

-- Every complete perfect subtree above the leaves: hash of leaves [idx * 2^level, (idx + 1) * 2^level).
-- Any root or proof of any past size is assembled from O(log^2 n) of these rows.
CREATE TABLE tlog_nodes (
    level smallint NOT NULL CHECK (level > 0),
    idx bigint NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Public keys that signed checkpoints (the private key never leaves the checkpointer's key file).
CREATE TABLE tlog_keys (
    key_id bytea PRIMARY KEY,           -- 4-byte signed-note key hash
    origin text NOT NULL,
    public_key bytea NOT NULL,          -- raw 32-byte Ed25519 public key
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Signed checkpoints; `note` is the signed note exactly as signed and published.
CREATE TABLE tlog_checkpoints (
    id bigserial PRIMARY KEY,
    tree_size bigint NOT NULL,
    root_hash bytea NOT NULL,
    last_position bigint NOT NULL,      -- position of leaf tree_size - 1 (0 for the empty tree)
    issued_at timestamptz NOT NULL,
    origin text NOT NULL,
    key_id bytea NOT NULL REFERENCES tlog_keys (key_id),
    signature bytea NOT NULL,
    note text NOT NULL,
    requested_by text,                  -- the admin who asked for it; NULL for periodic checkpoints
    published_topic_id text             -- the checkpoints topic it is on (a recreated topic gets it again)
);
CREATE INDEX tlog_checkpoints_size_idx ON tlog_checkpoints (tree_size, id);

-- On-demand checkpoints: the admin API inserts a request, the checkpointer fulfils it.
CREATE TABLE tlog_checkpoint_requests (
    id bigserial PRIMARY KEY,
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    checkpoint_id bigint REFERENCES tlog_checkpoints (id)
);
CREATE INDEX tlog_checkpoint_requests_open_idx ON tlog_checkpoint_requests (id) WHERE checkpoint_id IS NULL;
