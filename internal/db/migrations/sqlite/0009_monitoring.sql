-- hygie metadata schema, version 9 (SQLite): model monitoring. Each check
-- of a model version (data drift, prediction drift, live and estimated
-- performance over a time window, as a JSON report), the alert rules of a
-- project's models and the alerts they raised. Reports hold aggregates
-- only (statistics, binned proportions), never a prediction's inputs.
CREATE TABLE monitor_checks (
    id               INTEGER PRIMARY KEY,
    model_version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    at               TIMESTAMP NOT NULL,
    time_window      TEXT NOT NULL,
    report           TEXT NOT NULL
);
CREATE INDEX monitor_checks_version ON monitor_checks(model_version_id, at);

CREATE TABLE alert_rules (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    model       TEXT NOT NULL,
    metric      TEXT NOT NULL,
    op          TEXT NOT NULL CHECK (op IN ('<', '<=', '>', '>=')),
    threshold   REAL NOT NULL,
    time_window TEXT NOT NULL,
    webhook_url TEXT NOT NULL DEFAULT '',
    secret_env  TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX alert_rules_model ON alert_rules(project_id, model);

CREATE TABLE alerts (
    id       INTEGER PRIMARY KEY,
    rule_id  INTEGER NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
    check_id INTEGER NOT NULL REFERENCES monitor_checks(id) ON DELETE CASCADE,
    at       TIMESTAMP NOT NULL,
    value    REAL NOT NULL,
    message  TEXT NOT NULL
);
CREATE INDEX alerts_rule ON alerts(rule_id, at);
