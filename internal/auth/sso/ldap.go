package sso

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/hygie-health/hygie/internal/config"
)

// ldapClient authenticates users against an LDAP server or Active
// Directory. Each sign-in opens its own connection: sign-ins are rare and
// a pooled connection would have to be re-bound as the service account.
type ldapClient struct {
	cfg      config.LDAP
	password string // service account's
	tls      *tls.Config
}

func newLDAP(c config.LDAP) (*ldapClient, error) {
	l := &ldapClient{cfg: c}
	if c.BindDN != "" {
		pw, err := c.Password()
		if err != nil {
			return nil, err
		}
		l.password = pw
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("setting ldap.url: %w", err)
	}
	l.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("setting ldap.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("setting ldap.ca_file: %s holds no PEM certificate", c.CAFile)
		}
		l.tls.RootCAs = pool
	}
	return l, nil
}

// directoryUser is what the directory says of an authenticated user.
type directoryUser struct {
	displayName string
	groups      []string // group DNs or names
}

// UnavailableError reports a directory that could not be asked (down,
// misconfigured): a server-side problem, not a wrong password. Its message
// names the step and the LDAP result code only: server messages may quote
// DNs.
type UnavailableError struct{ Message string }

func (e *UnavailableError) Error() string { return e.Message }

func errDirectory(what string, err error) error {
	var cv *tls.CertificateVerificationError
	// (StartTLS reports the handshake's error as text only.)
	if errors.As(err, &cv) || strings.Contains(err.Error(), "TLS handshake failed (tls: failed to verify certificate") {
		return &UnavailableError{fmt.Sprintf("directory: %s failed: the LDAP server's certificate is not trusted (see ldap.ca_file)", what)}
	}
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork {
		return &UnavailableError{fmt.Sprintf("directory: %s failed (LDAP result %d, %s)", what, le.ResultCode, ldap.LDAPResultCodeMap[le.ResultCode])}
	}
	return &UnavailableError{fmt.Sprintf("directory: %s failed: the LDAP server cannot be reached", what)}
}

func (l *ldapClient) dial() (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: l.cfg.Timeout}
	conn, err := ldap.DialURL(l.cfg.URL, ldap.DialWithDialer(d), ldap.DialWithTLSConfig(l.tls))
	if err != nil {
		return nil, errDirectory("connection", err)
	}
	conn.SetTimeout(l.cfg.Timeout)
	if l.cfg.StartTLS {
		if err := conn.StartTLS(l.tls); err != nil {
			conn.Close()
			return nil, errDirectory("StartTLS", err)
		}
	}
	return conn, nil
}

// bindService binds as the search account (or stays anonymous without one).
func (l *ldapClient) bindService(conn *ldap.Conn) error {
	if l.cfg.BindDN == "" {
		return nil
	}
	if err := conn.Bind(l.cfg.BindDN, l.password); err != nil {
		return errDirectory("bind of the service account", err)
	}
	return nil
}

// authenticate finds username with the service account, binds as it with
// password, and reads its display name and groups. A wrong password, an
// unknown or ambiguous username all give errBadCredentials.
func (l *ldapClient) authenticate(ctx context.Context, username, password string) (directoryUser, error) {
	// An empty password would be an unauthenticated bind, which LDAP
	// servers accept as success.
	if password == "" || username == "" {
		return directoryUser{}, errBadCredentials
	}
	conn, err := l.dial()
	if err != nil {
		return directoryUser{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := l.bindService(conn); err != nil {
		return directoryUser{}, err
	}
	entry, err := l.findUser(conn, username)
	if err != nil {
		return directoryUser{}, err
	}
	if err := conn.Bind(entry.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return directoryUser{}, errBadCredentials
		}
		return directoryUser{}, errDirectory("bind of the user", err)
	}
	u := directoryUser{displayName: entry.GetAttributeValue(l.cfg.DisplayNameAttr)}
	switch {
	case l.cfg.GroupAttr != "":
		u.groups = entry.GetAttributeValues(l.cfg.GroupAttr)
	case l.cfg.GroupBase != "":
		// Back to the service account: the user may not read groups.
		if err := l.bindService(conn); err != nil {
			return directoryUser{}, err
		}
		filter := strings.NewReplacer("{dn}", ldap.EscapeFilter(entry.DN), "{username}", ldap.EscapeFilter(username)).Replace(l.cfg.GroupFilter)
		res, err := conn.Search(ldap.NewSearchRequest(l.cfg.GroupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, int(l.cfg.Timeout/time.Second), false,
			filter, []string{l.cfg.GroupNameAttr}, nil))
		if err != nil {
			return directoryUser{}, errDirectory("group search", err)
		}
		for _, g := range res.Entries {
			u.groups = append(u.groups, g.DN)
			if n := g.GetAttributeValue(l.cfg.GroupNameAttr); n != "" {
				u.groups = append(u.groups, n)
			}
		}
	}
	return u, nil
}

// findUser searches the one entry of username. The username is escaped
// (ldap.EscapeFilter): "*", "(", ")" or "\" in it match themselves only.
func (l *ldapClient) findUser(conn *ldap.Conn, username string) (*ldap.Entry, error) {
	filter := strings.ReplaceAll(l.cfg.UserFilter, "{username}", ldap.EscapeFilter(username))
	attrs := []string{l.cfg.DisplayNameAttr}
	if l.cfg.GroupAttr != "" {
		attrs = append(attrs, l.cfg.GroupAttr)
	}
	res, err := conn.Search(ldap.NewSearchRequest(l.cfg.UserBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, int(l.cfg.Timeout/time.Second), false,
		filter, attrs, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return nil, errDirectory("user search", err)
	}
	if res == nil || len(res.Entries) != 1 {
		return nil, errBadCredentials
	}
	return res.Entries[0], nil
}
