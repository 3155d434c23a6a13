package db

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
)

// FreshSchema creates an empty schema, named prefix and random hex, in the
// PostgreSQL database at dsn, for tests and benchmarks that need a database
// of their own. It returns a DSN whose search_path is that schema, and drop,
// which removes the schema and everything in it.
func FreshSchema(ctx context.Context, dsn, prefix string) (schemaDSN string, drop func(), err error) {
	u, err := url.Parse(dsn)
	if err != nil {
		// Not wrapped: url.Parse's error quotes the URL, password included.
		return "", nil, errors.New("not a PostgreSQL URL")
	}
	admin, err := Open(ctx, dsn, "")
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		_ = admin.Close() // the error that matters is err
		return "", nil, err
	}
	schema := prefix + hex.EncodeToString(b)
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+schema)
	// No connection is held while the caller works.
	if err = errors.Join(err, admin.Close()); err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		// Best effort: the schema is throwaway, and the caller is done.
		if a, err := Open(context.Background(), dsn, ""); err == nil {
			_, _ = a.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			_ = a.Close()
		}
	}, nil
}
