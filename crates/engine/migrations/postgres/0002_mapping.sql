-- Customer mapping (PostgreSQL). Keep in step with ../sqlite/0002_mapping.sql.
-- What the vendors told us at the last refresh, plus the confirmed tenant -> company (+ agreement)
-- mappings. Objects that disappear from a full refresh are flagged `gone`, never deleted, so a mapping
-- that points at one keeps pointing at something the user can see and fix.

CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    billing_type TEXT,
    data_region  TEXT,
    api_host     TEXT,
    status       TEXT,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    gone         BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE companies (
    id         BIGINT PRIMARY KEY,
    identifier TEXT NOT NULL,
    name       TEXT NOT NULL,
    status     TEXT,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    inactive   BOOLEAN NOT NULL DEFAULT FALSE,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    gone       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX companies_identifier ON companies (identifier);

CREATE TABLE agreements (
    id            BIGINT PRIMARY KEY,
    company_id    BIGINT,
    name          TEXT NOT NULL,
    type_name     TEXT,
    status        TEXT,
    cancelled     BOOLEAN NOT NULL DEFAULT FALSE,
    expired       BOOLEAN NOT NULL DEFAULT FALSE,
    billing_cycle TEXT,
    first_seen    BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    gone          BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX agreements_company ON agreements (company_id);

-- One tenant -> one company (+ at most one agreement); a company and an agreement serve at most one
-- tenant. The engine checks these first with clear messages; the constraints are the backstop.
CREATE TABLE mappings (
    tenant_id    TEXT PRIMARY KEY REFERENCES tenants (id),
    company_id   BIGINT NOT NULL UNIQUE REFERENCES companies (id),
    agreement_id BIGINT UNIQUE REFERENCES agreements (id),
    usage_sync   BOOLEAN NOT NULL DEFAULT FALSE,
    ticket_sync  BOOLEAN NOT NULL DEFAULT FALSE,
    source       TEXT NOT NULL CHECK (source IN ('manual', 'accepted', 'import')),
    confirmed_by TEXT NOT NULL,
    confirmed_at BIGINT NOT NULL,
    CHECK (NOT usage_sync OR agreement_id IS NOT NULL)
);
