-- hygie metadata schema, version 16 (PostgreSQL): a model's feedback annotation
-- project. A prediction of the model that a clinician marks incorrect is
-- added by default to this annotation project (its name, in the model's
-- project); NULL when none is set.
ALTER TABLE models ADD COLUMN feedback_annotation TEXT;
