// Package pseudo replaces direct identifiers by keyed pseudonyms: an
// HMAC-SHA256 of the identifier under a per-project secret key (the
// pseudonym domain), so the same patient gets the same pseudonym across
// extracts of one project and unrelated pseudonyms across projects, and
// nobody without the key can recompute or reverse them.
//
// The key is generated on first use and stored wrapped by the master key.
// A project may hold several named domains (package vault), each with its
// own key and pseudonym format (Format). Pseudonymizing also records the
// pseudonym → identifier mapping in the vault, shifts dates by a secret
// per-patient offset, top-codes ages and de-identifies free text (Spec).
package pseudo

import (
	"context"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/keys"
	"github.com/hygie-health/hygie/internal/privacy/vault"
)

// Service pseudonymizes dataset versions.
type Service struct {
	db       *db.DB
	keys     *keys.Keyring
	datasets *dataset.Service
	audit    *audit.Log
	vault    *vault.Service
	now      func() time.Time
}

// NewService returns the pseudonymization service.
func NewService(d *db.DB, k *keys.Keyring, ds *dataset.Service, a *audit.Log) *Service {
	return &Service{db: d, keys: k, datasets: ds, audit: a, vault: vault.NewService(d, k, a), now: time.Now}
}

// Vault returns the vault service the pseudonymizations write to.
func (s *Service) Vault() *vault.Service { return s.vault }

// Pseudonym computes the pseudonym of an identifier under key in the legacy
// format of the default domain ("PS" and 20 hexadecimal characters).
func Pseudonym(key []byte, id string) string {
	return LegacyFormat.Make(key, id)
}

// Result describes a pseudonymization.
type Result struct {
	Version       dataset.Version `json:"version"`
	Created       bool            `json:"created"`
	Domain        string          `json:"domain"`
	Pseudonymized []string        `json:"pseudonymized_columns"`
	Dropped       []string        `json:"dropped_columns"`
	Generalized   []string        `json:"generalized_columns"`
	Shifted       []string        `json:"shifted_columns,omitempty"`
	TopCoded      []string        `json:"top_coded_columns,omitempty"`
	Deidentified  []string        `json:"deidentified_columns,omitempty"`
	VaultEntries  int             `json:"vault_entries"`
}

// Pseudonymize derives a pseudonymized version from an identifying one with
// the default spec: patient_id columns become keyed pseudonyms of the
// project's default domain (recorded in the vault), direct identifiers and
// free text are dropped, date or datetime columns that are
// quasi-identifiers (birth dates) keep only the year, and ages above 89 are
// top-coded. Input it cannot process is rejected, never passed through.
func (s *Service) Pseudonymize(ctx context.Context, src dataset.Version) (Result, error) {
	return s.PseudonymizeWith(ctx, src, Spec{})
}

// PseudonymizeWith derives a pseudonymized version from an identifying one
// as spec says (see Spec). Any cell it cannot process fails the whole
// operation with an error naming the row and column, never the value;
// nothing is created then.
func (s *Service) PseudonymizeWith(ctx context.Context, src dataset.Version, spec Spec) (Result, error) {
	if src.Level != dataset.Identifying {
		return Result{}, errs.Invalidf("dataset %s is %s: only identifying versions are pseudonymized", src.Ref(), src.Level)
	}
	if err := auth.Require(ctx, src.Project, auth.PermIdentifyingData); err != nil {
		return Result{}, err
	}
	if err := spec.normalize(); err != nil {
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
	dom, err := s.vault.Domain(ctx, src.Project, spec.Domain, spec.Format.String())
	if err != nil {
		return Result{}, err
	}
	p := &run{spec: spec, src: src, f: f, key: dom.Key(), entries: map[string]string{}}
	out, res, err := p.apply()
	if err != nil {
		return Result{}, err
	}
	res.Domain = spec.Domain
	if spec.vault() {
		if err := s.vault.Put(ctx, dom, p.entries); err != nil {
			return Result{}, err
		}
		res.VaultEntries = len(p.entries)
	}
	v, created, err := s.datasets.Create(ctx, dataset.NewVersion{Project: src.Project, Dataset: spec.Output(src), Frame: out,
		Level: dataset.Pseudonymized, Parent: &src, Recipe: p.recipe(res)})
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
