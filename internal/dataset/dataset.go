// Package dataset holds datasets and their immutable, content-addressed
// versions: schema with column roles, privacy level, lineage to the parent
// version and the recipe that produced it. Versions at the identifying level
// are encrypted at rest with a per-version data key wrapped by the master
// key, and only stewards read them, each read audited.
package dataset

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
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
	Table            *Table
	Level            Level
	Parent           *Version // nil for an import
	Recipe           string   // the recipe text that produced it, if any
}

// Create stores a new version. Identical content (same digest, schema and
// level) in the same dataset returns the existing version instead.
func (s *Service) Create(ctx context.Context, nv NewVersion) (Version, bool, error) {
	if !nameRE.MatchString(nv.Dataset) {
		return Version{}, false, errs.Invalidf("dataset name %q: use lower-case letters, digits, '_' or '-', starting with a letter", nv.Dataset)
	}
	if !ValidLevel(nv.Level) {
		return Version{}, false, errs.Invalidf("privacy level %q: want identifying, pseudonymized, anonymized or aggregate", nv.Level)
	}
	perm := auth.PermDatasetWrite
	if nv.Level == Identifying {
		perm = auth.PermIdentifyingData
	}
	if err := auth.Require(ctx, nv.Project, perm); err != nil {
		return Version{}, false, err
	}
	if err := nv.Table.Validate(); err != nil {
		return Version{}, false, err
	}
	if nv.Level != Identifying {
		for _, c := range nv.Table.Columns {
			if c.Role.Identifying() && c.Role != RolePatientID {
				return Version{}, false, errs.Invalidf("column %q has role %s: a %s version cannot hold direct identifiers", c.Name, c.Role, nv.Level)
			}
		}
	}
	var buf bytes.Buffer
	if err := nv.Table.WriteCSV(&buf); err != nil {
		return Version{}, false, err
	}
	schema, _ := json.Marshal(nv.Table.Columns)
	sum := sha256.New()
	sum.Write(buf.Bytes())
	sum.Write(schema)
	sum.Write([]byte(nv.Level))
	digest := hex.EncodeToString(sum.Sum(nil))

	if existing, err := s.byDigest(ctx, nv.Project, nv.Dataset, digest); err == nil {
		return existing, false, nil
	} else if !errs.Is(err, errs.NotFound) {
		return Version{}, false, err
	}

	v := Version{Project: nv.Project, Dataset: nv.Dataset, Digest: digest, Columns: nv.Table.Columns, Rows: len(nv.Table.Rows),
		Level: nv.Level, Recipe: nv.Recipe, CreatedAt: s.now().UTC(), CreatedBy: audit.ActorFrom(ctx)}
	if nv.Parent != nil {
		v.ParentID, v.Parent = &nv.Parent.ID, nv.Parent.Ref()
	}
	// Store the content first: an orphan blob is harmless, a row without
	// content is not.
	if nv.Level == Identifying {
		dk := keys.Random()
		ct, err := seal(dk, buf.Bytes(), []byte(digest))
		if err != nil {
			return Version{}, false, err
		}
		v.Encrypted = true
		v.dataKey = s.keys.Wrap(dk, []byte("dataset-version:"+digest))
		v.blobKey = "datasets/encrypted/" + digest + "-" + hex.EncodeToString(keys.Random()[:8])
		if _, err := s.blobs.Put(ctx, v.blobKey, bytes.NewReader(ct)); err != nil {
			return Version{}, false, fmt.Errorf("store dataset content: %w", err)
		}
	} else {
		key, _, err := blob.PutContent(ctx, s.blobs, bytes.NewReader(buf.Bytes()))
		if err != nil {
			return Version{}, false, fmt.Errorf("store dataset content: %w", err)
		}
		v.blobKey = key
	}
	existing := false
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, db.LockVersions); err != nil {
			return err
		}
		// The same content may have been committed since the check above by
		// a concurrent import: under the lock, this second check is final.
		prev, err := scanVersion(tx.QueryRow(ctx, `SELECT `+versionCols+versionFrom+`WHERE p.name = ? AND d.name = ? AND v.digest = ?`, nv.Project, nv.Dataset, digest))
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
			VALUES (?, ?, ?, ?, 'csv', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			dsID, v.Version, digest, v.blobKey, v.dataKey, string(schema), v.Rows, string(v.Level), v.ParentID, v.Recipe, v.CreatedAt, v.CreatedBy).Scan(&v.ID)
		if err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "dataset.version.create", Project: nv.Project, Target: "dataset:" + v.Ref(), Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"rows": v.Rows, "privacy_level": v.Level, "parent": v.Parent})})
	})
	return v, err == nil && !existing, err
}

const versionCols = `v.id, p.name, d.name, v.version, v.digest, v.blob_key, v.data_key, v.schema_json, v.row_count, v.privacy_level, v.parent_id, v.recipe, v.created_at, v.created_by,
	COALESCE((SELECT pd.name || '@' || CAST(pv.version AS TEXT) FROM dataset_versions pv JOIN datasets pd ON pd.id = pv.dataset_id WHERE pv.id = v.parent_id), '')`
const versionFrom = ` FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id JOIN projects p ON p.id = d.project_id `

func scanVersion(r db.Scanner) (Version, error) {
	var (
		v      Version
		schema string
		parent sql.NullInt64
		level  string
	)
	err := r.Scan(&v.ID, &v.Project, &v.Dataset, &v.Version, &v.Digest, &v.blobKey, &v.dataKey, &schema, &v.Rows, &level, &parent, &v.Recipe, &v.CreatedAt, &v.CreatedBy, &v.Parent)
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

// Read loads a version's content. Identifying versions need the steward's
// permission, and every read of one is audited, allowed or not.
func (s *Service) Read(ctx context.Context, v Version) (*Table, error) {
	if v.Level == Identifying {
		err := auth.Require(ctx, v.Project, auth.PermIdentifyingData)
		outcome := audit.Success
		if err != nil {
			outcome = audit.Denied
		}
		if aerr := s.audit.Append(ctx, audit.Event{Action: "dataset.read_identifying", Project: v.Project, Target: "dataset:" + v.Ref(), Outcome: outcome}); aerr != nil {
			return nil, aerr
		}
		if err != nil {
			return nil, err
		}
	} else if err := auth.Require(ctx, v.Project, auth.PermDatasetRead); err != nil {
		return nil, err
	}
	rc, err := s.blobs.Get(ctx, v.blobKey)
	if err != nil {
		return nil, fmt.Errorf("dataset %s content: %w", v.Ref(), err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	if v.Encrypted {
		dk, err := s.keys.Unwrap(v.dataKey, []byte("dataset-version:"+v.Digest))
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", v.Ref(), err)
		}
		if data, err = open(dk, data, []byte(v.Digest)); err != nil {
			return nil, fmt.Errorf("dataset %s: content does not decrypt", v.Ref())
		}
	}
	t, err := ReadCSV(bytes.NewReader(data), v.Ref())
	if err != nil {
		return nil, err
	}
	t.Columns = v.Columns
	return t, nil
}

func seal(key, plaintext, aad []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

func open(key, ciphertext, aad []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < gcm.NonceSize() {
		return nil, fmt.Errorf("ciphertext too short")
	}
	n := gcm.NonceSize()
	return gcm.Open(nil, ciphertext[:n], ciphertext[n:], aad)
}
