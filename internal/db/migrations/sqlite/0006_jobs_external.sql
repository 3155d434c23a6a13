-- hygie metadata schema, version 6 (SQLite): a job's id in an external
-- scheduler (the Slurm job id), so any hygie process can cancel it there.
ALTER TABLE jobs ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
