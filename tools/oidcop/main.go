// Command oidcop is a throwaway OpenID Connect provider for hygie's tests:
// zitadel/oidc's op package (discovery, JWKS, authorization with PKCE,
// token and userinfo endpoints, RS256-signed ID tokens) with its example
// in-memory storage and login form, plus a "groups" claim. It is its own
// module so that the provider's dependencies stay out of hygie's.
//
// Usage: oidcop -users FILE [-addr 127.0.0.1:0]. FILE is JSON:
//
//	{"clients": [{"id": "hygie", "secret": "…", "redirect_uris": ["http://…/login/oidc/callback"]}],
//	 "users": [{"id": "u1", "username": "alice", "password": "…", "first_name": "Alice", "last_name": "A", "groups": ["hygie-sepsis-scientists"]}]}
//
// A redirect URI with "*" is a glob (http://localhost:*/callback).
// Users and their groups are read again at every look-up, so a test can
// move a user out of a group between two sign-ins. The issuer URL is
// printed on stdout once the provider listens.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

type fileUser struct {
	ID        string   `json:"id"`
	Username  string   `json:"username"`
	Password  string   `json:"password"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Email     string   `json:"email"`
	Groups    []string `json:"groups"`
}

type fileClient struct {
	ID           string   `json:"id"`
	Secret       string   `json:"secret"`
	RedirectURIs []string `json:"redirect_uris"`
}

type file struct {
	Clients []fileClient `json:"clients"`
	Users   []fileUser   `json:"users"`
}

func read(path string) (file, error) {
	var f file
	b, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(b, &f)
}

// users is a storage.UserStore over the JSON file.
type users struct{ path string }

func (u users) find(match func(fileUser) bool) (*storage.User, []string) {
	f, err := read(u.path)
	if err != nil {
		slog.Error("read users", "err", err)
		return nil, nil
	}
	i := slices.IndexFunc(f.Users, match)
	if i < 0 {
		return nil, nil
	}
	x := f.Users[i]
	return &storage.User{ID: x.ID, Username: x.Username, Password: x.Password, FirstName: x.FirstName,
		LastName: x.LastName, Email: x.Email, EmailVerified: x.Email != ""}, x.Groups
}

func (u users) GetUserByID(id string) *storage.User {
	user, _ := u.find(func(x fileUser) bool { return x.ID == id })
	return user
}

func (u users) GetUserByUsername(name string) *storage.User {
	user, _ := u.find(func(x fileUser) bool { return x.Username == name })
	return user
}

func (u users) ExampleClientID() string { return "" }

func (u users) groups(id string) []string {
	_, g := u.find(func(x fileUser) bool { return x.ID == id })
	return g
}

// store adds the "groups" claim to the example storage: in the ID token
// when the "groups" scope is asked for, and always at the userinfo endpoint.
type store struct {
	*storage.Storage
	users users
}

func (s store) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, "groups") {
		info.AppendClaims("groups", s.users.groups(req.GetSubject()))
	}
	return nil
}

func (s store) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	info.AppendClaims("groups", s.users.groups(info.Subject))
	return nil
}

// GetClientByClientID lets redirect URIs with "*" match as globs (a test
// server's port is known only once it listens).
func (s store) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	var globs []string
	for _, u := range c.RedirectURIs() {
		if strings.Contains(u, "*") {
			globs = append(globs, u)
		}
	}
	return globClient{Client: c, globs: globs}, nil
}

type globClient struct {
	op.Client
	globs []string
}

func (c globClient) RedirectURIGlobs() []string           { return c.globs }
func (c globClient) PostLogoutRedirectURIGlobs() []string { return nil }

func main() {
	usersFile := flag.String("users", "", "JSON file of clients and users")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	f, err := read(*usersFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "oidcop:", err)
		os.Exit(2)
	}
	for _, c := range f.Clients {
		storage.RegisterClients(storage.WebClient(c.ID, c.Secret, c.RedirectURIs...))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "oidcop:", err)
		os.Exit(1)
	}
	issuer := "http://" + ln.Addr().String()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	u := users{path: *usersFile}
	router := exampleop.SetupServer(issuer, store{Storage: storage.NewStorage(u), users: u}, logger, false)
	fmt.Println(issuer)
	if err := http.Serve(ln, router); err != nil {
		fmt.Fprintln(os.Stderr, "oidcop:", err)
		os.Exit(1)
	}
}
