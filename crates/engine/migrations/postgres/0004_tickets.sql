-- Ticket sync (PostgreSQL). Keep in step with ../sqlite/0004_tickets.sql.
-- One row per Sophos alert we acted on, one row per ConnectWise ticket we own, one cursor per tenant.
-- `state` columns double as the journal: a row is written in its "…ing" state BEFORE the vendor call,
-- so a crash is repaired by looking the work up on the next run, never by doing it twice.

CREATE TABLE ticket_alerts (
    alert_id        TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    group_key       TEXT NOT NULL,
    ticket_id       BIGINT,
    -- 'primary' (created the ticket; externalXRef = alert_id) or 'repeat' (a note on the group's ticket)
    role            TEXT NOT NULL,
    -- creating | noting | linked
    state           TEXT NOT NULL,
    -- open | cleared | acknowledging | acknowledged
    alert_state     TEXT NOT NULL,
    severity        TEXT NOT NULL,
    alert_type      TEXT NOT NULL,
    device_name     TEXT,
    summary         TEXT NOT NULL,
    raised_at       BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    cleared_at      BIGINT,
    acknowledged_at BIGINT
);
CREATE INDEX ticket_alerts_tenant ON ticket_alerts (tenant_id, alert_state);
CREATE INDEX ticket_alerts_ticket ON ticket_alerts (ticket_id);
CREATE INDEX ticket_alerts_created ON ticket_alerts (created_at);

CREATE TABLE ticket_tickets (
    ticket_id          BIGINT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    group_key          TEXT NOT NULL,
    company_id         BIGINT NOT NULL,
    primary_alert_id   TEXT NOT NULL,
    previous_ticket_id BIGINT,
    -- open | resolving | resolved | reopening | closed
    state              TEXT NOT NULL,
    summary            TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    resolved_at        BIGINT,
    closed_at          BIGINT
);
CREATE INDEX ticket_tickets_group ON ticket_tickets (tenant_id, group_key);
CREATE INDEX ticket_tickets_state ON ticket_tickets (state);

CREATE TABLE ticket_cursors (
    tenant_id      TEXT PRIMARY KEY,
    last_raised_at BIGINT,
    last_poll_at   BIGINT,
    forbidden      BOOLEAN NOT NULL DEFAULT FALSE,
    advice         TEXT,
    next_retry_at  BIGINT,
    last_error     TEXT
);
