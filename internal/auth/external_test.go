package auth_test

import (
	"context"
	"slices"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/project"
)

func TestSignInExternalSyncsDirectoryGrants(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := audit.New(d)
		s := auth.NewService(d, a)
		admin := auth.WithPrincipal(ctx, &auth.Principal{Username: "admin", Admin: true})
		projects := project.NewService(d, a)
		for _, p := range []string{"sepsis", "icu"} {
			if _, err := projects.Create(admin, p, p, ""); err != nil {
				t.Fatal(err)
			}
		}
		yes, no := true, false
		in := auth.ExternalUser{Source: auth.SourceLDAP, Username: "olga", DisplayName: "Olga K",
			Grants: []auth.DirectoryGrant{{Project: "sepsis", Role: auth.RoleScientist}, {Project: "*", Role: auth.RoleViewer}, {Project: "gone", Role: auth.RoleAdmin}},
			Admin:  &yes}
		p, err := s.SignInExternal(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Admin || !slices.Equal(p.Roles["sepsis"], []auth.Role{auth.RoleScientist, auth.RoleViewer}) || !slices.Equal(p.Roles["icu"], []auth.Role{auth.RoleViewer}) {
			t.Fatalf("first sign-in: %+v", p)
		}
		u, err := s.UserByName(ctx, "olga")
		if err != nil || u.HasPassword || u.DisplayName != "Olga K" {
			t.Fatalf("external user: %+v %v", u, err)
		}
		// A grant given by hand stays when the directory stops giving the
		// role; a directory grant taken over by hand becomes a hand grant.
		if err := s.Grant(admin, "icu", "olga", auth.RoleAnnotator); err != nil {
			t.Fatal(err)
		}
		if err := s.Grant(admin, "icu", "olga", auth.RoleViewer); err != nil {
			t.Fatalf("taking over a directory grant by hand: %v", err)
		}
		if err := s.Grant(admin, "icu", "olga", auth.RoleViewer); !errs.Is(err, errs.Conflict) {
			t.Fatalf("granting a hand grant twice: %v", err)
		}
		in.Grants, in.Admin = nil, &no
		p, err = s.SignInExternal(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if p.Admin || len(p.Roles["sepsis"]) != 0 || !slices.Equal(p.Roles["icu"], []auth.Role{auth.RoleAnnotator, auth.RoleViewer}) {
			t.Fatalf("after leaving the groups: %+v", p)
		}
		if g, err := s.DirectoryGrants(ctx, "olga"); err != nil || len(g) != 0 {
			t.Fatalf("directory grants left: %v %v", g, err)
		}
		evs, err := a.List(ctx, audit.Filter{Action: "grant.delete"})
		if err != nil || len(evs) != 2 {
			t.Fatalf("grant.delete events: %d %v", len(evs), err)
		}

		// A local account is never taken over by a directory, nor is an
		// account of another directory.
		if _, err := s.CreateUser(ctx, "root1", "", "a-local-password-1", true); err != nil {
			t.Fatal(err)
		}
		for _, x := range []auth.ExternalUser{{Source: auth.SourceOIDC, Username: "root1"}, {Source: auth.SourceOIDC, Username: "olga"}} {
			if _, err := s.SignInExternal(ctx, x); !errs.Is(err, errs.Forbidden) {
				t.Fatalf("%s through %s: %v", x.Username, x.Source, err)
			}
		}
		if _, err := s.SignInExternal(ctx, auth.ExternalUser{Source: auth.SourceLDAP, Username: "Bad Name"}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("invalid username: %v", err)
		}
		if exists, src, err := s.AccountSource(ctx, "olga"); err != nil || !exists || src != auth.SourceLDAP {
			t.Fatalf("AccountSource(olga) = %v %q %v", exists, src, err)
		}
	})
}
