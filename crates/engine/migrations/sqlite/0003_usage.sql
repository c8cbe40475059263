-- Usage sync (SQLite). Keep in step with ../postgres/0003_usage.sql.

-- The products the user selected for sync and the ConnectWise catalog item each one bills as.
CREATE TABLE usage_products (
    identifier         TEXT PRIMARY KEY NOT NULL,
    selected           INTEGER NOT NULL,
    catalog_item_id    INTEGER,
    catalog_identifier TEXT,
    -- 'created' (we created the catalog item) or 'mapped' (the user chose an existing one).
    link_source        TEXT,
    updated_at         INTEGER NOT NULL
);

-- Our link from (agreement, product) to the ConnectWise addition that bills it.
CREATE TABLE usage_additions (
    agreement_id    INTEGER NOT NULL,
    product         TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    addition_id     INTEGER NOT NULL,
    catalog_item_id INTEGER NOT NULL,
    created_by_us   INTEGER NOT NULL,
    quantity        REAL NOT NULL,
    -- We cancelled it ourselves (usage went to zero with the cancel policy).
    cancelled_by_us INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (agreement_id, product)
);
CREATE INDEX usage_additions_tenant ON usage_additions (tenant_id);

-- Every write operation, recorded before and after it runs: planned -> started -> done | failed;
-- 'resolved' once a later run has settled a 'started' row whose outcome was unknown.
CREATE TABLE usage_journal (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER,
    tenant_id    TEXT NOT NULL,
    agreement_id INTEGER NOT NULL,
    product      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    addition_id  INTEGER,
    before_qty   REAL,
    after_qty    REAL,
    reason       TEXT NOT NULL,
    state        TEXT NOT NULL,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX usage_journal_open ON usage_journal (state, agreement_id);
