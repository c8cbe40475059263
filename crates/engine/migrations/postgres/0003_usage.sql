-- Usage sync (PostgreSQL). Keep in step with ../sqlite/0003_usage.sql.

-- The products the user selected for sync and the ConnectWise catalog item each one bills as.
CREATE TABLE usage_products (
    identifier         TEXT PRIMARY KEY,
    selected           BOOLEAN NOT NULL,
    catalog_item_id    BIGINT,
    catalog_identifier TEXT,
    -- 'created' (we created the catalog item) or 'mapped' (the user chose an existing one).
    link_source        TEXT,
    updated_at         BIGINT NOT NULL
);

-- Our link from (agreement, product) to the ConnectWise addition that bills it.
CREATE TABLE usage_additions (
    agreement_id    BIGINT NOT NULL,
    product         TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    addition_id     BIGINT NOT NULL,
    catalog_item_id BIGINT NOT NULL,
    created_by_us   BOOLEAN NOT NULL,
    quantity        DOUBLE PRECISION NOT NULL,
    -- We cancelled it ourselves (usage went to zero with the cancel policy).
    cancelled_by_us BOOLEAN NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (agreement_id, product)
);
CREATE INDEX usage_additions_tenant ON usage_additions (tenant_id);

-- Every write operation, recorded before and after it runs: planned -> started -> done | failed;
-- 'resolved' once a later run has settled a 'started' row whose outcome was unknown.
CREATE TABLE usage_journal (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       BIGINT,
    tenant_id    TEXT NOT NULL,
    agreement_id BIGINT NOT NULL,
    product      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    addition_id  BIGINT,
    before_qty   DOUBLE PRECISION,
    after_qty    DOUBLE PRECISION,
    reason       TEXT NOT NULL,
    state        TEXT NOT NULL,
    error        TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX usage_journal_open ON usage_journal (state, agreement_id);
