-- Acknowledged removals (postgres). Keep in step with ../sqlite/0007_removal_acks.sql.
-- A person deleted (or cancelled) an addition centralbridge managed, on purpose: while a row is here,
-- usage sync leaves that customer's product unbilled instead of failing the customer every run.
CREATE TABLE removal_acks (
    tenant_id TEXT NOT NULL,
    product TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    acknowledged_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, product)
);
