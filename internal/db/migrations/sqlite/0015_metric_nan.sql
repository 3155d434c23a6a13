-- hygie metadata schema, version 15 (SQLite): metric values may be NaN or
-- ±Infinity, as MLflow clients log them. SQLite stores a NaN REAL as NULL
-- (refused by value's NOT NULL), so a NaN is value 0 with is_nan set, as in
-- MLflow's SQL store; ±Infinity is kept exact in value (a REAL holds it).
ALTER TABLE run_metrics ADD COLUMN is_nan INTEGER NOT NULL DEFAULT 0;
