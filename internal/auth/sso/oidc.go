package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
)

// FlowTTL bounds the time between leaving for the provider and coming
// back: the flow (state, nonce, PKCE verifier) expires with it.
const FlowTTL = 10 * time.Minute

// oidcClient runs the authorization code flow against one provider.
type oidcClient struct {
	name          string
	issuer        string
	clientID      string
	secret        string
	redirect      string
	scopes        []string
	groupsClaim   string
	usernameClaim string
	http          *http.Client
	now           func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use
}

func newOIDC(o Options, now func() time.Time) (*oidcClient, error) {
	secret, err := o.OIDC.Secret()
	if err != nil {
		return nil, err
	}
	if o.RedirectURL == "" {
		return nil, fmt.Errorf("sso: the OIDC redirect URL is required")
	}
	c := &oidcClient{name: o.OIDC.Name, issuer: o.OIDC.Issuer, clientID: o.OIDC.ClientID, secret: secret, redirect: o.RedirectURL,
		scopes: o.OIDC.ScopeList(), groupsClaim: o.OIDC.GroupsClaim, usernameClaim: o.OIDC.UsernameClaim, http: o.HTTPClient, now: now}
	if c.http == nil {
		c.http = &http.Client{Timeout: 15 * time.Second}
	}
	return c, nil
}

// errProvider is shown when the provider cannot be reached or answers
// something unusable; the cause is logged, never shown.
func errProvider(err error) error {
	return errs.Wrap(err, errs.Unauthenticated, "sign-in with the identity provider failed: the provider could not be reached or its answer was unusable; try again or ask an administrator")
}

// ctx carries the HTTP client that go-oidc and oauth2 use.
func (c *oidcClient) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.http)
}

// discover returns the provider, fetching its discovery document once. A
// failure is not remembered: the next sign-in tries again.
func (c *oidcClient) discover(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	p, err := oidc.NewProvider(c.ctx(ctx), c.issuer)
	if err != nil {
		return nil, errProvider(err)
	}
	c.provider = p
	return p, nil
}

func (c *oidcClient) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: c.clientID, ClientSecret: c.secret, Endpoint: p.Endpoint(), RedirectURL: c.redirect, Scopes: c.scopes}
}

// Flow is what the browser keeps (in a short-lived cookie) between leaving
// for the provider and coming back: it binds the answer to this browser.
type Flow struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"` // PKCE code verifier
	Next     string    `json:"x"`
	Started  time.Time `json:"t"`
}

// Encode returns the flow as a cookie value.
func (f Flow) Encode() string {
	b, _ := json.Marshal(f)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeFlow reads a cookie value written by Encode.
func DecodeFlow(v string) (Flow, error) {
	var f Flow
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return Flow{}, errs.Unauthenticatedf("sign-in state is missing or damaged: start again from the sign-in page")
	}
	return f, nil
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// StartOIDC begins a sign-in: it returns the provider's authorization URL
// to redirect to and the flow to keep in the browser.
func (s *Service) StartOIDC(ctx context.Context, next string) (string, Flow, error) {
	if !s.OIDCEnabled() {
		return "", Flow{}, errs.NotFoundf("sign-in through OpenID Connect is not configured")
	}
	p, err := s.oidc.discover(ctx)
	if err != nil {
		return "", Flow{}, err
	}
	f := Flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: next, Started: s.now().UTC()}
	u := s.oidc.oauth2(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return u, f, nil
}

var providerErrorRE = regexp.MustCompile(`^[a-z_]{1,64}$`)

// FinishOIDC completes a sign-in from the provider's redirect (its query)
// and the flow kept by the browser: it checks the state, exchanges the code
// (with the PKCE verifier), verifies the ID token (signature, issuer,
// audience, expiry, nonce), reads the username and groups, and signs the
// user in with the grants their groups give.
func (s *Service) FinishOIDC(ctx context.Context, f Flow, q url.Values) (*auth.Principal, error) {
	if !s.OIDCEnabled() {
		return nil, errs.NotFoundf("sign-in through OpenID Connect is not configured")
	}
	if s.now().Sub(f.Started) > FlowTTL || f.Started.After(s.now().Add(time.Minute)) {
		return nil, errs.Unauthenticatedf("the sign-in took too long: start again from the sign-in page")
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return nil, errs.Unauthenticatedf("the provider's answer does not belong to this sign-in (state mismatch): start again from the sign-in page")
	}
	if e := q.Get("error"); e != "" {
		if !providerErrorRE.MatchString(e) {
			e = "unknown"
		}
		return nil, errs.Unauthenticatedf("the identity provider refused the sign-in (%s)", e)
	}
	code := q.Get("code")
	if code == "" {
		return nil, errs.Unauthenticatedf("the provider's answer has no authorization code")
	}
	c := s.oidc
	p, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	octx := c.ctx(ctx)
	tok, err := c.oauth2(p).Exchange(octx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, errProvider(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errs.Unauthenticatedf("the provider returned no ID token")
	}
	claims, err := c.verify(octx, p, raw, f.Nonce)
	if err != nil {
		return nil, err
	}
	if _, ok := claims[c.usernameClaim]; !ok || claims[c.groupsClaim] == nil {
		// Some providers put profile claims only at the userinfo endpoint.
		if err := c.userinfo(octx, p, tok, claims); err != nil {
			return nil, err
		}
	}
	username, _ := claims[c.usernameClaim].(string)
	username = strings.ToLower(strings.TrimSpace(username))
	if username == "" {
		return nil, errs.Unauthenticatedf("the provider's token has no %q claim to take the username from", c.usernameClaim)
	}
	if auth.ValidateUsername(username) != nil {
		return nil, errs.Unauthenticatedf("the username given by the provider (claim %q) cannot be a hygie username: use 2-63 characters, lower-case letters, digits, '.', '_' or '-', starting with a letter", c.usernameClaim)
	}
	display, _ := claims["name"].(string)
	grants, admin := s.mapper.mapGroups(stringList(claims[c.groupsClaim]))
	return s.auth.SignInExternal(ctx, auth.ExternalUser{Source: auth.SourceOIDC, Username: username, DisplayName: display, Grants: grants, Admin: admin})
}

// verify checks an ID token and returns its claims.
func (c *oidcClient) verify(ctx context.Context, p *oidc.Provider, raw, nonce string) (map[string]any, error) {
	idt, err := p.Verifier(&oidc.Config{ClientID: c.clientID, Now: c.now}).Verify(ctx, raw)
	if err != nil {
		return nil, errs.Wrap(err, errs.Unauthenticated, "the identity token did not verify (signature, issuer, audience or expiry)")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, errs.Unauthenticatedf("the identity token was not issued for this sign-in (nonce mismatch): start again from the sign-in page")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, errProvider(err)
	}
	return claims, nil
}

// userinfo adds the claims of the userinfo endpoint that the ID token
// lacks, after checking they are about the same subject.
func (c *oidcClient) userinfo(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, claims map[string]any) error {
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return errProvider(err)
	}
	if sub, _ := claims["sub"].(string); ui.Subject != sub {
		return errs.Unauthenticatedf("the provider's userinfo is about another subject than the identity token")
	}
	more := map[string]any{}
	if err := ui.Claims(&more); err != nil {
		return errProvider(err)
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// stringList reads a groups claim: a list of strings, or one string.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
