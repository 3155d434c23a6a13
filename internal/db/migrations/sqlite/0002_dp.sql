-- hygie metadata schema, version 2 (SQLite): differential privacy.
-- ε and δ are exact decimals kept as text ('0.1', '1e-6' written out) and
-- added in Go, so a budget is never over- or under-spent by rounding.

-- The privacy budget of a dataset, shared by all its versions.
CREATE TABLE dp_budgets (
    dataset_id    INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
    epsilon_total TEXT NOT NULL,
    delta_total   TEXT NOT NULL DEFAULT '0',
    epsilon_spent TEXT NOT NULL DEFAULT '0',
    delta_spent   TEXT NOT NULL DEFAULT '0',
    releases      INTEGER NOT NULL DEFAULT 0,
    updated_at    TIMESTAMP NOT NULL,
    updated_by    TEXT NOT NULL
);

-- Every differentially private release: the declared query and its noisy
-- result (never the exact values), with the budget it spent.
CREATE TABLE dp_releases (
    id                 INTEGER PRIMARY KEY,
    dataset_id         INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    dataset_version_id INTEGER NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
    kind               TEXT NOT NULL,
    mechanism          TEXT NOT NULL,
    epsilon            TEXT NOT NULL,
    delta              TEXT NOT NULL,
    query_json         TEXT NOT NULL,
    result_json        TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    created_by         TEXT NOT NULL
);
CREATE INDEX dp_releases_dataset ON dp_releases(dataset_id, id);
