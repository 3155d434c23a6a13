-- hygie metadata schema, version 10 (SQLite): serving.
-- Serving: per-prediction latency and route (primary, canary, shadow), an
-- index to query the log and prune it by time, and each model's canary.
ALTER TABLE predictions ADD COLUMN latency_ms REAL NOT NULL DEFAULT 0;
ALTER TABLE predictions ADD COLUMN route TEXT NOT NULL DEFAULT 'primary' CHECK (route IN ('primary', 'canary', 'shadow'));
CREATE INDEX predictions_at ON predictions(at);

CREATE TABLE canaries (
    model_id   INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    share      REAL NOT NULL CHECK (share > 0 AND share <= 0.5),
    mode       TEXT NOT NULL CHECK (mode IN ('canary', 'shadow')),
    set_by     TEXT NOT NULL,
    set_at     TIMESTAMP NOT NULL
);
