-- Core tables (PostgreSQL). Keep in step with ../sqlite/0001_core.sql.
-- Conventions: timestamps are BIGINT unix milliseconds; JSON is TEXT (same code path as SQLite);
-- booleans are BOOLEAN; encrypted secrets are BYTEA.

CREATE TABLE store_meta (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE connections (
    kind       TEXT PRIMARY KEY CHECK (kind IN ('connectwise', 'sophos')),
    settings   TEXT NOT NULL,
    secret     BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    before  TEXT,
    after   TEXT,
    reason  TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subject ON audit_log (subject);

CREATE TABLE sync_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job         TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT NOT NULL,
    counts      TEXT NOT NULL,
    error       TEXT
);
CREATE INDEX sync_runs_job ON sync_runs (job, started_at);

CREATE TABLE customer_status (
    tenant_id   TEXT NOT NULL,
    job         TEXT NOT NULL,
    last_run_at BIGINT NOT NULL,
    ok          BOOLEAN NOT NULL,
    counts      TEXT NOT NULL,
    error       TEXT,
    advice      TEXT,
    PRIMARY KEY (tenant_id, job)
);

CREATE TABLE leases (
    job        TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
