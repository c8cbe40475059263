-- Saved usage plans (sqlite). Keep in step with ../postgres/0008_plans.sql.
-- A plan is what a usage sync would write, computed and kept until a person approves or discards it;
-- approving applies exactly it, and is refused when either vendor moved since (the fingerprint).
CREATE TABLE usage_plans (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    month       TEXT NOT NULL,
    -- The customers the plan covers, as a JSON list of tenant ids; [] for every mapped customer.
    scope       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    -- 'pending', 'approved', 'discarded' or 'superseded' (a newer plan of the same scope).
    state       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    writes      INTEGER NOT NULL,
    -- The plan itself (customers, rows, totals) as JSON.
    body        TEXT NOT NULL,
    decided_at  INTEGER,
    decided_by  TEXT,
    -- What approving did, or why the plan was set aside.
    outcome     TEXT,
    run_id      INTEGER
);
CREATE INDEX usage_plans_state ON usage_plans (state, id);

-- Why a write failed, as a code (e.g. 'invoiced_period'), so reports need not read the message.
ALTER TABLE usage_journal ADD COLUMN error_code TEXT;
