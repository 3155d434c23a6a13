-- hygie metadata schema, version 3 (SQLite): pseudonym domains and the vault.
-- A domain's secret key lives in secrets (name 'pseudonym-key' for the
-- project's default domain, 'pseudonym-key:<domain>' for the others),
-- wrapped by the master key; this table records its pseudonym format, fixed
-- at creation so that pseudonyms stay stable.
CREATE TABLE pseudonym_domains (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    format_json TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    created_by  TEXT NOT NULL,
    UNIQUE (project_id, name)
);

-- The vault: pseudonym → original value, AES-256-GCM under a key derived
-- from the domain key, bound to its domain and pseudonym.
CREATE TABLE vault_entries (
    domain_id  INTEGER NOT NULL REFERENCES pseudonym_domains(id) ON DELETE CASCADE,
    pseudonym  TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (domain_id, pseudonym)
);

-- Re-identification attempts per user and hour, for the rate limit.
CREATE TABLE vault_rate (
    username     TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    attempts     INTEGER NOT NULL,
    PRIMARY KEY (username, window_start)
);
