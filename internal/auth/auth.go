// Package auth holds users, their API tokens and web sessions, per-project
// role grants, and the access policy (roles → permissions). Deny by default:
// a permission exists only where roles.go lists it.
//
// Tokens are random, shown once, and stored as SHA-256 hashes; passwords are
// stored as bcrypt hashes.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Service manages users, tokens and grants.
type Service struct {
	db     *db.DB
	audit  *audit.Log
	now    func() time.Time
	tokens tokenCache // recent token lookups (see TokenCacheTTL)
}

// NewService returns the auth service.
func NewService(d *db.DB, a *audit.Log) *Service {
	return &Service{db: d, audit: a, now: time.Now}
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// User is an account.
type User struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Admin       bool      `json:"admin"`
	Disabled    bool      `json:"disabled"`
	HasPassword bool      `json:"has_password"`
	CreatedAt   time.Time `json:"created_at"`
}

// Token describes an API token or session (never its secret).
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	Kind       string     `json:"kind"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

var usernameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,62}$`)

// ValidateUsername checks a username's form.
func ValidateUsername(name string) error {
	if !usernameRE.MatchString(name) {
		return errs.Invalidf("username %q: use 2-63 characters, lower-case letters, digits, '.', '_' or '-', starting with a letter", name)
	}
	return nil
}

// CreateUser adds a user. password may be empty (token-only account).
func (s *Service) CreateUser(ctx context.Context, username, displayName, password string, admin bool) (User, error) {
	if err := ValidateUsername(username); err != nil {
		return User{}, err
	}
	var hash sql.NullString
	if password != "" {
		if len(password) < 12 {
			return User{}, errs.Invalidf("password: at least 12 characters")
		}
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return User{}, errs.Invalidf("password: %v", err)
		}
		hash = sql.NullString{String: string(h), Valid: true}
	}
	u := User{Username: username, DisplayName: displayName, Admin: admin, HasPassword: hash.Valid, CreatedAt: s.now().UTC()}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO users (username, display_name, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			username, displayName, hash, admin, u.CreatedAt).Scan(&u.ID)
		if db.IsUniqueViolation(err) {
			return errs.Conflictf("user %q already exists", username)
		}
		if err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "user.create", Target: "user:" + username, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"admin": admin})})
	})
	return u, err
}

// CountUsers returns the number of users.
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

const userCols = `id, username, display_name, password_hash IS NOT NULL, is_admin, disabled, created_at`

func scanUser(r db.Scanner) (User, error) {
	var u User
	err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &u.HasPassword, &u.Admin, &u.Disabled, &u.CreatedAt)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

// UserByName returns a user.
func (s *Service) UserByName(ctx context.Context, username string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE username = ?`, username))
	return u, db.NotFound(err, "user %q not found", username)
}

// Users lists all users.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	return db.All(ctx, s.db, scanUser, `SELECT `+userCols+` FROM users ORDER BY username`)
}

// Token kinds.
const (
	KindAPI     = "api"
	KindSession = "session"
)

// tokenPrefix marks hygie secrets so secret scanners can find leaked ones.
const tokenPrefix = "hyg_"

// NewSecret returns a new random token secret.
func NewSecret() string {
	b := make([]byte, 25)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateToken issues a token for username. ttl 0 means no expiry. The secret
// is returned once and never stored. secret may be given (bootstrap);
// otherwise one is generated.
func (s *Service) CreateToken(ctx context.Context, username, name, kind string, ttl time.Duration, secret string) (Token, string, error) {
	if kind != KindAPI && kind != KindSession {
		return Token{}, "", errs.Invalidf("token kind %q: want api or session", kind)
	}
	if strings.TrimSpace(name) == "" {
		return Token{}, "", errs.Invalidf("token name must not be empty")
	}
	if ttl < 0 {
		return Token{}, "", errs.Invalidf("token lifetime must not be negative")
	}
	if secret == "" {
		secret = NewSecret()
	} else if len(secret) < 16 {
		return Token{}, "", errs.Invalidf("token: at least 16 characters")
	}
	u, err := s.UserByName(ctx, username)
	if err != nil {
		return Token{}, "", err
	}
	t := Token{UserID: u.ID, Name: name, Kind: kind, Prefix: secret[:min(len(secret), 8)], CreatedAt: s.now().UTC()}
	if ttl > 0 {
		exp := t.CreatedAt.Add(ttl)
		t.ExpiresAt = &exp
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO tokens (user_id, name, kind, hash, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			u.ID, name, kind, hashSecret(secret), t.Prefix, t.CreatedAt, t.ExpiresAt).Scan(&t.ID)
		if db.IsUniqueViolation(err) {
			return errs.Conflictf("token already exists")
		}
		if err != nil {
			return err
		}
		action := "token.create"
		if kind == KindSession {
			action = "session.create"
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: action, Target: fmt.Sprintf("user:%s/token:%d", username, t.ID), Outcome: audit.Success})
	})
	return t, secret, err
}

// Tokens lists a user's tokens (api and session).
func (s *Service) Tokens(ctx context.Context, username string) ([]Token, error) {
	rows, err := s.db.Query(ctx, `SELECT t.id, t.user_id, t.name, t.kind, t.prefix, t.created_at, t.expires_at, t.revoked_at, t.last_used_at
		FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.username = ? ORDER BY t.id`, username)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var exp, rev, used sql.NullTime
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &t.Kind, &t.Prefix, &t.CreatedAt, &exp, &rev, &used); err != nil {
			return nil, err
		}
		t.ExpiresAt, t.RevokedAt, t.LastUsedAt = nullTime(exp), nullTime(rev), nullTime(used)
		out = append(out, t)
	}
	return out, rows.Err()
}

func nullTime(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time.UTC()
	return &t
}

// RevokeToken revokes one of username's tokens by id.
func (s *Service) RevokeToken(ctx context.Context, username string, id int64) error {
	defer s.tokens.clear()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL
			AND user_id = (SELECT id FROM users WHERE username = ?)`, s.now().UTC(), id, username)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("no active token %d for user %q", id, username)
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "token.revoke", Target: fmt.Sprintf("user:%s/token:%d", username, id), Outcome: audit.Success})
	})
}

// RevokeSecret revokes the token with this secret (logout).
func (s *Service) RevokeSecret(ctx context.Context, secret string) error {
	defer s.tokens.clear()
	_, err := s.db.Exec(ctx, `UPDATE tokens SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL`, s.now().UTC(), hashSecret(secret))
	return err
}

// dummyHash is compared against when the user does not exist, so a missing
// user takes as long as a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not-a-real-password"), bcrypt.DefaultCost)
	return h
})

// LastUsedResolution is how stale a token's last-use time may be.
const LastUsedResolution = time.Minute

// errBadCredentials is the one message for every authentication failure, so
// callers cannot probe which usernames exist.
var errBadCredentials = errs.Unauthenticatedf("invalid, expired or revoked credentials")

// Authenticate resolves a token secret to its principal. If username is not
// empty (HTTP Basic), the token must belong to that user.
//
// A successful lookup is remembered for TokenCacheTTL (see there for what
// that means for revocations made elsewhere), so that a client sending many
// requests costs a hash and a map lookup instead of two queries each time.
func (s *Service) Authenticate(ctx context.Context, username, secret string) (*Principal, error) {
	key := sha256.Sum256([]byte(secret))
	now := s.now()
	e, gen, ok := s.tokens.get(key, now)
	if !ok {
		var err error
		if e, err = s.lookupToken(ctx, hex.EncodeToString(key[:]), username, now); err != nil {
			return nil, err
		}
		s.tokens.put(key, e, gen)
	}
	if (e.expires != nil && !now.Before(*e.expires)) || (username != "" && subtle.ConstantTimeCompare([]byte(username), []byte(e.principal.Username)) != 1) {
		return nil, errBadCredentials
	}
	return e.principal, nil
}

// lookupToken reads a token and its user's grants; it fails for unknown,
// revoked or expired tokens, disabled users, and (username not empty) a
// token of another user.
func (s *Service) lookupToken(ctx context.Context, hash, username string, now time.Time) (cachedToken, error) {
	var (
		id, uid    int64
		name       string
		admin, off bool
		exp, rev   sql.NullTime
		used       sql.NullTime
	)
	err := s.db.QueryRow(ctx, `SELECT t.id, u.id, u.username, u.is_admin, u.disabled, t.expires_at, t.revoked_at, t.last_used_at
		FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`, hash).
		Scan(&id, &uid, &name, &admin, &off, &exp, &rev, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return cachedToken{}, errBadCredentials
	}
	if err != nil {
		return cachedToken{}, err
	}
	if off || rev.Valid || (exp.Valid && !now.Before(exp.Time)) || (username != "" && subtle.ConstantTimeCompare([]byte(username), []byte(name)) != 1) {
		return cachedToken{}, errBadCredentials
	}
	// Best effort and at most once a minute: last use is informative, not
	// worth a database write on every request or failing one for.
	if !used.Valid || now.Sub(used.Time) >= LastUsedResolution {
		_, _ = s.db.Exec(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, now.UTC(), id)
	}
	p, err := s.principal(ctx, uid, name, admin)
	if err != nil {
		return cachedToken{}, err
	}
	return cachedToken{principal: p, expires: nullTime(exp), readAt: now}, nil
}

// CheckPassword verifies a username and password and returns the principal.
func (s *Service) CheckPassword(ctx context.Context, username, password string) (*Principal, error) {
	var (
		uid   int64
		hash  sql.NullString
		admin bool
		off   bool
	)
	err := s.db.QueryRow(ctx, `SELECT id, password_hash, is_admin, disabled FROM users WHERE username = ?`, username).Scan(&uid, &hash, &admin, &off)
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the same time as a real check.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, err
	}
	if off || !hash.Valid || bcrypt.CompareHashAndPassword([]byte(hash.String), []byte(password)) != nil {
		return nil, errBadCredentials
	}
	return s.principal(ctx, uid, username, admin)
}

func (s *Service) principal(ctx context.Context, uid int64, name string, admin bool) (*Principal, error) {
	p := &Principal{UserID: uid, Username: name, Admin: admin, Roles: map[string][]Role{}}
	rows, err := s.db.Query(ctx, `SELECT p.name, g.role FROM grants g JOIN projects p ON p.id = g.project_id WHERE g.user_id = ? ORDER BY p.name, g.role`, uid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var proj, role string
		if err := rows.Scan(&proj, &role); err != nil {
			return nil, err
		}
		p.Roles[proj] = append(p.Roles[proj], Role(role))
	}
	return p, rows.Err()
}

// PrincipalOf loads the principal of a user by name (offline CLI use).
func (s *Service) PrincipalOf(ctx context.Context, username string) (*Principal, error) {
	u, err := s.UserByName(ctx, username)
	if err != nil {
		return nil, err
	}
	return s.principal(ctx, u.ID, u.Username, u.Admin)
}

// Grant gives username role in project.
func (s *Service) Grant(ctx context.Context, project, username string, role Role) error {
	if !ValidRole(role) {
		return errs.Invalidf("role %q: want one of %v", role, Roles)
	}
	defer s.tokens.clear() // cached principals carry roles
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		pid, uid, err := s.ids(ctx, tx, project, username)
		if err != nil {
			return err
		}
		// A grant that followed a directory group becomes a grant by hand:
		// it stays when the user leaves the group. (Checked first: on
		// PostgreSQL a failed INSERT would abort the transaction.)
		res, err := tx.Exec(ctx, `UPDATE grants SET source = '' WHERE project_id = ? AND user_id = ? AND role = ? AND source = ?`, pid, uid, string(role), grantSourceDirectory)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			_, err = tx.Exec(ctx, `INSERT INTO grants (project_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`, pid, uid, string(role), s.now().UTC())
			if db.IsUniqueViolation(err) {
				return errs.Conflictf("user %q already has role %s in project %q", username, role, project)
			}
		}
		if err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "grant.create", Project: project, Target: "user:" + username, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"role": role})})
	})
}

// Revoke removes username's role in project.
func (s *Service) Revoke(ctx context.Context, project, username string, role Role) error {
	defer s.tokens.clear() // cached principals carry roles
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		pid, uid, err := s.ids(ctx, tx, project, username)
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM grants WHERE project_id = ? AND user_id = ? AND role = ?`, pid, uid, string(role))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("user %q has no role %s in project %q", username, role, project)
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "grant.delete", Project: project, Target: "user:" + username, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"role": role})})
	})
}

// Member is a user's roles in a project.
type Member struct {
	Username string `json:"username"`
	Roles    []Role `json:"roles"`
	// Grants are the same roles with where each comes from.
	Grants []MemberGrant `json:"grants"`
}

// MemberGrant is one role of a member and its source: "" for a grant by
// hand, "directory" for one that follows a directory group (see
// SignInExternal): it is brought back or removed at each sign-in.
type MemberGrant struct {
	Role   Role   `json:"role"`
	Source string `json:"source"`
}

// FromDirectory reports whether the grant follows a directory group.
func (g MemberGrant) FromDirectory() bool { return g.Source == grantSourceDirectory }

// Members lists a project's members and their roles.
func (s *Service) Members(ctx context.Context, project string) ([]Member, error) {
	rows, err := s.db.Query(ctx, `SELECT u.username, g.role, g.source FROM grants g JOIN users u ON u.id = g.user_id
		JOIN projects p ON p.id = g.project_id WHERE p.name = ? ORDER BY u.username, g.role`, project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var name, role, source string
		if err := rows.Scan(&name, &role, &source); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Username != name {
			out = append(out, Member{Username: name})
		}
		m := &out[len(out)-1]
		m.Roles = append(m.Roles, Role(role))
		m.Grants = append(m.Grants, MemberGrant{Role: Role(role), Source: source})
	}
	return out, rows.Err()
}

func (s *Service) ids(ctx context.Context, q db.Querier, project, username string) (pid, uid int64, err error) {
	if err := q.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
		return 0, 0, db.NotFound(err, "project %q not found", project)
	}
	if err := q.QueryRow(ctx, `SELECT id FROM users WHERE username = ?`, username).Scan(&uid); err != nil {
		return 0, 0, db.NotFound(err, "user %q not found", username)
	}
	return pid, uid, nil
}

// Bootstrap creates user "admin" with the given token when no user exists.
// It reports whether it created the user.
func (s *Service) Bootstrap(ctx context.Context, token string) (bool, error) {
	if token == "" {
		return false, nil
	}
	n, err := s.CountUsers(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	if _, err := s.CreateUser(ctx, "admin", "Administrator", "", true); err != nil {
		if errs.Is(err, errs.Conflict) {
			return false, nil // another replica won the race
		}
		return false, err
	}
	if _, _, err := s.CreateToken(ctx, "admin", "bootstrap", KindAPI, 0, token); err != nil {
		return false, err
	}
	return true, nil
}

// Holds reports whether user holds perm in project through a grant stored
// in d, now (a sign-off or an assignment stops counting when the role is
// revoked). Instance administrators are not counted: this asks about roles.
func Holds(ctx context.Context, d *db.DB, user, project string, perm Perm) (bool, error) {
	rows, err := d.Query(ctx, `SELECT g.role FROM grants g JOIN users u ON u.id = g.user_id JOIN projects p ON p.id = g.project_id WHERE u.username = ? AND p.name = ?`, user, project)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var role string
		if err := rows.Scan(&role); err != nil {
			return false, err
		}
		if RoleHas(Role(role), perm) {
			return true, nil
		}
	}
	return false, rows.Err()
}
