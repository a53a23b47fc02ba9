-- Job types registered at run time (PUT /job-types/{name}); file-defined types are never stored here.
CREATE TABLE job_types (
    name            TEXT   NOT NULL PRIMARY KEY,
    definition_json TEXT   NOT NULL,
    updated_at      BIGINT NOT NULL
);
