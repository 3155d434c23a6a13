-- hygie metadata schema, version 8 (SQLite): model governance. A project's
-- gate policy (YAML), clinicians' sign-offs of a model version for an
-- environment, the clinical test cases of a model, and the full report of
-- each promotion attempt.
CREATE TABLE gate_policies (
    project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    policy     TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE model_signoffs (
    id               INTEGER PRIMARY KEY,
    model_version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    environment      TEXT NOT NULL,
    username         TEXT NOT NULL,
    comment          TEXT NOT NULL,
    at               TIMESTAMP NOT NULL,
    UNIQUE (model_version_id, environment, username)
);

CREATE TABLE clinical_cases (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    model      TEXT NOT NULL,
    cases      TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (project_id, model)
);

ALTER TABLE promotions ADD COLUMN report TEXT NOT NULL DEFAULT '';
