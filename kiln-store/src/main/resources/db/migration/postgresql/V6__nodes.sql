-- Compute nodes as every replica sees them (NodeStore): drained and removed are the truth here; view is the JSON
-- GET /nodes shows, as the replica holding the node's connection last published it.
CREATE TABLE nodes (
    id         TEXT    NOT NULL PRIMARY KEY,
    replica    TEXT,
    draining   INTEGER NOT NULL DEFAULT 0,
    removed    INTEGER NOT NULL DEFAULT 0,
    view_json  TEXT,
    updated_at BIGINT  NOT NULL
);
