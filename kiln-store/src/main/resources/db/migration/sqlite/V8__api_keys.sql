-- API keys (KeyStore): only a hash of each key is kept; a key is shown once, when it is made.
CREATE TABLE api_keys (
    id         TEXT   NOT NULL PRIMARY KEY,
    key_hash   TEXT   NOT NULL UNIQUE,
    namespace  TEXT   NOT NULL,
    role       TEXT   NOT NULL CHECK (role IN ('admin', 'user')),
    created_at BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    revoked_at BIGINT
);
