-- One run harness for every job (sqlite). Keep in step with ../postgres/0005_runs.sql.
-- leases.since: when the current holder took the lease (kept while it renews), so a refused run can
-- say "running since …". sync_runs.started_by: which door started the run and for whom.
ALTER TABLE leases ADD COLUMN since INTEGER;
ALTER TABLE sync_runs ADD COLUMN started_by TEXT;
