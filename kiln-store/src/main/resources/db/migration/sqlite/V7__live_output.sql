-- A running job's output mirrored for followers on other replicas (LiveOutputStore); deleted when the job ends.
CREATE TABLE live_output (
    job_id TEXT   NOT NULL,
    seq    BIGINT NOT NULL,
    stream TEXT   NOT NULL,
    text   TEXT   NOT NULL,
    PRIMARY KEY (job_id, seq)
);
