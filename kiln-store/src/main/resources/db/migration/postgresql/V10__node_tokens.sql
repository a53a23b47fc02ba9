-- Join tokens of compute nodes (NodeTokenStore), one per node, kept as hashes; node_id is bound at creation or at
-- the first join.
CREATE TABLE node_tokens (
    id         TEXT   NOT NULL PRIMARY KEY,
    token_hash TEXT   NOT NULL UNIQUE,
    node_id    TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    revoked_at BIGINT
);
