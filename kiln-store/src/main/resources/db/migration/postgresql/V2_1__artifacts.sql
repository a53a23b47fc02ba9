-- PostgreSQL only (SQLite's artifacts are files in the data directory): artifacts in the database, so that every
-- replica can serve them. Content is split into chunks, so that neither side holds a large file in memory and no
-- value comes near bytea's 1 GB limit. An import replaces a job's rows in one transaction; a new import gets new
-- ids, so a reader streaming by id never mixes two attempts' bytes.
CREATE TABLE artifacts (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id TEXT   NOT NULL,
    name   TEXT   NOT NULL,
    size   BIGINT NOT NULL,
    sha256 TEXT   NOT NULL,
    UNIQUE (job_id, name)
);

CREATE TABLE artifact_chunks (
    artifact_id BIGINT  NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    chunk       INTEGER NOT NULL,
    data        BYTEA   NOT NULL,
    PRIMARY KEY (artifact_id, chunk)
);
