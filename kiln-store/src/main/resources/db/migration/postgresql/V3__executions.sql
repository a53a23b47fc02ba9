-- One row per attempt of a job (GET /jobs/{id}/executions). Written in the same transaction as the job's own
-- transition: a claim inserts the row, a re-queue ends it 'interrupted', a terminal result ends it with the job's
-- status. Kept to SQL that PostgreSQL also accepts. Timestamps are epoch milliseconds.
CREATE TABLE executions (
    id               TEXT    NOT NULL PRIMARY KEY,           -- <job id>-<attempt>
    job_id           TEXT    NOT NULL,
    attempt          INTEGER NOT NULL,
    node_id          TEXT,
    status           TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timeout', 'oom', 'cancelled', 'interrupted')),
    started_at       BIGINT  NOT NULL,
    deadline_at      BIGINT,
    finished_at      BIGINT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    exit_code        INTEGER,
    error_type       TEXT,
    error_message    TEXT,
    error_phase      TEXT,
    UNIQUE (job_id, attempt)
);

-- At most one running execution per job: the store's own guard behind the version fence.
CREATE UNIQUE INDEX executions_one_running ON executions (job_id) WHERE status = 'running';
CREATE INDEX executions_running_node ON executions (node_id) WHERE status = 'running';
