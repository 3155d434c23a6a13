-- hygie metadata schema, version 4 (PostgreSQL): experiment tracking for the
-- MLflow-compatible API: run and experiment tags, and an index to read a
-- metric's history in step order.
CREATE TABLE run_tags (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE experiment_tags (
    experiment_id BIGINT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

CREATE INDEX run_metrics_history ON run_metrics(run_id, key, step, at);
