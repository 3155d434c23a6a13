// Package sso signs users in through the hospital's directory: OpenID
// Connect (authorization code flow with PKCE, state and nonce) and LDAP or
// Active Directory (search with a service account, bind as the user). Both
// create or update an external hygie account and map directory groups to
// hygie roles per project, through auth.Service.SignInExternal.
//
// Directory DNs name staff: they never reach logs or error messages.
package sso

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/errs"
)

// Options configure the service.
type Options struct {
	OIDC        config.OIDC
	LDAP        config.LDAP
	GroupRoles  []config.GroupRole
	AdminGroups []string
	// RedirectURL is the OIDC callback: <public_url>/login/oidc/callback.
	RedirectURL string
	// HTTPClient reaches the OIDC provider (default http.DefaultClient).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Service signs users in through OIDC and LDAP.
type Service struct {
	auth   *auth.Service
	log    *slog.Logger
	now    func() time.Time
	mapper mapper
	oidc   *oidcClient // nil when OIDC is off
	ldap   *ldapClient // nil when LDAP is off
}

// New checks the options (roles of the mapping, secrets) and returns the
// service. It does not contact the directory: a provider that is down at
// start only fails the sign-ins that need it.
func New(o Options, a *auth.Service) (*Service, error) {
	s := &Service{auth: a, log: o.Logger, now: o.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	m, err := newMapper(o.GroupRoles, o.AdminGroups)
	if err != nil {
		return nil, err
	}
	s.mapper = m
	if o.OIDC.Enabled() {
		if s.oidc, err = newOIDC(o, s.now); err != nil {
			return nil, err
		}
	}
	if o.LDAP.Enabled() {
		if s.ldap, err = newLDAP(o.LDAP); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// OIDCEnabled reports whether sign-in through OpenID Connect is on.
func (s *Service) OIDCEnabled() bool { return s != nil && s.oidc != nil }

// OIDCName is the provider's name for the sign-in button.
func (s *Service) OIDCName() string { return s.oidc.name }

// LDAPEnabled reports whether password sign-in through LDAP is on.
func (s *Service) LDAPEnabled() bool { return s != nil && s.ldap != nil }

// errBadCredentials is the one answer to a wrong username or password.
var errBadCredentials = errs.Unauthenticatedf("invalid credentials")

// CheckPassword signs in with a username and password. A local account
// (made in hygie) checks its local password and never the directory; any
// other name is checked against LDAP (when configured), and the account is
// created or updated from the directory, with its grants. It returns the
// method that was used: "password" (local) or "ldap".
func (s *Service) CheckPassword(ctx context.Context, username, password string) (*auth.Principal, string, error) {
	if s.LDAPEnabled() {
		name := strings.ToLower(strings.TrimSpace(username))
		exists, source, err := s.auth.AccountSource(ctx, name)
		if err != nil {
			return nil, "ldap", err
		}
		if !exists || source == auth.SourceLDAP {
			p, err := s.ldapSignIn(ctx, name, password)
			return p, "ldap", err
		}
	}
	p, err := s.auth.CheckPassword(ctx, username, password)
	return p, "password", err
}

func (s *Service) ldapSignIn(ctx context.Context, username, password string) (*auth.Principal, error) {
	u, err := s.ldap.authenticate(ctx, username, password)
	if err != nil {
		return nil, err
	}
	if auth.ValidateUsername(username) != nil {
		// The directory knows the name, hygie cannot use it.
		return nil, errs.Invalidf("this directory username cannot be a hygie username: use 2-63 characters, lower-case letters, digits, '.', '_' or '-', starting with a letter")
	}
	grants, admin := s.mapper.mapGroups(u.groups)
	return s.auth.SignInExternal(ctx, auth.ExternalUser{Source: auth.SourceLDAP, Username: username, DisplayName: u.displayName, Grants: grants, Admin: admin})
}

// mapper turns directory groups into hygie grants.
type mapper struct {
	rules  []rule
	admins []string // keys of the admin groups
}

type rule struct {
	key     string
	project string
	role    auth.Role
}

func newMapper(gr []config.GroupRole, admins []string) (mapper, error) {
	var m mapper
	for i, g := range gr {
		if !auth.ValidRole(auth.Role(g.Role)) {
			return m, errs.Invalidf("setting group_roles[%d].role: %q is not a role; want one of %v", i, g.Role, auth.Roles)
		}
		m.rules = append(m.rules, rule{key: groupKey(g.Group), project: g.Project, role: auth.Role(g.Role)})
	}
	for _, a := range admins {
		m.admins = append(m.admins, groupKey(a))
	}
	return m, nil
}

// mapGroups returns the grants the groups give, and the admin flag (nil
// when no admin group is configured).
func (m mapper) mapGroups(groups []string) ([]auth.DirectoryGrant, *bool) {
	keys := map[string]bool{}
	for _, g := range groups {
		for _, k := range groupKeys(g) {
			keys[k] = true
		}
	}
	var out []auth.DirectoryGrant
	for _, r := range m.rules {
		if keys[r.key] {
			out = append(out, auth.DirectoryGrant{Project: r.project, Role: r.role})
		}
	}
	if len(m.admins) == 0 {
		return out, nil
	}
	admin := false
	for _, a := range m.admins {
		admin = admin || keys[a]
	}
	return out, &admin
}

// groupKey is how a configured group is compared: a DN in its normal form
// (lower case, no spaces around separators), else the name in lower case
// without a leading "/" (Keycloak's full group paths).
func groupKey(g string) string {
	g = strings.TrimSpace(g)
	if strings.Contains(g, "=") {
		if dn, err := ldap.ParseDN(g); err == nil && len(dn.RDNs) > 0 {
			return normDN(dn)
		}
	}
	return strings.ToLower(strings.TrimPrefix(g, "/"))
}

// groupKeys are the keys a group of the directory matches: its DN and the
// value of its first RDN (its cn), or its name.
func groupKeys(g string) []string {
	g = strings.TrimSpace(g)
	if strings.Contains(g, "=") {
		if dn, err := ldap.ParseDN(g); err == nil && len(dn.RDNs) > 0 && len(dn.RDNs[0].Attributes) > 0 {
			return []string{normDN(dn), strings.ToLower(dn.RDNs[0].Attributes[0].Value)}
		}
	}
	return []string{strings.ToLower(strings.TrimPrefix(g, "/"))}
}

func normDN(dn *ldap.DN) string {
	parts := make([]string, len(dn.RDNs))
	for i, r := range dn.RDNs {
		as := make([]string, len(r.Attributes))
		for j, a := range r.Attributes {
			as[j] = strings.ToLower(a.Type) + "=" + strings.ToLower(a.Value)
		}
		parts[i] = strings.Join(as, "+")
	}
	return strings.Join(parts, ",")
}
