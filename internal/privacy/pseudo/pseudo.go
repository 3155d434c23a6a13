// Package pseudo replaces direct identifiers by keyed pseudonyms: an
// HMAC-SHA256 of the identifier under a per-project secret key (the
// pseudonym domain), so the same patient gets the same pseudonym across
// extracts of one project and unrelated pseudonyms across projects, and
// nobody without the key can recompute or reverse them.
//
// The key is generated on first use and stored wrapped by the master key.
package pseudo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/keys"
)

// Service pseudonymizes dataset versions.
type Service struct {
	db       *db.DB
	keys     *keys.Keyring
	datasets *dataset.Service
	audit    *audit.Log
	now      func() time.Time
}

// NewService returns the pseudonymization service.
func NewService(d *db.DB, k *keys.Keyring, ds *dataset.Service, a *audit.Log) *Service {
	return &Service{db: d, keys: k, datasets: ds, audit: a, now: time.Now}
}

const keyName = "pseudonym-key"

// projectKey returns the project's pseudonym key, creating it on first use.
func (s *Service) projectKey(ctx context.Context, project string) ([]byte, error) {
	key, err := s.loadOrCreateKey(ctx, project)
	if db.IsUniqueViolation(err) {
		// A concurrent first use stored its key first: use that one.
		key, err = s.loadOrCreateKey(ctx, project)
	}
	return key, err
}

func (s *Service) loadOrCreateKey(ctx context.Context, project string) ([]byte, error) {
	var key []byte
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", project)
		}
		aad := []byte(fmt.Sprintf("project:%d:%s", pid, keyName))
		var wrapped []byte
		err := tx.QueryRow(ctx, `SELECT wrapped FROM secrets WHERE project_id = ? AND name = ?`, pid, keyName).Scan(&wrapped)
		if err == nil {
			key, err = s.keys.Unwrap(wrapped, aad)
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		key = keys.Random()
		if _, err := tx.Exec(ctx, `INSERT INTO secrets (project_id, name, wrapped, created_at) VALUES (?, ?, ?, ?)`,
			pid, keyName, s.keys.Wrap(key, aad), s.now().UTC()); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "pseudonym_key.create", Project: project, Target: "project:" + project, Outcome: audit.Success})
	})
	return key, err
}

// Pseudonym computes the pseudonym of an identifier under key.
func Pseudonym(key []byte, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return "PS" + hex.EncodeToString(m.Sum(nil))[:20]
}

// Result describes a pseudonymization.
type Result struct {
	Version       dataset.Version `json:"version"`
	Created       bool            `json:"created"`
	Pseudonymized []string        `json:"pseudonymized_columns"`
	Dropped       []string        `json:"dropped_columns"`
	Generalized   []string        `json:"generalized_columns"`
}

// Pseudonymize derives a pseudonymized version from an identifying one:
// patient_id columns become keyed pseudonyms, direct identifiers and free
// text are dropped, and date or datetime columns that are quasi-identifiers
// (birth dates) keep only the year. Input it cannot process is rejected,
// never passed through.
func (s *Service) Pseudonymize(ctx context.Context, src dataset.Version) (Result, error) {
	if src.Level != dataset.Identifying {
		return Result{}, errs.Invalidf("dataset %s is %s: only identifying versions are pseudonymized", src.Ref(), src.Level)
	}
	if err := auth.Require(ctx, src.Project, auth.PermIdentifyingData); err != nil {
		return Result{}, err
	}
	// Check the columns before reading the content.
	for _, c := range src.Columns {
		if c.Role == dataset.RoleQuasiIdentifier && c.Type != dataset.TypeDate && c.Type != dataset.TypeDatetime && looksLikeDate(c.Name) {
			// Fail closed: a birth date we cannot read would pass through whole.
			return Result{}, errs.Invalidf("%s: column %q is a quasi-identifier that looks like a date but is not typed as a date (%s); convert it before pseudonymizing", src.Ref(), c.Name, c.Type)
		}
	}
	f, err := s.datasets.ReadFrame(ctx, src)
	if err != nil {
		return Result{}, err
	}
	key, err := s.projectKey(ctx, src.Project)
	if err != nil {
		return Result{}, err
	}
	var res Result
	out := &dataset.Frame{}
	for i, c := range f.Columns {
		v := f.Vecs[i]
		switch {
		case c.Role == dataset.RolePatientID:
			res.Pseudonymized = append(res.Pseudonymized, c.Name)
			pv := dataset.NewVec(dataset.TypeString, v.Len())
			for r := range v.Len() {
				if v.IsNull(r) {
					// Name the place, never the value.
					return Result{}, errs.Invalidf("%s: row %d, column %q: empty patient id", src.Ref(), r+1, c.Name)
				}
				pv.AppendString(Pseudonym(key, v.String(r)))
			}
			c.Type, v = dataset.TypeString, pv
		case c.Role == dataset.RoleDirectIdentifier || c.Role == dataset.RoleText:
			// Free text may hold names; until it is de-identified it stays out.
			res.Dropped = append(res.Dropped, c.Name)
			continue
		case c.Role == dataset.RoleQuasiIdentifier && (c.Type == dataset.TypeDate || c.Type == dataset.TypeDatetime):
			res.Generalized = append(res.Generalized, c.Name)
			yv := dataset.NewVec(dataset.TypeInteger, v.Len())
			for r := range v.Len() {
				if v.IsNull(r) {
					yv.AppendNull()
					continue
				}
				day := v.I[r]
				if c.Type == dataset.TypeDatetime {
					day = floorDiv(v.I[r], 86400e6)
				}
				yv.AppendInt(int64(dataset.DateFromDays(day).Year()))
			}
			c.Name += "_annee"
			c.Type, v = dataset.TypeInteger, yv
		}
		out.Columns = append(out.Columns, c)
		out.Vecs = append(out.Vecs, v)
	}
	if len(out.Columns) == 0 {
		return Result{}, errs.Invalidf("%s: every column would be dropped", src.Ref())
	}
	recipe := fmt.Sprintf("pseudonymize: hmac-sha256 (project key) on %v; drop %v; year only for %v", res.Pseudonymized, res.Dropped, res.Generalized)
	v, created, err := s.datasets.Create(ctx, dataset.NewVersion{Project: src.Project, Dataset: src.Dataset + "_pseudo", Frame: out,
		Level: dataset.Pseudonymized, Parent: &src, Recipe: recipe})
	if err != nil {
		return Result{}, err
	}
	res.Version, res.Created = v, created
	return res, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// looksLikeDate reports whether a column name suggests a date.
func looksLikeDate(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"date", "naissance", "dob", "birth", "ddn"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
