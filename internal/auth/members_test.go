package auth_test

import (
	"context"
	"slices"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/project"
)

// TestMembersSource: the members listing tells a grant by hand from one
// that follows a directory group, and a directory grant revoked by hand
// comes back at the next sign-in (what the members page warns of).
func TestMembersSource(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := audit.New(d)
		s := auth.NewService(d, a)
		admin := auth.WithPrincipal(ctx, &auth.Principal{Username: "admin", Admin: true})
		if _, err := project.NewService(d, a).Create(admin, "sepsis", "sepsis", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, "marc", "Marc", "", false); err != nil {
			t.Fatal(err)
		}
		in := auth.ExternalUser{Source: auth.SourceOIDC, Username: "olga", Grants: []auth.DirectoryGrant{{Project: "sepsis", Role: auth.RoleScientist}}}
		if _, err := s.SignInExternal(ctx, in); err != nil {
			t.Fatal(err)
		}
		for _, g := range []struct {
			user string
			role auth.Role
		}{{"olga", auth.RoleAnnotator}, {"marc", auth.RoleViewer}} {
			if err := s.Grant(admin, "sepsis", g.user, g.role); err != nil {
				t.Fatal(err)
			}
		}
		want := []auth.Member{
			{Username: "marc", Roles: []auth.Role{auth.RoleViewer}, Grants: []auth.MemberGrant{{Role: auth.RoleViewer}}},
			{Username: "olga", Roles: []auth.Role{auth.RoleAnnotator, auth.RoleScientist},
				Grants: []auth.MemberGrant{{Role: auth.RoleAnnotator}, {Role: auth.RoleScientist, Source: "directory"}}},
		}
		members := func() []auth.Member {
			t.Helper()
			m, err := s.Members(ctx, "sepsis")
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		eq := func(a, b auth.Member) bool {
			return a.Username == b.Username && slices.Equal(a.Roles, b.Roles) && slices.Equal(a.Grants, b.Grants)
		}
		if got := members(); !slices.EqualFunc(got, want, eq) {
			t.Fatalf("members = %+v\nwant %+v", got, want)
		}
		if !want[1].Grants[1].FromDirectory() || want[1].Grants[0].FromDirectory() {
			t.Error("FromDirectory")
		}
		if err := s.Revoke(admin, "sepsis", "olga", auth.RoleScientist); err != nil {
			t.Fatal(err)
		}
		if got := members(); len(got) != 2 || len(got[1].Grants) != 1 {
			t.Fatalf("after revoking by hand: %+v", got)
		}
		if _, err := s.SignInExternal(ctx, in); err != nil {
			t.Fatal(err)
		}
		if got := members(); !slices.EqualFunc(got, want, eq) {
			t.Fatalf("after the next sign-in: %+v\nwant %+v", got, want)
		}
	})
}
