package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Sources of external users: the directory that vouches for them.
const (
	SourceOIDC = "oidc"
	SourceLDAP = "ldap"
)

// grantSourceDirectory marks a grant that follows a directory group: it is
// added and removed at each sign-in to match the directory. Grants given
// by hand have source ”.
const grantSourceDirectory = "directory"

// DirectoryGrant is a role in a project given by a directory group.
// Project "*" means every project that exists at sign-in.
type DirectoryGrant struct {
	Project string
	Role    Role
}

// ExternalUser is a user as the directory describes them at sign-in.
type ExternalUser struct {
	Source      string // SourceOIDC or SourceLDAP
	Username    string
	DisplayName string
	Grants      []DirectoryGrant
	// Admin sets the instance administrator flag; nil leaves it as it is
	// (no admin groups configured).
	Admin *bool
}

// ErrLocalAccount refuses a directory sign-in for a name that belongs to a
// local account (or to one made by another directory): the directory must
// not take over an account it did not create.
var ErrLocalAccount = errs.Forbiddenf("this username belongs to an account that does not sign in through this directory; ask an administrator")

// AccountSource reports whether username exists and, if so, the directory
// it signs in through ("" for a local account).
func (s *Service) AccountSource(ctx context.Context, username string) (exists bool, source string, err error) {
	err = s.db.QueryRow(ctx, `SELECT external FROM users WHERE username = ?`, username).Scan(&source)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", nil
	}
	return err == nil, source, err
}

// SignInExternal creates or updates the account of a user the directory
// has just authenticated, brings the grants that follow directory groups
// up to date (adding the missing ones, removing those the groups no longer
// give; grants given by hand are left alone), and returns the principal.
// Every change is audited with the source of the sign-in.
func (s *Service) SignInExternal(ctx context.Context, x ExternalUser) (*Principal, error) {
	if x.Source != SourceOIDC && x.Source != SourceLDAP {
		return nil, errs.Invalidf("external source %q: want oidc or ldap", x.Source)
	}
	if err := ValidateUsername(x.Username); err != nil {
		return nil, err
	}
	for _, g := range x.Grants {
		if !ValidRole(g.Role) {
			return nil, errs.Invalidf("role %q: want one of %v", g.Role, Roles)
		}
	}
	defer s.tokens.clear() // cached principals carry roles
	var (
		uid   int64
		admin bool
	)
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var (
			source string
			off    bool
		)
		err := tx.QueryRow(ctx, `SELECT id, external, is_admin, disabled FROM users WHERE username = ?`, x.Username).Scan(&uid, &source, &admin, &off)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if x.Admin != nil {
				admin = *x.Admin
			}
			err = tx.QueryRow(ctx, `INSERT INTO users (username, display_name, password_hash, is_admin, created_at, external) VALUES (?, ?, NULL, ?, ?, ?) RETURNING id`,
				x.Username, x.DisplayName, admin, s.now().UTC(), x.Source).Scan(&uid)
			if err != nil {
				return err
			}
			if err := s.audit.AppendTx(ctx, tx, audit.Event{Action: "user.create", Target: "user:" + x.Username, Outcome: audit.Success,
				Detail: audit.MarshalDetail(map[string]any{"admin": admin, "external": x.Source})}); err != nil {
				return err
			}
		case err != nil:
			return err
		case source != x.Source:
			return ErrLocalAccount
		case off:
			return errBadCredentials
		default:
			wasAdmin := admin
			if x.Admin != nil {
				admin = *x.Admin
			}
			if _, err := tx.Exec(ctx, `UPDATE users SET display_name = ?, is_admin = ? WHERE id = ?`, x.DisplayName, admin, uid); err != nil {
				return err
			}
			if admin != wasAdmin {
				if err := s.audit.AppendTx(ctx, tx, audit.Event{Action: "user.admin", Target: "user:" + x.Username, Outcome: audit.Success,
					Detail: audit.MarshalDetail(map[string]any{"admin": admin, "source": grantSourceDirectory})}); err != nil {
					return err
				}
			}
		}
		return s.syncGrants(ctx, tx, uid, x)
	})
	if err != nil {
		return nil, err
	}
	return s.principal(ctx, uid, x.Username, admin)
}

type projectRole struct {
	project string
	role    Role
}

// syncGrants makes the user's directory grants equal to x.Grants. A grant
// also held by hand stays a hand grant. Mappings naming a project that does
// not exist are ignored.
func (s *Service) syncGrants(ctx context.Context, tx *db.Tx, uid int64, x ExternalUser) error {
	projects := map[string]int64{}
	rows, err := tx.Query(ctx, `SELECT id, name FROM projects`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		projects[name] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	want := map[projectRole]bool{}
	for _, g := range x.Grants {
		if g.Project == "*" {
			for name := range projects {
				want[projectRole{name, g.Role}] = true
			}
		} else if _, ok := projects[g.Project]; ok {
			want[projectRole{g.Project, g.Role}] = true
		}
	}
	have := map[projectRole]string{} // → source
	rows, err = tx.Query(ctx, `SELECT p.name, g.role, g.source FROM grants g JOIN projects p ON p.id = g.project_id WHERE g.user_id = ?`, uid)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name, role, source string
		if err := rows.Scan(&name, &role, &source); err != nil {
			rows.Close()
			return err
		}
		have[projectRole{name, Role(role)}] = source
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var add, drop []projectRole
	for pr := range want {
		if _, ok := have[pr]; !ok {
			add = append(add, pr)
		}
	}
	for pr, source := range have {
		if source == grantSourceDirectory && !want[pr] {
			drop = append(drop, pr)
		}
	}
	sortGrants(add)
	sortGrants(drop)
	now := s.now().UTC()
	for _, pr := range add {
		if _, err := tx.Exec(ctx, `INSERT INTO grants (project_id, user_id, role, created_at, source) VALUES (?, ?, ?, ?, ?)`,
			projects[pr.project], uid, string(pr.role), now, grantSourceDirectory); err != nil {
			return err
		}
		if err := s.audit.AppendTx(ctx, tx, audit.Event{Action: "grant.create", Project: pr.project, Target: "user:" + x.Username, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"role": pr.role, "source": grantSourceDirectory, "via": x.Source})}); err != nil {
			return err
		}
	}
	for _, pr := range drop {
		if _, err := tx.Exec(ctx, `DELETE FROM grants WHERE project_id = ? AND user_id = ? AND role = ? AND source = ?`,
			projects[pr.project], uid, string(pr.role), grantSourceDirectory); err != nil {
			return err
		}
		if err := s.audit.AppendTx(ctx, tx, audit.Event{Action: "grant.delete", Project: pr.project, Target: "user:" + x.Username, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"role": pr.role, "source": grantSourceDirectory, "via": x.Source})}); err != nil {
			return err
		}
	}
	return nil
}

func sortGrants(g []projectRole) {
	sort.Slice(g, func(i, j int) bool {
		return g[i].project < g[j].project || (g[i].project == g[j].project && g[i].role < g[j].role)
	})
}

// DirectoryGrants lists the grants of username that follow directory
// groups, as "project/role" (for display and tests).
func (s *Service) DirectoryGrants(ctx context.Context, username string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT p.name, g.role FROM grants g JOIN projects p ON p.id = g.project_id JOIN users u ON u.id = g.user_id
		WHERE u.username = ? AND g.source = ? ORDER BY p.name, g.role`, username, grantSourceDirectory)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p, r string
		if err := rows.Scan(&p, &r); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s/%s", p, r))
	}
	return out, rows.Err()
}
