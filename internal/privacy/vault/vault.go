// Package vault holds a project's pseudonym domains and the vault.
//
// A pseudonym domain is a named secret key of a project (the project's
// "default" domain is the key hygie has always used): pseudonyms computed
// under it are deterministic within the domain and unlinkable across domains
// and projects. Its key is stored wrapped by the master key (package keys)
// and its pseudonym format is fixed when it is created, so that pseudonyms
// stay stable across extracts.
//
// The vault maps a pseudonym back to the original value. Entries are sealed
// with AES-256-GCM under a key derived from the domain key and bound to
// their domain and pseudonym; they are written when a dataset is
// pseudonymized. Opening the vault (Reidentify) needs the reidentifier role
// on the project and a written reason, is audited with that reason and is
// rate-limited per user and hour in the database, so the limit holds across
// processes. The original value is returned to the caller only and never
// logged.
//
// RotateMaster re-wraps every wrapped key under a new master key: domain
// keys do not change, so pseudonyms and vault entries stay valid, and the
// old master key no longer opens anything.
package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/keys"
)

// DefaultDomain is the domain used when none is named. Its key is the
// project's historical pseudonym key (secret "pseudonym-key").
const DefaultDomain = "default"

// Defaults of the re-identification policy.
const (
	DefaultHourlyLimit = 20 // re-identifications per user and hour
	DefaultMinReason   = 10 // characters of the written reason
)

// Service manages pseudonym domains and the vault.
type Service struct {
	db    *db.DB
	keys  *keys.Keyring
	audit *audit.Log
	now   func() time.Time
	// HourlyLimit caps the re-identification attempts of one user per clock
	// hour, across processes (0: DefaultHourlyLimit).
	HourlyLimit int
	// MinReason is the shortest accepted reason, in characters (0: DefaultMinReason).
	MinReason int
}

// NewService returns the vault service.
func NewService(d *db.DB, k *keys.Keyring, a *audit.Log) *Service {
	return &Service{db: d, keys: k, audit: a, now: time.Now}
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Domain is a pseudonym domain with its unwrapped key.
type Domain struct {
	ID      int64
	Project string
	Name    string
	// Format is the domain's pseudonym format as JSON, fixed at creation.
	Format string
	key    []byte
}

// Key returns the domain's secret key (callers derive pseudonyms and
// date offsets from it; it never leaves the process).
func (d Domain) Key() []byte { return d.key }

var domainName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// ValidDomainName checks a domain name.
func ValidDomainName(name string) error {
	if !domainName.MatchString(name) {
		return errs.Invalidf("pseudonym domain %q: want lower-case letters, digits, '_', '.', '-' (at most 63)", name)
	}
	return nil
}

func secretName(domain string) string {
	if domain == DefaultDomain {
		return "pseudonym-key"
	}
	return "pseudonym-key:" + domain
}

// Domain returns the project's domain called name, creating it (and its key)
// on first use with the given format. A domain keeps the format it was
// created with: asking for another one is a conflict, since it would change
// every pseudonym. The caller checks the caller's permission.
func (s *Service) Domain(ctx context.Context, project, name, format string) (Domain, error) {
	if err := ValidDomainName(name); err != nil {
		return Domain{}, err
	}
	d, err := s.loadOrCreate(ctx, project, name, format)
	if db.IsUniqueViolation(err) {
		// A concurrent first use stored its key first: use that one.
		d, err = s.loadOrCreate(ctx, project, name, format)
	}
	if err != nil {
		return Domain{}, err
	}
	if d.Format != format {
		return Domain{}, errs.Conflictf("pseudonym domain %q of project %q was created with another format; pseudonyms would change: use another domain name", name, project)
	}
	return d, nil
}

func (s *Service) loadOrCreate(ctx context.Context, project, name, format string) (Domain, error) {
	d := Domain{Project: project, Name: name}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", project)
		}
		now := s.now().UTC()
		sname := secretName(name)
		aad := []byte(fmt.Sprintf("project:%d:%s", pid, sname))
		var wrapped []byte
		err := tx.QueryRow(ctx, `SELECT wrapped FROM secrets WHERE project_id = ? AND name = ?`, pid, sname).Scan(&wrapped)
		switch {
		case err == nil:
			if d.key, err = s.keys.Unwrap(wrapped, aad); err != nil {
				return err
			}
		case errors.Is(err, sql.ErrNoRows):
			d.key = keys.Random()
			if _, err := tx.Exec(ctx, `INSERT INTO secrets (project_id, name, wrapped, created_at) VALUES (?, ?, ?, ?)`,
				pid, sname, s.keys.Wrap(d.key, aad), now); err != nil {
				return err
			}
			if err := s.audit.AppendTx(ctx, tx, audit.Event{Action: "pseudonym_key.create", Project: project, Target: "domain:" + name, Outcome: audit.Success}); err != nil {
				return err
			}
		default:
			return err
		}
		err = tx.QueryRow(ctx, `SELECT id, format_json FROM pseudonym_domains WHERE project_id = ? AND name = ?`, pid, name).Scan(&d.ID, &d.Format)
		if errors.Is(err, sql.ErrNoRows) {
			d.Format = format
			return tx.QueryRow(ctx, `INSERT INTO pseudonym_domains (project_id, name, format_json, created_at, created_by) VALUES (?, ?, ?, ?, ?) RETURNING id`,
				pid, name, format, now, audit.ActorFrom(ctx)).Scan(&d.ID)
		}
		return err
	})
	return d, err
}

// vaultKey derives the key that seals a domain's vault entries.
func vaultKey(domainKey []byte) []byte {
	m := hmac.New(sha256.New, domainKey)
	m.Write([]byte("hygie/vault/v1"))
	return m.Sum(nil)
}

func entryAAD(domainID int64, pseudonym string) []byte {
	return []byte(fmt.Sprintf("vault:%d:%s", domainID, pseudonym))
}

func aead(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // 32-byte keys only
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}

// Put records pseudonym → original entries of a domain. An entry already
// present is kept (the same pseudonym always comes from the same value).
func (s *Service) Put(ctx context.Context, d Domain, entries map[string]string) error {
	if len(entries) == 0 {
		return nil
	}
	g := aead(vaultKey(d.key))
	now := s.now().UTC()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		for p, orig := range entries {
			nonce := make([]byte, g.NonceSize())
			if _, err := rand.Read(nonce); err != nil {
				return err
			}
			sealed := g.Seal(nonce, nonce, []byte(orig), entryAAD(d.ID, p))
			if _, err := tx.Exec(ctx, `INSERT INTO vault_entries (domain_id, pseudonym, sealed, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (domain_id, pseudonym) DO NOTHING`,
				d.ID, p, sealed, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// Request asks to re-identify a pseudonym.
type Request struct {
	Project   string `json:"-"`
	Domain    string `json:"domain,omitempty"` // empty: any domain of the project
	Pseudonym string `json:"pseudonym"`
	Reason    string `json:"reason"`
}

// Opening is the answer to a re-identification: for the caller only.
type Opening struct {
	Project   string `json:"project"`
	Domain    string `json:"domain"`
	Pseudonym string `json:"pseudonym"`
	Original  string `json:"original"`
}

// Reidentify opens the vault for one pseudonym. It needs vault.open on the
// project and a written reason; every attempt that passes those checks
// counts towards the caller's hourly limit and is audited with the reason.
func (s *Service) Reidentify(ctx context.Context, r Request) (Opening, error) {
	if err := auth.Require(ctx, r.Project, auth.PermVaultOpen); err != nil {
		return Opening{}, err
	}
	minReason := s.MinReason
	if minReason <= 0 {
		minReason = DefaultMinReason
	}
	r.Reason = strings.TrimSpace(r.Reason)
	if utf8.RuneCountInString(r.Reason) < minReason {
		return Opening{}, errs.Invalidf("a written reason of at least %d characters is required to open the vault", minReason)
	}
	if len(r.Reason) > 1000 {
		return Opening{}, errs.Invalidf("reason: at most 1000 bytes")
	}
	r.Pseudonym = strings.TrimSpace(r.Pseudonym)
	if r.Pseudonym == "" || len(r.Pseudonym) > 200 {
		return Opening{}, errs.Invalidf("pseudonym is required (at most 200 bytes)")
	}
	if r.Domain != "" {
		if err := ValidDomainName(r.Domain); err != nil {
			return Opening{}, err
		}
	}
	user := auth.FromContext(ctx).Username
	ev := audit.Event{Action: "vault.reidentify", Project: r.Project, Target: "pseudonym:" + r.Pseudonym, Reason: r.Reason}
	if err := s.countAttempt(ctx, user); err != nil {
		ev.Outcome, ev.Detail = audit.Failure, "rate limit"
		return Opening{}, errors.Join(err, s.audit.Append(ctx, ev))
	}
	op, err := s.open(ctx, r)
	if err != nil {
		ev.Outcome, ev.Detail = audit.Failure, errs.MessageOf(err)
		if aerr := s.audit.Append(ctx, ev); aerr != nil {
			return Opening{}, aerr
		}
		return Opening{}, err
	}
	ev.Outcome, ev.Target = audit.Success, "domain:"+op.Domain+":pseudonym:"+op.Pseudonym
	if err := s.audit.Append(ctx, ev); err != nil {
		// Fail closed: no audit, no value.
		return Opening{}, err
	}
	return op, nil
}

// countAttempt counts one attempt of user in the current clock hour, or
// refuses it when the hour's limit is reached. One statement, so the limit
// holds across concurrent processes.
func (s *Service) countAttempt(ctx context.Context, user string) error {
	limit := s.HourlyLimit
	if limit <= 0 {
		limit = DefaultHourlyLimit
	}
	window := s.now().UTC().Truncate(time.Hour)
	res, err := s.db.Exec(ctx, `INSERT INTO vault_rate (username, window_start, attempts) VALUES (?, ?, 1)
		ON CONFLICT (username, window_start) DO UPDATE SET attempts = vault_rate.attempts + 1 WHERE vault_rate.attempts < ?`,
		user, window, limit)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errs.RateLimitedf("re-identification limit reached: %d per user per hour; try again after %s UTC", limit, window.Add(time.Hour).Format("15:04"))
	}
	return nil
}

func (s *Service) open(ctx context.Context, r Request) (Opening, error) {
	q := `SELECT d.id, d.name, e.sealed FROM vault_entries e JOIN pseudonym_domains d ON d.id = e.domain_id JOIN projects p ON p.id = d.project_id
		WHERE p.name = ? AND e.pseudonym = ?`
	args := []any{r.Project, r.Pseudonym}
	if r.Domain != "" {
		q += ` AND d.name = ?`
		args = append(args, r.Domain)
	}
	type hit struct {
		id     int64
		name   string
		sealed []byte
	}
	hits, err := db.All(ctx, s.db, func(sc db.Scanner) (hit, error) {
		var h hit
		return h, sc.Scan(&h.id, &h.name, &h.sealed)
	}, q+` ORDER BY d.name`, args...)
	if err != nil {
		return Opening{}, err
	}
	switch len(hits) {
	case 0:
		return Opening{}, errs.NotFoundf("pseudonym not found in the vault of project %q", r.Project)
	case 1:
	default:
		return Opening{}, errs.Conflictf("the pseudonym is in %d domains of project %q: name the domain", len(hits), r.Project)
	}
	h := hits[0]
	d, err := s.loadOrCreate(ctx, r.Project, h.name, "")
	if err != nil {
		return Opening{}, err
	}
	g := aead(vaultKey(d.key))
	n := g.NonceSize()
	if len(h.sealed) < n+g.Overhead() {
		return Opening{}, errors.New("vault entry too short")
	}
	pt, err := g.Open(nil, h.sealed[:n], h.sealed[n:], entryAAD(h.id, r.Pseudonym))
	if err != nil {
		return Opening{}, errors.New("vault entry does not open under its domain key")
	}
	return Opening{Project: r.Project, Domain: h.name, Pseudonym: r.Pseudonym, Original: string(pt)}, nil
}

// RotateReport counts what a master-key rotation re-wrapped.
type RotateReport struct {
	Secrets    int    `json:"secrets"`
	DataKeys   int    `json:"dataset_data_keys"`
	Pseudonyms string `json:"pseudonyms"`
}

// RotateMaster re-wraps every key wrapped by the master key old (project
// secrets: pseudonym domain keys; the data keys of encrypted dataset
// versions) under next, in one transaction. Domain keys themselves do not
// change, so pseudonyms and vault entries stay valid. Instance
// administrators only (users.manage). After it, configure next as the master
// key: old no longer opens anything.
func RotateMaster(ctx context.Context, d *db.DB, a *audit.Log, old, next *keys.Keyring) (RotateReport, error) {
	if err := auth.Require(ctx, "", auth.PermUsersManage); err != nil {
		return RotateReport{}, err
	}
	rep := RotateReport{Pseudonyms: "unchanged"}
	err := d.InTx(ctx, func(tx *db.Tx) error {
		type secret struct {
			pid     int64
			name    string
			wrapped []byte
		}
		secrets, err := db.All(ctx, tx, func(sc db.Scanner) (secret, error) {
			var s secret
			return s, sc.Scan(&s.pid, &s.name, &s.wrapped)
		}, `SELECT project_id, name, wrapped FROM secrets ORDER BY project_id, name`)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			aad := []byte(fmt.Sprintf("project:%d:%s", s.pid, s.name))
			k, err := old.Unwrap(s.wrapped, aad)
			if err != nil {
				return errs.Invalidf("secret %q of project %d does not open under the current master key", s.name, s.pid)
			}
			if _, err := tx.Exec(ctx, `UPDATE secrets SET wrapped = ? WHERE project_id = ? AND name = ?`, next.Wrap(k, aad), s.pid, s.name); err != nil {
				return err
			}
			rep.Secrets++
		}
		type dataKey struct {
			id      int64
			digest  string
			wrapped []byte
		}
		dks, err := db.All(ctx, tx, func(sc db.Scanner) (dataKey, error) {
			var k dataKey
			return k, sc.Scan(&k.id, &k.digest, &k.wrapped)
		}, `SELECT id, digest, data_key FROM dataset_versions WHERE data_key IS NOT NULL ORDER BY id`)
		if err != nil {
			return err
		}
		for _, dk := range dks {
			aad := []byte("dataset-version:" + dk.digest)
			k, err := old.Unwrap(dk.wrapped, aad)
			if err != nil {
				return errs.Invalidf("the data key of dataset version %d does not open under the current master key", dk.id)
			}
			if _, err := tx.Exec(ctx, `UPDATE dataset_versions SET data_key = ? WHERE id = ?`, next.Wrap(k, aad), dk.id); err != nil {
				return err
			}
			rep.DataKeys++
		}
		return a.AppendTx(ctx, tx, audit.Event{Action: "master_key.rotate", Target: "instance", Outcome: audit.Success,
			Detail: fmt.Sprintf("re-wrapped %d secrets and %d dataset data keys", rep.Secrets, rep.DataKeys)})
	})
	return rep, err
}
