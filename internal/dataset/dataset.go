// Package dataset holds datasets and their immutable, content-addressed
// versions: schema with column roles, privacy level, lineage to the parent
// version and the recipe that produced it.
//
// A version's content is a typed table (Frame) stored once as Parquet in the
// blob store, under its SHA-256. Versions at the identifying level are
// encrypted at rest instead, in chunks (see crypt.go), with a per-version
// data key wrapped by the master key, and only stewards read them, each
// read audited. Import brings tables in from CSV, JSON Lines, Parquet or a
// PostgreSQL query, streaming, in constant memory.
package dataset

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/keys"
)

// Level is how identifying a version still is.
type Level string

// Privacy levels, from most to least identifying.
const (
	Identifying   Level = "identifying"
	Pseudonymized Level = "pseudonymized"
	Anonymized    Level = "anonymized"
	Aggregate     Level = "aggregate"
)

// ValidLevel reports whether l is a known level.
func ValidLevel(l Level) bool {
	return l == Identifying || l == Pseudonymized || l == Anonymized || l == Aggregate
}

// Version is one immutable version of a dataset.
type Version struct {
	ID        int64     `json:"id"`
	Project   string    `json:"project"`
	Dataset   string    `json:"dataset"`
	Version   int       `json:"version"`
	Digest    string    `json:"digest"`
	Columns   []Column  `json:"columns"`
	Rows      int       `json:"rows"`
	Level     Level     `json:"privacy_level"`
	Format    string    `json:"format"` // how the content is stored: "parquet"
	Encrypted bool      `json:"encrypted"`
	ParentID  *int64    `json:"parent_id,omitempty"`
	Parent    string    `json:"parent,omitempty"` // name@version
	Recipe    string    `json:"recipe,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	blobKey   string
	dataKey   []byte
}

// Ref is "name@version".
func (v Version) Ref() string { return fmt.Sprintf("%s@%d", v.Dataset, v.Version) }

// FormatParquet is the storage format of versions' content.
const FormatParquet = "parquet"

// Labels binding sealed streams to their use (see crypt.go).
const (
	sealLabelContent = "hygie dataset content"
	sealLabelSpool   = "hygie spool"
)

// Service manages datasets.
type Service struct {
	db    *db.DB
	blobs blob.Store
	keys  *keys.Keyring
	audit *audit.Log
	now   func() time.Time
}

// NewService returns the dataset service.
func NewService(d *db.DB, b blob.Store, k *keys.Keyring, a *audit.Log) *Service {
	return &Service{db: d, blobs: b, keys: k, audit: a, now: time.Now}
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// NewVersion describes a version to create.
type NewVersion struct {
	Project, Dataset string
	Frame            *Frame
	// Table is the text form of the content, converted to a Frame when
	// Frame is nil (each cell read as its column's type).
	Table  *Table
	Level  Level
	Parent *Version // nil for an import
	Recipe string   // the recipe text that produced it, if any
}

// checkNew checks what a new version needs before its content is read:
// a valid dataset name and level, and the permission to write it.
func (s *Service) checkNew(ctx context.Context, project, dataset string, level Level) error {
	if !nameRE.MatchString(dataset) {
		return errs.Invalidf("dataset name %q: use lower-case letters, digits, '_' or '-', starting with a letter", dataset)
	}
	if !ValidLevel(level) {
		return errs.Invalidf("privacy level %q: want identifying, pseudonymized, anonymized or aggregate", level)
	}
	perm := auth.PermDatasetWrite
	if level == Identifying {
		perm = auth.PermIdentifyingData
	}
	return auth.Require(ctx, project, perm)
}

// checkLevel refuses direct identifiers in versions that are not
// identifying.
func checkLevel(cols []Column, level Level) error {
	if level == Identifying {
		return nil
	}
	for _, c := range cols {
		if c.Role.Identifying() && c.Role != RolePatientID {
			return errs.Invalidf("column %q has role %s: a %s version cannot hold direct identifiers", c.Name, c.Role, level)
		}
	}
	return nil
}

// Create stores a new version. Identical content (same digest, schema and
// level) in the same dataset returns the existing version instead.
func (s *Service) Create(ctx context.Context, nv NewVersion) (Version, bool, error) {
	if err := s.checkNew(ctx, nv.Project, nv.Dataset, nv.Level); err != nil {
		return Version{}, false, err
	}
	f := nv.Frame
	if f == nil {
		if nv.Table == nil {
			return Version{}, false, errs.Invalidf("no content: a new version needs a frame or a table")
		}
		var err error
		if f, err = nv.Table.ToFrame(); err != nil {
			return Version{}, false, err
		}
	}
	if err := f.Validate(); err != nil {
		return Version{}, false, err
	}
	cols := slices.Clone(f.Columns)
	if err := checkColumns(cols); err != nil {
		return Version{}, false, err
	}
	if err := checkLevel(cols, nv.Level); err != nil {
		return Version{}, false, err
	}
	return s.store(ctx, nv, cols, func(fw *frameWriter) error { return fw.Write(f) }, nil)
}

// store encodes content (written by encode onto a frameWriter with cols) as
// a new version described by nv, streaming it to the blob store, then
// records it. The caller has run checkNew, checkColumns and checkLevel.
// Identical content already stored in the dataset returns that version.
func (s *Service) store(ctx context.Context, nv NewVersion, cols []Column, encode func(*frameWriter) error, detail map[string]any) (Version, bool, error) {
	schema, err := json.Marshal(cols)
	if err != nil {
		return Version{}, false, err
	}
	v := Version{Project: nv.Project, Dataset: nv.Dataset, Columns: cols, Level: nv.Level, Format: FormatParquet,
		Recipe: nv.Recipe, CreatedBy: audit.ActorFrom(ctx)}
	if nv.Parent != nil {
		v.ParentID, v.Parent = &nv.Parent.ID, nv.Parent.Ref()
	}

	// The content streams through the hash (and the cipher) into the blob
	// store, which reads it from a pipe: no copy of the whole is ever held.
	var dataKey []byte
	pr, pw := io.Pipe()
	put := func() (string, error) {
		key, _, err := blob.PutContent(ctx, s.blobs, pr)
		return key, err
	}
	if nv.Level == Identifying {
		dataKey = keys.Random()
		key := "datasets/encrypted/" + hex.EncodeToString(keys.Random()[:16])
		put = func() (string, error) {
			_, err := s.blobs.Put(ctx, key, pr)
			return key, err
		}
	}
	type putResult struct {
		key string
		err error
	}
	done := make(chan putResult, 1)
	go func() {
		key, err := put()
		// Unblock the writer if the store stopped reading early.
		pr.CloseWithError(cmpErr(err, errors.New("blob store stopped reading")))
		done <- putResult{key, err}
	}()
	h := sha256.New()
	rows, encErr := encodeContent(pw, h, dataKey, cols, encode)
	pw.CloseWithError(encErr)
	res := <-done
	discard := func() {
		if nv.Level == Identifying && res.err == nil {
			// A random key: nothing else refers to this blob.
			if err := s.blobs.Delete(context.WithoutCancel(ctx), res.key); err != nil {
				slog.WarnContext(ctx, "dataset: delete unused encrypted content", "key", res.key, "err", err)
			}
		}
	}
	if encErr != nil {
		discard()
		if res.err != nil && errors.Is(encErr, res.err) {
			return Version{}, false, fmt.Errorf("store dataset content: %w", res.err)
		}
		return Version{}, false, encErr
	}
	if res.err != nil {
		return Version{}, false, fmt.Errorf("store dataset content: %w", res.err)
	}
	h.Write(schema)
	h.Write([]byte(nv.Level))
	v.Digest = hex.EncodeToString(h.Sum(nil))
	v.Rows = int(rows)
	v.blobKey = res.key
	if dataKey != nil {
		v.Encrypted = true
		v.dataKey = s.keys.Wrap(dataKey, []byte("dataset-version:"+v.Digest))
	}

	if existing, err := s.byDigest(ctx, nv.Project, nv.Dataset, v.Digest); err == nil {
		discard()
		return existing, false, nil
	} else if !errs.Is(err, errs.NotFound) {
		discard()
		return Version{}, false, err
	}
	if detail == nil {
		detail = map[string]any{}
	}
	detail["rows"], detail["privacy_level"], detail["parent"] = v.Rows, v.Level, v.Parent
	v.CreatedAt = s.now().UTC()
	existing := false
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, db.LockVersions); err != nil {
			return err
		}
		// The same content may have been committed since the check above by
		// a concurrent import: under the lock, this second check is final.
		prev, err := scanVersion(tx.QueryRow(ctx, `SELECT `+versionCols+versionFrom+`WHERE p.name = ? AND d.name = ? AND v.digest = ?`, nv.Project, nv.Dataset, v.Digest))
		if err == nil {
			v, existing = prev, true
			return nil
		} else if err != sql.ErrNoRows {
			return err
		}
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, nv.Project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", nv.Project)
		}
		var dsID int64
		err = tx.QueryRow(ctx, `SELECT id FROM datasets WHERE project_id = ? AND name = ?`, pid, nv.Dataset).Scan(&dsID)
		if err == sql.ErrNoRows {
			err = tx.QueryRow(ctx, `INSERT INTO datasets (project_id, name, created_at) VALUES (?, ?, ?) RETURNING id`, pid, nv.Dataset, v.CreatedAt).Scan(&dsID)
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM dataset_versions WHERE dataset_id = ?`, dsID).Scan(&v.Version); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO dataset_versions (dataset_id, version, digest, blob_key, format, data_key, schema_json, row_count, privacy_level, parent_id, recipe, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			dsID, v.Version, v.Digest, v.blobKey, v.Format, v.dataKey, string(schema), v.Rows, string(v.Level), v.ParentID, v.Recipe, v.CreatedAt, v.CreatedBy).Scan(&v.ID)
		if err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "dataset.version.create", Project: nv.Project, Target: "dataset:" + v.Ref(), Outcome: audit.Success,
			Detail: audit.MarshalDetail(detail)})
	})
	if err != nil || existing {
		discard()
	}
	return v, err == nil && !existing, err
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// encodeContent writes the Parquet encoding of the content onto w, through
// h and, with a data key, the cipher. It returns the number of rows.
func encodeContent(w io.Writer, h io.Writer, dataKey []byte, cols []Column, encode func(*frameWriter) error) (int64, error) {
	var sw *sealWriter
	if dataKey != nil {
		var err error
		if sw, err = newSealWriter(w, dataKey, sealLabelContent); err != nil {
			return 0, err
		}
		w = sw
	}
	fw, err := newFrameWriter(io.MultiWriter(h, w), cols)
	if err != nil {
		return 0, err
	}
	if err := encode(fw); err != nil {
		return 0, err
	}
	if err := fw.Close(); err != nil {
		return 0, err
	}
	if sw != nil {
		if err := sw.Close(); err != nil {
			return 0, err
		}
	}
	return fw.Rows(), nil
}

const versionCols = `v.id, p.name, d.name, v.version, v.digest, v.blob_key, v.format, v.data_key, v.schema_json, v.row_count, v.privacy_level, v.parent_id, v.recipe, v.created_at, v.created_by,
	COALESCE((SELECT pd.name || '@' || CAST(pv.version AS TEXT) FROM dataset_versions pv JOIN datasets pd ON pd.id = pv.dataset_id WHERE pv.id = v.parent_id), '')`
const versionFrom = ` FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id JOIN projects p ON p.id = d.project_id `

func scanVersion(r db.Scanner) (Version, error) {
	var (
		v      Version
		schema string
		parent sql.NullInt64
		level  string
	)
	err := r.Scan(&v.ID, &v.Project, &v.Dataset, &v.Version, &v.Digest, &v.blobKey, &v.Format, &v.dataKey, &schema, &v.Rows, &level, &parent, &v.Recipe, &v.CreatedAt, &v.CreatedBy, &v.Parent)
	if err != nil {
		return v, err
	}
	v.Level = Level(level)
	v.Encrypted = len(v.dataKey) > 0
	v.CreatedAt = v.CreatedAt.UTC()
	if parent.Valid {
		v.ParentID = &parent.Int64
	}
	return v, json.Unmarshal([]byte(schema), &v.Columns)
}

func (s *Service) byDigest(ctx context.Context, project, name, digest string) (Version, error) {
	v, err := scanVersion(s.db.QueryRow(ctx, `SELECT `+versionCols+versionFrom+`WHERE p.name = ? AND d.name = ? AND v.digest = ?`, project, name, digest))
	return v, db.NotFound(err, "no such version")
}

// Get returns a version's metadata; version 0 means the latest.
func (s *Service) Get(ctx context.Context, project, name string, version int) (Version, error) {
	q := `SELECT ` + versionCols + versionFrom + `WHERE p.name = ? AND d.name = ?`
	args := []any{project, name}
	if version > 0 {
		q += ` AND v.version = ?`
		args = append(args, version)
	} else {
		q += ` ORDER BY v.version DESC LIMIT 1`
	}
	v, err := scanVersion(s.db.QueryRow(ctx, q, args...))
	if version > 0 {
		return v, db.NotFound(err, "dataset %s@%d not found in project %q", name, version, project)
	}
	return v, db.NotFound(err, "dataset %q not found in project %q", name, project)
}

// ByID returns a version by id.
func (s *Service) ByID(ctx context.Context, id int64) (Version, error) {
	v, err := scanVersion(s.db.QueryRow(ctx, `SELECT `+versionCols+versionFrom+`WHERE v.id = ?`, id))
	return v, db.NotFound(err, "dataset version %d not found", id)
}

// List returns the latest version of every dataset of a project.
func (s *Service) List(ctx context.Context, project string) ([]Version, error) {
	return s.list(ctx, `WHERE p.name = ? AND v.version = (SELECT MAX(version) FROM dataset_versions WHERE dataset_id = d.id) ORDER BY d.name`, project)
}

// Versions returns every version of a dataset, newest first.
func (s *Service) Versions(ctx context.Context, project, name string) ([]Version, error) {
	return s.list(ctx, `WHERE p.name = ? AND d.name = ? ORDER BY v.version DESC`, project, name)
}

func (s *Service) list(ctx context.Context, where string, args ...any) ([]Version, error) {
	return db.All(ctx, s.db, scanVersion, `SELECT `+versionCols+versionFrom+where, args...)
}

// Lineage returns v and its ancestors, v first.
func (s *Service) Lineage(ctx context.Context, v Version) ([]Version, error) {
	out := []Version{v}
	for cur := v; cur.ParentID != nil; {
		p, err := s.ByID(ctx, *cur.ParentID)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
		cur = p
		if len(out) > 10000 {
			return nil, fmt.Errorf("lineage of %s is cyclic", v.Ref())
		}
	}
	return out, nil
}
