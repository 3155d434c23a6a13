-- hygie metadata schema, version 11 (SQLite): annotation projects. A
-- project's label schema (JSON) and guidelines (Markdown, every version
-- kept), its tasks (a text or a table row as JSON, with the model
-- suggestions), the assignment of tasks to annotators, their annotations
-- (with the guidelines version they saw) and the adjudicated gold results.
CREATE TABLE annotation_projects (
    id                 INTEGER PRIMARY KEY,
    project_id         INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    kind               TEXT NOT NULL,
    labels             TEXT NOT NULL,
    guidelines         TEXT NOT NULL,
    guidelines_version INTEGER NOT NULL,
    overlap            INTEGER NOT NULL,
    created_by         TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE annotation_guidelines (
    annotation_project_id INTEGER NOT NULL REFERENCES annotation_projects(id) ON DELETE CASCADE,
    version               INTEGER NOT NULL,
    guidelines            TEXT NOT NULL,
    updated_by            TEXT NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    PRIMARY KEY (annotation_project_id, version)
);

CREATE TABLE annotation_tasks (
    id                    INTEGER PRIMARY KEY,
    annotation_project_id INTEGER NOT NULL REFERENCES annotation_projects(id) ON DELETE CASCADE,
    ref                   TEXT NOT NULL,
    source                TEXT NOT NULL,
    data                  TEXT NOT NULL,
    predictions           TEXT NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    UNIQUE (annotation_project_id, ref)
);

CREATE TABLE annotation_assignments (
    task_id     INTEGER NOT NULL REFERENCES annotation_tasks(id) ON DELETE CASCADE,
    username    TEXT NOT NULL,
    assigned_at TIMESTAMP NOT NULL,
    PRIMARY KEY (task_id, username)
);
CREATE INDEX annotation_assignments_user ON annotation_assignments (username);

CREATE TABLE annotations (
    id                 INTEGER PRIMARY KEY,
    task_id            INTEGER NOT NULL REFERENCES annotation_tasks(id) ON DELETE CASCADE,
    username           TEXT NOT NULL,
    result             TEXT NOT NULL,
    guidelines_version INTEGER NOT NULL,
    skipped            INTEGER NOT NULL DEFAULT 0,
    skip_reason        TEXT NOT NULL DEFAULT '',
    at                 TIMESTAMP NOT NULL,
    UNIQUE (task_id, username)
);

CREATE TABLE annotation_adjudications (
    task_id            INTEGER PRIMARY KEY REFERENCES annotation_tasks(id) ON DELETE CASCADE,
    username           TEXT NOT NULL,
    result             TEXT NOT NULL,
    guidelines_version INTEGER NOT NULL,
    at                 TIMESTAMP NOT NULL
);
