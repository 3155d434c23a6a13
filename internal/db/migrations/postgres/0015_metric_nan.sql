-- hygie metadata schema, version 15 (PostgreSQL): metric values may be NaN
-- or ±Infinity, as MLflow clients log them. A NaN is value 0 with is_nan set,
-- as on SQLite (which cannot store a NaN REAL) and in MLflow's SQL store;
-- ±Infinity is kept exact in value (double precision holds it).
ALTER TABLE run_metrics ADD COLUMN is_nan BOOLEAN NOT NULL DEFAULT FALSE;
