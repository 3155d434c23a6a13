-- hygie metadata schema, version 14 (PostgreSQL): single sign-on. A user made
-- by a sign-in through the directory records which one (external: oidc or
-- ldap; '' for a local user), and a grant whether it was given by hand
-- ('') or follows a directory group ('directory'): at each sign-in the
-- directory's grants are brought up to date and those given by hand are
-- left alone.
ALTER TABLE users ADD COLUMN external TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN source TEXT NOT NULL DEFAULT '';
