-- hygie metadata schema, version 1 (SQLite).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    is_admin      BOOLEAN NOT NULL DEFAULT 0,
    disabled      BOOLEAN NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('api', 'session')),
    hash         TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP,
    revoked_at   TIMESTAMP,
    last_used_at TIMESTAMP
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    created_by  TEXT NOT NULL
);

CREATE TABLE grants (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, user_id, role)
);

CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY, -- assigned by the audit log, not the database
    at         TIMESTAMP NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    project    TEXT NOT NULL DEFAULT '',
    target     TEXT NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '',
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events(at);

CREATE TABLE secrets (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, name)
);

CREATE TABLE datasets (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE dataset_versions (
    id            INTEGER PRIMARY KEY,
    dataset_id    INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    digest        TEXT NOT NULL,
    blob_key      TEXT NOT NULL,
    format        TEXT NOT NULL,
    data_key      BLOB,
    schema_json   TEXT NOT NULL,
    row_count     INTEGER NOT NULL,
    privacy_level TEXT NOT NULL CHECK (privacy_level IN ('identifying', 'pseudonymized', 'anonymized', 'aggregate')),
    parent_id     INTEGER REFERENCES dataset_versions(id),
    recipe        TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    created_by    TEXT NOT NULL,
    UNIQUE (dataset_id, version)
);

CREATE TABLE experiments (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE runs (
    id                 INTEGER PRIMARY KEY,
    experiment_id      INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'killed')),
    dataset_version_id INTEGER REFERENCES dataset_versions(id),
    started_at         TIMESTAMP NOT NULL,
    ended_at           TIMESTAMP,
    created_by         TEXT NOT NULL
);

CREATE TABLE run_params (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE run_metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  REAL NOT NULL,
    step   INTEGER NOT NULL DEFAULT 0,
    at     TIMESTAMP NOT NULL
);
CREATE INDEX run_metrics_run ON run_metrics(run_id, key);

CREATE TABLE run_artifacts (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    path     TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    size     INTEGER NOT NULL,
    PRIMARY KEY (run_id, path)
);

CREATE TABLE models (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE model_versions (
    id             INTEGER PRIMARY KEY,
    model_id       INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    run_id         INTEGER REFERENCES runs(id),
    artifact_key   TEXT NOT NULL,
    flavor         TEXT NOT NULL,
    signature_json TEXT NOT NULL DEFAULT '{}',
    environment    TEXT NOT NULL DEFAULT 'none' CHECK (environment IN ('none', 'dev', 'test', 'integration', 'production', 'archived')),
    created_at     TIMESTAMP NOT NULL,
    created_by     TEXT NOT NULL,
    UNIQUE (model_id, version)
);

CREATE TABLE gate_rules (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    metric     TEXT NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('<=', '>=')),
    threshold  REAL NOT NULL,
    PRIMARY KEY (project_id, metric)
);

CREATE TABLE promotions (
    id               INTEGER PRIMARY KEY,
    model_version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    from_env         TEXT NOT NULL,
    to_env           TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    detail           TEXT NOT NULL DEFAULT '',
    at               TIMESTAMP NOT NULL,
    by_user          TEXT NOT NULL
);

CREATE TABLE predictions (
    id               TEXT PRIMARY KEY,
    model_version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    at               TIMESTAMP NOT NULL,
    inputs_json      TEXT NOT NULL,
    outputs_json     TEXT NOT NULL,
    request_id       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX predictions_version ON predictions(model_version_id, at);

CREATE TABLE feedback (
    id            INTEGER PRIMARY KEY,
    prediction_id TEXT NOT NULL REFERENCES predictions(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    verdict       TEXT NOT NULL CHECK (verdict IN ('correct', 'incorrect', 'unsure')),
    corrected     TEXT NOT NULL DEFAULT '',
    comment       TEXT NOT NULL DEFAULT '',
    at            TIMESTAMP NOT NULL
);
