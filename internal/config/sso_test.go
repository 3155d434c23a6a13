package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSSOSettings(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	yaml := filepath.Join(dir, "hygie.yaml")
	os.WriteFile(yaml, []byte(`
public_url: https://hygie.chu.example
oidc:
  name: Keycloak
  issuer: https://sso.chu.example/realms/chu
  client_id: hygie
  client_secret_file: `+secret+`
  scopes: openid profile groups
ldap:
  url: ldaps://ad.chu.example
  bind_dn: CN=svc-hygie,OU=Services,DC=chu,DC=example
  user_base: OU=Staff,DC=chu,DC=example
  user_filter: (sAMAccountName={username})
  group_attr: memberOf
group_roles:
  - {group: "CN=Sepsis Scientists,OU=Groups,DC=chu,DC=example", project: sepsis, role: scientist}
  - {group: hygie-viewers, project: "*", role: viewer}
admin_groups: [hygie-admins]
`), 0o600)
	c := Default()
	if err := c.LoadFile(yaml); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HYGIE_LDAP_BIND_PASSWORD_FILE": secret, "HYGIE_OIDC_GROUPS_CLAIM": "roles"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if s, err := c.OIDC.Secret(); err != nil || s != "s3cret-from-file" {
		t.Fatalf("client secret = %q, %v", s, err)
	}
	if pw, err := c.LDAP.Password(); err != nil || pw != "s3cret-from-file" {
		t.Fatalf("bind password = %q, %v", pw, err)
	}
	if c.OIDC.GroupsClaim != "roles" || c.OIDC.UsernameClaim != "preferred_username" || c.LDAP.DisplayNameAttr != "cn" || len(c.GroupRoles) != 2 {
		t.Fatalf("defaults and overrides: %+v %+v", c.OIDC, c.LDAP)
	}
	if got := c.OIDCRedirectURL(); got != "https://hygie.chu.example/login/oidc/callback" {
		t.Fatalf("redirect URL %s", got)
	}
	names := map[string]string{}
	for _, s := range c.Redacted() {
		names[s.Name] = s.Value
		if strings.Contains(s.Value, "s3cret") {
			t.Fatalf("setting %s shows a secret", s.Name)
		}
	}
	if names["oidc.issuer"] != c.OIDC.Issuer || names["ldap.bind_password"] != "<redacted>" {
		t.Fatalf("redacted settings: %v", names)
	}

	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"http issuer", func(c *Config) { c.OIDC.Issuer = "http://sso.chu.example" }, "setting oidc.issuer"},
		{"no client id", func(c *Config) { c.OIDC.ClientID = "" }, "setting oidc.client_id"},
		{"two secrets", func(c *Config) { c.OIDC.ClientSecret = "x" }, "not both"},
		{"empty secret file", func(c *Config) { c.OIDC.ClientSecretFile = empty }, "is empty"},
		{"no openid scope", func(c *Config) { c.OIDC.Scopes = "profile" }, "setting oidc.scopes"},
		{"oidc without issuer", func(c *Config) { c.OIDC.Issuer = "" }, "setting oidc.issuer"},
		{"ldap scheme", func(c *Config) { c.LDAP.URL = "http://ad" }, "setting ldap.url"},
		{"clear ldap", func(c *Config) { c.LDAP.URL = "ldap://ad.chu.example" }, "in clear"},
		{"starttls on ldaps", func(c *Config) { c.LDAP.StartTLS = true }, "setting ldap.start_tls"},
		{"ca file", func(c *Config) { c.LDAP.CAFile = empty }, "setting ldap.ca_file"},
		{"no user base", func(c *Config) { c.LDAP.UserBase = "" }, "setting ldap.user_base"},
		{"filter without username", func(c *Config) { c.LDAP.UserFilter = "(uid=alice)" }, "setting ldap.user_filter"},
		{"unbalanced filter", func(c *Config) { c.LDAP.UserFilter = "(uid={username}" }, "setting ldap.user_filter"},
		{"group filter", func(c *Config) { c.LDAP.GroupAttr, c.LDAP.GroupBase, c.LDAP.GroupFilter = "", "OU=G", "(member=x)" }, "setting ldap.group_filter"},
		{"group without name", func(c *Config) { c.GroupRoles[1].Group = " " }, "setting group_roles[1].group"},
		{"bad project", func(c *Config) { c.GroupRoles[0].Project = "Sepsis!" }, "setting group_roles[0].project"},
		{"mapping without directory", func(c *Config) { c.OIDC = OIDC{}; c.LDAP = LDAP{} }, "setting group_roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := c
			d.GroupRoles = append([]GroupRole(nil), c.GroupRoles...)
			tc.mutate(&d)
			err := d.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want mention of %q", err, tc.want)
			}
		})
	}
}
