package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// OIDC configures sign-in through an OpenID Connect provider (Keycloak,
// ADFS, Entra ID…): authorization code flow with PKCE. It is on when
// Issuer is set. The redirect URL to register at the provider is
// <public_url>/login/oidc/callback.
type OIDC struct {
	// Name is shown on the button: "Sign in with <Name>".
	Name         string `yaml:"name" env:"HYGIE_OIDC_NAME" help:"provider name shown on the sign-in button"`
	Issuer       string `yaml:"issuer" env:"HYGIE_OIDC_ISSUER" help:"OpenID Connect issuer URL (discovery at <issuer>/.well-known/openid-configuration)"`
	ClientID     string `yaml:"client_id" env:"HYGIE_OIDC_CLIENT_ID" help:"client id registered at the provider"`
	ClientSecret string `yaml:"client_secret" env:"HYGIE_OIDC_CLIENT_SECRET" secret:"true" help:"client secret (or client_secret_file)"`
	// ClientSecretFile holds the client secret (read at start).
	// (HYGIE_OIDC_CLIENT_SECRET_FILE reads it from the environment's side.)
	ClientSecretFile string `yaml:"client_secret_file" help:"file holding the client secret"`
	// Scopes are space-separated; openid is required.
	Scopes        string `yaml:"scopes" env:"HYGIE_OIDC_SCOPES" help:"scopes asked for, space-separated"`
	GroupsClaim   string `yaml:"groups_claim" env:"HYGIE_OIDC_GROUPS_CLAIM" help:"claim listing the user's groups"`
	UsernameClaim string `yaml:"username_claim" env:"HYGIE_OIDC_USERNAME_CLAIM" help:"claim holding the hygie username"`
}

// Enabled reports whether OIDC sign-in is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// Secret returns the client secret, from the setting or its file.
func (o OIDC) Secret() (string, error) {
	return secretOf("oidc.client_secret", o.ClientSecret, o.ClientSecretFile)
}

// ScopeList returns the scopes.
func (o OIDC) ScopeList() []string { return strings.Fields(strings.ReplaceAll(o.Scopes, ",", " ")) }

// LDAP configures password sign-in against an LDAP server or Active
// Directory: search the user with the service account, bind as the user,
// read the groups. It is on when URL is set.
type LDAP struct {
	URL      string `yaml:"url" env:"HYGIE_LDAP_URL" help:"ldap://host:389 or ldaps://host:636"`
	StartTLS bool   `yaml:"start_tls" env:"HYGIE_LDAP_START_TLS" help:"upgrade ldap:// with StartTLS"`
	CAFile   string `yaml:"ca_file" env:"HYGIE_LDAP_CA_FILE" help:"PEM file of the CA(s) that signed the server's certificate (default: the system's)"`
	BindDN   string `yaml:"bind_dn" env:"HYGIE_LDAP_BIND_DN" help:"service account that searches users and groups"`
	// BindPassword is the service account's password (or BindPasswordFile).
	BindPassword     string        `yaml:"bind_password" env:"HYGIE_LDAP_BIND_PASSWORD" secret:"true" help:"service account password (or bind_password_file)"`
	BindPasswordFile string        `yaml:"bind_password_file" help:"file holding the service account password (HYGIE_LDAP_BIND_PASSWORD_FILE from the environment)"`
	UserBase         string        `yaml:"user_base" env:"HYGIE_LDAP_USER_BASE" help:"base DN of the user search"`
	UserFilter       string        `yaml:"user_filter" env:"HYGIE_LDAP_USER_FILTER" help:"user search filter; {username} is replaced by the escaped username"`
	DisplayNameAttr  string        `yaml:"display_name_attr" env:"HYGIE_LDAP_DISPLAY_NAME_ATTR" help:"attribute holding the user's display name"`
	GroupAttr        string        `yaml:"group_attr" env:"HYGIE_LDAP_GROUP_ATTR" help:"attribute of the user listing group DNs (memberOf in Active Directory); empty: search groups"`
	GroupBase        string        `yaml:"group_base" env:"HYGIE_LDAP_GROUP_BASE" help:"base DN of the group search (when group_attr is empty)"`
	GroupFilter      string        `yaml:"group_filter" env:"HYGIE_LDAP_GROUP_FILTER" help:"group search filter; {dn} and {username} are replaced, escaped"`
	GroupNameAttr    string        `yaml:"group_name_attr" env:"HYGIE_LDAP_GROUP_NAME_ATTR" help:"attribute naming a found group"`
	Timeout          time.Duration `yaml:"timeout" env:"HYGIE_LDAP_TIMEOUT" help:"timeout of each LDAP connection and request"`
}

// Enabled reports whether LDAP sign-in is configured.
func (l LDAP) Enabled() bool { return l.URL != "" }

// Password returns the service account password, from the setting or its file.
func (l LDAP) Password() (string, error) {
	return secretOf("ldap.bind_password", l.BindPassword, l.BindPasswordFile)
}

// GroupRole maps a directory group to a hygie role in a project ("*": every
// project that exists when the user signs in).
type GroupRole struct {
	// Group is a group's name (cn) or its whole DN, compared without case.
	Group   string `yaml:"group"`
	Project string `yaml:"project"`
	Role    string `yaml:"role"`
}

// ssoDefaults fills the SSO settings left empty.
func (c *Config) ssoDefaults() {
	o, l := &c.OIDC, &c.LDAP
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.Name, "single sign-on")
	def(&o.Scopes, "openid profile email")
	def(&o.GroupsClaim, "groups")
	def(&o.UsernameClaim, "preferred_username")
	def(&l.UserFilter, "(uid={username})")
	def(&l.DisplayNameAttr, "cn")
	def(&l.GroupFilter, "(member={dn})")
	def(&l.GroupNameAttr, "cn")
	if l.Timeout == 0 {
		l.Timeout = 10 * time.Second
	}
}

// OIDCRedirectURL is the redirect (callback) URL to register at the provider.
func (c *Config) OIDCRedirectURL() string { return c.BaseURL() + "/login/oidc/callback" }

var projectNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

func (c *Config) validateSSO() error {
	c.ssoDefaults()
	o, l := c.OIDC, c.LDAP
	if o.Enabled() {
		u, err := url.Parse(o.Issuer)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
			return fmt.Errorf("setting oidc.issuer (HYGIE_OIDC_ISSUER): want an https:// URL (http:// only on loopback), got %q", o.Issuer)
		}
		if o.ClientID == "" {
			return fmt.Errorf("setting oidc.client_id (HYGIE_OIDC_CLIENT_ID): required when oidc.issuer is set")
		}
		if _, err := o.Secret(); err != nil {
			return err
		}
		if !strings.Contains(" "+strings.Join(o.ScopeList(), " ")+" ", " openid ") {
			return fmt.Errorf("setting oidc.scopes (HYGIE_OIDC_SCOPES): must include openid, got %q", o.Scopes)
		}
	} else if o.ClientID != "" || o.ClientSecret != "" || o.ClientSecretFile != "" {
		return fmt.Errorf("setting oidc.issuer (HYGIE_OIDC_ISSUER): required when other oidc settings are set")
	}
	if l.Enabled() {
		u, err := url.Parse(l.URL)
		if err != nil || u.Host == "" || (u.Scheme != "ldap" && u.Scheme != "ldaps") {
			return fmt.Errorf("setting ldap.url (HYGIE_LDAP_URL): want ldap://host:port or ldaps://host:port, got %q", l.URL)
		}
		if l.StartTLS && u.Scheme != "ldap" {
			return fmt.Errorf("setting ldap.start_tls (HYGIE_LDAP_START_TLS): only with an ldap:// URL (ldaps:// is TLS already)")
		}
		if u.Scheme == "ldap" && !l.StartTLS && !isLoopback(u.Hostname()) {
			return fmt.Errorf("setting ldap.url (HYGIE_LDAP_URL): ldap:// to %s would send passwords in clear; use ldaps:// or start_tls: true", u.Hostname())
		}
		if l.CAFile != "" {
			if b, err := os.ReadFile(l.CAFile); err != nil || !strings.Contains(string(b), "-----BEGIN CERTIFICATE-----") {
				return fmt.Errorf("setting ldap.ca_file (HYGIE_LDAP_CA_FILE): %s is not a readable PEM certificate file", l.CAFile)
			}
		}
		if l.BindDN != "" {
			if _, err := l.Password(); err != nil {
				return err
			}
		} else if l.BindPassword != "" || l.BindPasswordFile != "" {
			return fmt.Errorf("setting ldap.bind_dn (HYGIE_LDAP_BIND_DN): required when a bind password is set")
		}
		if l.UserBase == "" {
			return fmt.Errorf("setting ldap.user_base (HYGIE_LDAP_USER_BASE): required when ldap.url is set")
		}
		if !strings.Contains(l.UserFilter, "{username}") || !balanced(l.UserFilter) {
			return fmt.Errorf("setting ldap.user_filter (HYGIE_LDAP_USER_FILTER): want a parenthesised filter with {username}, e.g. (uid={username}), got %q", l.UserFilter)
		}
		if l.GroupAttr == "" && l.GroupBase != "" && (!balanced(l.GroupFilter) || !(strings.Contains(l.GroupFilter, "{dn}") || strings.Contains(l.GroupFilter, "{username}"))) {
			return fmt.Errorf("setting ldap.group_filter (HYGIE_LDAP_GROUP_FILTER): want a parenthesised filter with {dn} or {username}, e.g. (member={dn}), got %q", l.GroupFilter)
		}
		if l.Timeout < 0 {
			return fmt.Errorf("setting ldap.timeout (HYGIE_LDAP_TIMEOUT): must be positive")
		}
	} else if l.BindDN != "" || l.UserBase != "" || l.GroupBase != "" || l.GroupAttr != "" {
		return fmt.Errorf("setting ldap.url (HYGIE_LDAP_URL): required when other ldap settings are set")
	}
	if (len(c.GroupRoles) > 0 || len(c.AdminGroups) > 0) && !o.Enabled() && !l.Enabled() {
		return fmt.Errorf("setting group_roles / admin_groups: need oidc.issuer or ldap.url")
	}
	for i, g := range c.GroupRoles {
		where := fmt.Sprintf("setting group_roles[%d]", i)
		switch {
		case strings.TrimSpace(g.Group) == "":
			return fmt.Errorf("%s.group: must not be empty", where)
		case g.Project != "*" && !projectNameRE.MatchString(g.Project):
			return fmt.Errorf("%s.project: want a project name or \"*\", got %q", where, g.Project)
		case g.Role == "":
			return fmt.Errorf("%s.role: must not be empty", where)
		}
	}
	for i, g := range c.AdminGroups {
		if strings.TrimSpace(g) == "" {
			return fmt.Errorf("setting admin_groups[%d]: must not be empty", i)
		}
	}
	return nil
}

// secretOf returns a secret given inline or in a file (not both).
func secretOf(name, inline, file string) (string, error) {
	switch {
	case inline != "" && file != "":
		return "", fmt.Errorf("setting %s: set %s or %s_file, not both", name, name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("setting %s_file: %s is not readable", name, file)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("setting %s_file: %s is empty", name, file)
		}
		return s, nil
	case inline == "":
		return "", fmt.Errorf("setting %s: required (or %s_file)", name, name)
	}
	return inline, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// balanced reports whether a filter is parenthesised with matching pairs.
func balanced(f string) bool {
	if !strings.HasPrefix(f, "(") || !strings.HasSuffix(f, ")") {
		return false
	}
	depth := 0
	for _, c := range f {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}
