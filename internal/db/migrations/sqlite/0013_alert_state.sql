-- hygie metadata schema, version 13 (SQLite): alert de-duplication. A rule
-- remembers whether its condition holds (firing, since when): it alerts
-- once when the condition starts to hold and records a "resolved" alert
-- when it clears, instead of alerting on every check.
ALTER TABLE alert_rules ADD COLUMN firing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alert_rules ADD COLUMN firing_since TIMESTAMP;
ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'firing' CHECK (kind IN ('firing', 'resolved'));
