-- Jobs, one row each: the SQLite V1 with PostgreSQL's identity column for seq.
-- Timestamps are epoch milliseconds; spec_json and result_json are written by JobJsonMapper.
CREATE TABLE jobs (
    seq             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- from a sequence: never reused, so cursors stay valid
    id              TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timeout', 'oom', 'cancelled')),
    job_type        TEXT    NOT NULL,
    spec_json       TEXT    NOT NULL,
    spec_hash       TEXT,
    idempotency_key TEXT    UNIQUE,
    attempt         INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    version         BIGINT  NOT NULL,
    node_id         TEXT,
    created_at      BIGINT  NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT,
    result_json     TEXT
);

CREATE INDEX jobs_status_seq ON jobs (status, seq);
