-- hygie metadata schema, version 12 (SQLite): pipelines as code. A pipeline
-- is a stored hygie.yaml; each run records its trigger, parameters and steps
-- (state, cache key, job, attempts, outputs); the cache maps a step's
-- content key to the outputs it produced; lineage links every dataset
-- version, run and model version a pipeline run produced back to it;
-- triggers keep their last observed value and every firing.
CREATE TABLE pipelines (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    spec        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE pipeline_runs (
    id               INTEGER PRIMARY KEY,
    pipeline_id      INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    spec_digest      TEXT NOT NULL,
    triggered_by     TEXT NOT NULL,
    params           TEXT NOT NULL DEFAULT '{}',
    state            TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
    error            TEXT NOT NULL DEFAULT '',
    cancel_requested BOOLEAN NOT NULL DEFAULT 0,
    created_by       TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    ended_at         TIMESTAMP
);

CREATE INDEX pipeline_runs_pipeline ON pipeline_runs(pipeline_id, id);

CREATE TABLE pipeline_steps (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'cached', 'failed', 'cancelled', 'skipped')),
    reason      TEXT NOT NULL DEFAULT '',
    cache_key   TEXT NOT NULL DEFAULT '',
    cached      BOOLEAN NOT NULL DEFAULT 0,
    job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    outputs     TEXT NOT NULL DEFAULT '[]',
    error       TEXT NOT NULL DEFAULT '',
    started_at  TIMESTAMP,
    ended_at    TIMESTAMP,
    UNIQUE (run_id, name)
);

CREATE TABLE pipeline_cache (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    pipeline        TEXT NOT NULL,
    step            TEXT NOT NULL,
    cache_key       TEXT NOT NULL,
    step_version    INTEGER NOT NULL,
    config_hash     TEXT NOT NULL,
    inputs_hash     TEXT NOT NULL,
    outputs         TEXT NOT NULL,
    pipeline_run_id INTEGER REFERENCES pipeline_runs(id) ON DELETE SET NULL,
    created_at      TIMESTAMP NOT NULL,
    UNIQUE (project_id, pipeline, step, cache_key)
);

CREATE TABLE pipeline_lineage (
    pipeline_run_id INTEGER NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,
    step            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    ref             TEXT NOT NULL,
    PRIMARY KEY (pipeline_run_id, step, kind)
);

CREATE INDEX pipeline_lineage_ref ON pipeline_lineage(kind, ref);

CREATE TABLE pipeline_triggers (
    id          INTEGER PRIMARY KEY,
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    trigger_key TEXT NOT NULL,
    last_value  TEXT NOT NULL DEFAULT '',
    checked_at  TIMESTAMP,
    UNIQUE (pipeline_id, trigger_key)
);

CREATE TABLE pipeline_trigger_fires (
    id          INTEGER PRIMARY KEY,
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    trigger_key TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    fired_at    TIMESTAMP NOT NULL,
    run_id      INTEGER REFERENCES pipeline_runs(id) ON DELETE SET NULL
);
