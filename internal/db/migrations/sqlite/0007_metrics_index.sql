-- hygie metadata schema, version 7 (SQLite): drop run_metrics_run (run_id,
-- key), a prefix of run_metrics_history (run_id, key, step, at), which serves
-- every query on run_metrics; each logged metric then updates one index
-- instead of two.
DROP INDEX IF EXISTS run_metrics_run;
