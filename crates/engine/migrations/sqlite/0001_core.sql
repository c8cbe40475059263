-- Core tables (SQLite). Keep in step with ../postgres/0001_core.sql.
-- Conventions: timestamps are INTEGER unix milliseconds; JSON is TEXT; booleans are INTEGER 0/1;
-- encrypted secrets are BLOB.

CREATE TABLE store_meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

CREATE TABLE connections (
    kind       TEXT PRIMARY KEY NOT NULL CHECK (kind IN ('connectwise', 'sophos')),
    settings   TEXT NOT NULL,
    secret     BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
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
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job         TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT NOT NULL,
    counts      TEXT NOT NULL,
    error       TEXT
);
CREATE INDEX sync_runs_job ON sync_runs (job, started_at);

CREATE TABLE customer_status (
    tenant_id   TEXT NOT NULL,
    job         TEXT NOT NULL,
    last_run_at INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    counts      TEXT NOT NULL,
    error       TEXT,
    advice      TEXT,
    PRIMARY KEY (tenant_id, job)
);

CREATE TABLE leases (
    job        TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
