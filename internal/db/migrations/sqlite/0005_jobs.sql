-- hygie metadata schema, version 5 (SQLite): jobs, commands run as tracked
-- runs by an executor (local now; Slurm later). pid and host let another
-- process on the same machine cancel a job (signal its process group).
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    run_id           INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    command          TEXT NOT NULL,
    cpus             INTEGER NOT NULL DEFAULT 0,
    memory_bytes     INTEGER NOT NULL DEFAULT 0,
    gpus             INTEGER NOT NULL DEFAULT 0,
    time_limit_ms    INTEGER NOT NULL DEFAULT 0,
    executor         TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    exit_code        INTEGER,
    message          TEXT NOT NULL DEFAULT '',
    host             TEXT NOT NULL DEFAULT '',
    pid              INTEGER NOT NULL DEFAULT 0,
    token_id         INTEGER,
    cancel_requested BOOLEAN NOT NULL DEFAULT 0,
    created_by       TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    started_at       TIMESTAMP,
    ended_at         TIMESTAMP
);

CREATE INDEX jobs_project ON jobs(project_id, id);
