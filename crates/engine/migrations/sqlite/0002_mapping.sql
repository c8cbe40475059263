-- Customer mapping (SQLite). Keep in step with ../postgres/0002_mapping.sql.
-- What the vendors told us at the last refresh, plus the confirmed tenant -> company (+ agreement)
-- mappings. Objects that disappear from a full refresh are flagged `gone`, never deleted, so a mapping
-- that points at one keeps pointing at something the user can see and fix.

CREATE TABLE tenants (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    billing_type TEXT,
    data_region  TEXT,
    api_host     TEXT,
    status       TEXT,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    gone         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE companies (
    id         INTEGER PRIMARY KEY NOT NULL,
    identifier TEXT NOT NULL,
    name       TEXT NOT NULL,
    status     TEXT,
    deleted    INTEGER NOT NULL DEFAULT 0,
    inactive   INTEGER NOT NULL DEFAULT 0,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    gone       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX companies_identifier ON companies (identifier);

CREATE TABLE agreements (
    id            INTEGER PRIMARY KEY NOT NULL,
    company_id    INTEGER,
    name          TEXT NOT NULL,
    type_name     TEXT,
    status        TEXT,
    cancelled     INTEGER NOT NULL DEFAULT 0,
    expired       INTEGER NOT NULL DEFAULT 0,
    billing_cycle TEXT,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    gone          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX agreements_company ON agreements (company_id);

-- One tenant -> one company (+ at most one agreement); a company and an agreement serve at most one
-- tenant. The engine checks these first with clear messages; the constraints are the backstop.
CREATE TABLE mappings (
    tenant_id    TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id),
    company_id   INTEGER NOT NULL UNIQUE REFERENCES companies (id),
    agreement_id INTEGER UNIQUE REFERENCES agreements (id),
    usage_sync   INTEGER NOT NULL DEFAULT 0,
    ticket_sync  INTEGER NOT NULL DEFAULT 0,
    source       TEXT NOT NULL CHECK (source IN ('manual', 'accepted', 'import')),
    confirmed_by TEXT NOT NULL,
    confirmed_at INTEGER NOT NULL,
    CHECK (usage_sync = 0 OR agreement_id IS NOT NULL)
);
