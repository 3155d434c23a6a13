package sso

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/auth/sso/ssotest"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/project"
)

// The directory loaded by scripts/ldap.sh.
const (
	ldapBase    = "dc=hygie,dc=test"
	ldapAdmin   = "cn=admin," + ldapBase
	ldapAdminPW = "hygie-ldap-admin"
	scientists  = "cn=sepsis-scientists,ou=groups," + ldapBase
	aliceDN     = "uid=alice,ou=people," + ldapBase
	alicePW     = "alice-password-1"
	bobPW       = "bob-password-1"
)

// setMember adds or removes alice from the scientists group, as the
// directory's administrator.
func setMember(t *testing.T, url string, member bool) {
	t.Helper()
	conn, err := ldap.DialURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(ldapAdmin, ldapAdminPW); err != nil {
		t.Fatal(err)
	}
	m := ldap.NewModifyRequest(scientists, nil)
	if member {
		m.Add("member", []string{aliceDN})
	} else {
		m.Delete("member", []string{aliceDN})
	}
	err = conn.Modify(m)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
		t.Fatal(err)
	}
}

// ssoEnv is an auth service on a fresh database with projects sepsis and
// icu, and an SSO service over it.
type ssoEnv struct {
	auth  *auth.Service
	audit *audit.Log
	sso   *Service
	admin context.Context
}

var testMapping = []config.GroupRole{
	{Group: "sepsis-scientists", Project: "sepsis", Role: "scientist"},
	// By DN, written as Active Directory tools show them.
	{Group: "CN=Sepsis-Viewers,OU=groups,DC=hygie,DC=test", Project: "*", Role: "viewer"},
}

func newSSOEnv(t *testing.T, o Options) *ssoEnv {
	t.Helper()
	d := dbtest.SQLite(t)
	a := audit.New(d)
	e := &ssoEnv{auth: auth.NewService(d, a), audit: a, admin: auth.WithPrincipal(context.Background(), &auth.Principal{Username: "admin", Admin: true})}
	for _, p := range []string{"sepsis", "icu"} {
		if _, err := project.NewService(d, a).Create(e.admin, p, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(o, e.auth)
	if err != nil {
		t.Fatal(err)
	}
	e.sso = s
	return e
}

func ldapConfig(url string, memberOf bool) config.LDAP {
	c := config.Default().LDAP
	c.URL = url
	c.BindDN = "cn=hygie-reader,ou=services," + ldapBase
	c.BindPassword = "reader-secret-1"
	c.UserBase = "ou=people," + ldapBase
	c.Timeout = 5 * time.Second
	if memberOf {
		c.GroupAttr = "memberOf"
	} else {
		c.GroupBase = "ou=groups," + ldapBase
	}
	return c
}

func TestLDAPSignIn(t *testing.T) {
	url := ssotest.LDAPURL(t)
	for _, memberOf := range []bool{false, true} {
		name := map[bool]string{false: "group-search", true: "memberOf"}[memberOf]
		t.Run(name, func(t *testing.T) {
			setMember(t, url, true)
			t.Cleanup(func() { setMember(t, url, true) })
			e := newSSOEnv(t, Options{LDAP: ldapConfig(url, memberOf), GroupRoles: testMapping, AdminGroups: []string{"hygie-admins"}})
			ctx := context.Background()

			// Good password: an external account with the mapped roles.
			p, method, err := e.sso.CheckPassword(ctx, "Alice", alicePW)
			if err != nil || method != "ldap" {
				t.Fatalf("alice: %v (%s)", err, method)
			}
			if p.Username != "alice" || p.Admin || !slices.Equal(p.Roles["sepsis"], []auth.Role{auth.RoleScientist, auth.RoleViewer}) || !slices.Equal(p.Roles["icu"], []auth.Role{auth.RoleViewer}) {
				t.Fatalf("alice's principal: %+v", p)
			}
			if u, err := e.auth.UserByName(ctx, "alice"); err != nil || u.DisplayName != "Alice Martin" || u.HasPassword {
				t.Fatalf("alice's account: %+v %v", u, err)
			}
			p, _, err = e.sso.CheckPassword(ctx, "bob", bobPW)
			if err != nil || !p.Admin || len(p.Roles["sepsis"]) != 1 {
				t.Fatalf("bob (admin group): %+v %v", p, err)
			}

			// Wrong or empty password, unknown user: refused alike.
			for _, c := range [][2]string{{"alice", "wrong-password"}, {"alice", ""}, {"nobody", alicePW}} {
				if _, _, err := e.sso.CheckPassword(ctx, c[0], c[1]); !errs.Is(err, errs.Unauthenticated) {
					t.Fatalf("%s with a bad password: %v", c[0], err)
				}
			}

			// Filter injection: the username is escaped, so wildcards and
			// parentheses find nobody, even with a real password.
			for _, u := range []string{"*", "al*", "alice)(uid=*", "*)(|(uid=*", "alice)(|(objectClass=*)", `alice\2a`} {
				if _, _, err := e.sso.CheckPassword(ctx, u, alicePW); !errs.Is(err, errs.Unauthenticated) {
					t.Fatalf("username %q: %v, want refused", u, err)
				}
			}

			// A grant by hand survives; leaving the group removes the
			// directory's role at the next sign-in.
			if err := e.auth.Grant(e.admin, "icu", "alice", auth.RoleAnnotator); err != nil {
				t.Fatal(err)
			}
			setMember(t, url, false)
			p, _, err = e.sso.CheckPassword(ctx, "alice", alicePW)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Roles["sepsis"], []auth.Role{auth.RoleViewer}) || !slices.Equal(p.Roles["icu"], []auth.Role{auth.RoleAnnotator, auth.RoleViewer}) {
				t.Fatalf("after leaving sepsis-scientists: %+v", p.Roles)
			}
			evs, err := e.audit.List(ctx, audit.Filter{Action: "grant.delete"})
			if err != nil || len(evs) != 1 || evs[0].Project != "sepsis" {
				t.Fatalf("grant.delete events: %+v %v", evs, err)
			}
		})
	}
}

func TestLDAPLocalAccountsFirst(t *testing.T) {
	url := ssotest.LDAPURL(t)
	e := newSSOEnv(t, Options{LDAP: ldapConfig(url, false), GroupRoles: testMapping})
	ctx := context.Background()
	// A local "bob" exists: the directory's bob cannot take the account,
	// and the local password still works.
	if _, err := e.auth.CreateUser(ctx, "bob", "Local Bob", "local-password-123", false); err != nil {
		t.Fatal(err)
	}
	if _, method, err := e.sso.CheckPassword(ctx, "bob", bobPW); !errs.Is(err, errs.Unauthenticated) || method != "password" {
		t.Fatalf("directory password of a local account: %v (%s)", err, method)
	}
	p, method, err := e.sso.CheckPassword(ctx, "bob", "local-password-123")
	if err != nil || method != "password" || p.Username != "bob" {
		t.Fatalf("local password: %v (%s)", err, method)
	}
}

func TestLDAPUnreachable(t *testing.T) {
	c := ldapConfig("ldap://127.0.0.1:1", false)
	c.Timeout = time.Second
	e := newSSOEnv(t, Options{LDAP: c})
	_, _, err := e.sso.CheckPassword(context.Background(), "alice", alicePW)
	var u *UnavailableError
	if !asUnavailable(err, &u) || u.Message != "directory: connection failed: the LDAP server cannot be reached" {
		t.Fatalf("unreachable directory: %v", err)
	}
}

func TestLDAPWrongServiceAccountHidesDN(t *testing.T) {
	url := ssotest.LDAPURL(t)
	c := ldapConfig(url, false)
	c.BindPassword = "not-the-password"
	e := newSSOEnv(t, Options{LDAP: c})
	_, _, err := e.sso.CheckPassword(context.Background(), "alice", alicePW)
	var u *UnavailableError
	if !asUnavailable(err, &u) || u.Message != "directory: bind of the service account failed (LDAP result 49, Invalid Credentials)" {
		t.Fatalf("wrong service password: %v", err)
	}
}

func TestGroupMapping(t *testing.T) {
	m, err := newMapper(testMapping, []string{"CN=Admins,OU=Groups,DC=x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		groups []string
		want   []auth.DirectoryGrant
		admin  bool
	}{
		{"name", []string{"Sepsis-Scientists"}, []auth.DirectoryGrant{{Project: "sepsis", Role: auth.RoleScientist}}, false},
		{"keycloak path", []string{"/sepsis-scientists"}, []auth.DirectoryGrant{{Project: "sepsis", Role: auth.RoleScientist}}, false},
		{"dn gives its cn", []string{"cn=sepsis-scientists,ou=other,dc=y"}, []auth.DirectoryGrant{{Project: "sepsis", Role: auth.RoleScientist}}, false},
		{"dn", []string{"cn=sepsis-viewers, ou=groups, dc=hygie, dc=test"}, []auth.DirectoryGrant{{Project: "*", Role: auth.RoleViewer}}, false},
		{"configured dn needs the same dn", []string{"sepsis-viewers", "cn=admins,ou=groups,dc=other"}, nil, false},
		{"admin dn", []string{"cn=admins,ou=groups,dc=x"}, nil, true},
		{"nothing", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, admin := m.mapGroups(tc.groups)
			if !slices.Equal(got, tc.want) || admin == nil || *admin != tc.admin {
				t.Fatalf("mapGroups(%q) = %v, %v", tc.groups, got, admin)
			}
		})
	}
	if _, err := newMapper([]config.GroupRole{{Group: "g", Project: "p1", Role: "superuser"}}, nil); err == nil {
		t.Fatal("unknown role accepted")
	}
	if _, admin := (mapper{}).mapGroups([]string{"x"}); admin != nil {
		t.Fatal("no admin groups configured, yet an admin flag")
	}
}

func asUnavailable(err error, u **UnavailableError) bool { return errors.As(err, u) }

// TestLDAPTLS signs in over LDAPS and over StartTLS, trusting the test
// CA of scripts/ldap.sh, and refuses a server whose certificate the
// configured CAs do not vouch for.
func TestLDAPTLS(t *testing.T) {
	plain := ssotest.LDAPURL(t)
	u, err := url.Parse(plain)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	ca := os.Getenv("HYGIE_TEST_LDAP_CA")
	if ca == "" {
		ca = fmt.Sprintf("/tmp/hygie-ldap-%d/ca.pem", port)
	}
	if _, err := os.Stat(ca); err != nil {
		t.Fatalf("the test CA of scripts/ldap.sh: %v", err)
	}
	ldaps := fmt.Sprintf("ldaps://%s:%d", u.Hostname(), port+247)
	for _, tc := range []struct {
		name, url, ca string
		startTLS, ok  bool
	}{
		{"ldaps", ldaps, ca, false, true},
		{"starttls", plain, ca, true, true},
		{"ldaps, unknown CA", ldaps, "", false, false},
		{"starttls, unknown CA", plain, "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ldapConfig(tc.url, true)
			c.CAFile, c.StartTLS = tc.ca, tc.startTLS
			e := newSSOEnv(t, Options{LDAP: c, GroupRoles: testMapping})
			p, _, err := e.sso.CheckPassword(context.Background(), "carol", "carol-password-1")
			if tc.ok {
				if err != nil || len(p.Roles["sepsis"]) != 1 {
					t.Fatalf("carol over TLS: %+v %v", p, err)
				}
				return
			}
			var ue *UnavailableError
			if !errors.As(err, &ue) || !strings.Contains(ue.Message, "certificate is not trusted") {
				t.Fatalf("untrusted certificate: %v, want the directory unavailable", err)
			}
		})
	}
}
