package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/project"
)

func TestTokensLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := audit.New(d)
		s := auth.NewService(d, a)
		now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		s.SetClock(func() time.Time { return now })
		if _, err := s.CreateUser(ctx, "alice", "Alice", "", false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, "alice", "", "", false); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate user: %v", err)
		}
		tok, secret, err := s.CreateToken(ctx, "alice", "laptop", auth.KindAPI, time.Hour, "")
		if err != nil || !strings.HasPrefix(secret, "hyg_") {
			t.Fatalf("CreateToken = %v, %q", err, secret)
		}
		var stored int
		d.QueryRow(ctx, `SELECT COUNT(*) FROM tokens WHERE hash = ? OR prefix = ?`, secret, secret).Scan(&stored)
		if stored != 0 {
			t.Fatal("token secret stored in clear")
		}
		p, err := s.Authenticate(ctx, "", secret)
		if err != nil || p.Username != "alice" {
			t.Fatalf("Authenticate = %v, %v", p, err)
		}
		if _, err := s.Authenticate(ctx, "alice", secret); err != nil {
			t.Fatalf("Basic with the right user: %v", err)
		}
		if _, err := s.Authenticate(ctx, "bob", secret); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("Basic with another user: %v", err)
		}
		if _, err := s.Authenticate(ctx, "", secret+"x"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("wrong secret: %v", err)
		}
		now = now.Add(2 * time.Hour)
		if _, err := s.Authenticate(ctx, "", secret); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("expired token accepted: %v", err)
		}
		_, secret2, _ := s.CreateToken(ctx, "alice", "ci", auth.KindAPI, 0, "")
		if err := s.RevokeToken(ctx, "alice", tok.ID+1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, "", secret2); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("revoked token accepted: %v", err)
		}
		if err := s.RevokeToken(ctx, "alice", tok.ID+1); !errs.Is(err, errs.NotFound) {
			t.Fatalf("second revoke: %v", err)
		}
		if r, _ := a.Verify(ctx); !r.OK || r.Events < 4 {
			t.Fatalf("audit after token ops: %+v", r)
		}
	})
}

func TestPasswordsGrantsAndBootstrap(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := audit.WithActor(context.Background(), "admin")
		a := audit.New(d)
		s := auth.NewService(d, a)
		created, err := s.Bootstrap(ctx, "bootstrap-token-0123456789")
		if err != nil || !created {
			t.Fatalf("Bootstrap = %v, %v", created, err)
		}
		if again, _ := s.Bootstrap(ctx, "another-token-0123456789"); again {
			t.Fatal("bootstrap ran twice")
		}
		admin, err := s.Authenticate(ctx, "", "bootstrap-token-0123456789")
		if err != nil || !admin.Admin {
			t.Fatalf("bootstrap admin: %v %v", admin, err)
		}
		if _, err := s.CreateUser(ctx, "carol", "", "short", false); !errs.Is(err, errs.Invalid) {
			t.Fatalf("short password: %v", err)
		}
		if _, err := s.CreateUser(ctx, "carol", "Dr Carol", "correct horse battery", false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CheckPassword(ctx, "carol", "wrong password!!"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := s.CheckPassword(ctx, "nobody", "whatever-password"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("unknown user: %v", err)
		}
		projects := project.NewService(d, a)
		if _, err := projects.Create(ctx, "sepsis", "Sepsis", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.Grant(ctx, "sepsis", "carol", auth.RoleClinicianValidator); err != nil {
			t.Fatal(err)
		}
		if err := s.Grant(ctx, "sepsis", "carol", "surgeon"); !errs.Is(err, errs.Invalid) {
			t.Fatalf("unknown role: %v", err)
		}
		if err := s.Grant(ctx, "nope", "carol", auth.RoleViewer); !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown project: %v", err)
		}
		p, err := s.CheckPassword(ctx, "carol", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		if !p.Can("sepsis", auth.PermFeedbackWrite) || p.Can("sepsis", auth.PermIdentifyingData) || p.Can("other", auth.PermProjectRead) {
			t.Fatalf("carol's permissions wrong: %+v", p)
		}
		if admin.Can("sepsis", auth.PermIdentifyingData) || admin.Can("sepsis", auth.PermVaultOpen) || !admin.Can("sepsis", auth.PermProjectManage) {
			t.Fatal("instance admin must manage projects but not see identifying data without a grant")
		}
		if err := s.Revoke(ctx, "sepsis", "carol", auth.RoleClinicianValidator); err != nil {
			t.Fatal(err)
		}
		p, _ = s.PrincipalOf(ctx, "carol")
		if p.Can("sepsis", auth.PermProjectRead) {
			t.Fatal("revoked role still grants access")
		}
	})
}

func TestEveryRolePermIsDeclared(t *testing.T) {
	for _, r := range auth.Roles {
		if len(auth.PermsOf(r)) == 0 {
			t.Errorf("role %s has no permissions", r)
		}
		if !auth.RoleHas(r, auth.PermProjectRead) {
			t.Errorf("role %s cannot even read its project", r)
		}
	}
	// Only stewards touch identifying data; only reidentifiers open the vault.
	for _, r := range auth.Roles {
		if auth.RoleHas(r, auth.PermIdentifyingData) != (r == auth.RoleSteward) {
			t.Errorf("identifying data and role %s", r)
		}
		if auth.RoleHas(r, auth.PermVaultOpen) != (r == auth.RoleReidentifier) {
			t.Errorf("vault and role %s", r)
		}
	}
}

func TestLastUseWrittenAtMostOncePerMinute(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	s := auth.NewService(d, audit.New(d))
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	s.CreateUser(ctx, "alice", "", "", false)
	_, secret, _ := s.CreateToken(ctx, "alice", "t", auth.KindAPI, 0, "")
	lastUse := func() time.Time {
		ts, _ := s.Tokens(ctx, "alice")
		if ts[0].LastUsedAt == nil {
			return time.Time{}
		}
		return *ts[0].LastUsedAt
	}
	for _, step := range []struct {
		advance time.Duration
		want    time.Duration // offset of the recorded last use from the start
	}{{0, 0}, {30 * time.Second, 0}, {31 * time.Second, 61 * time.Second}} {
		now = now.Add(step.advance)
		if _, err := s.Authenticate(ctx, "", secret); err != nil {
			t.Fatal(err)
		}
		if got, want := lastUse(), time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).Add(step.want); !got.Equal(want) {
			t.Fatalf("after %v: last use %v, want %v", step.advance, got, want)
		}
	}
}

// TestTokenCache checks what the token cache may and may not remember:
// revocations and grant changes made through the same Service apply at
// once; those made by another process (another Service on the same
// database) within TokenCacheTTL; expiry is never late.
func TestTokenCache(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	a := audit.New(d)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, other := auth.NewService(d, a), auth.NewService(d, a)
	s.SetClock(clock)
	other.SetClock(clock)
	if _, err := project.NewService(d, a).Create(ctx, "icu", "", ""); err != nil {
		t.Fatal(err)
	}
	s.CreateUser(ctx, "alice", "", "", false)
	accepted := func(secret string) bool {
		t.Helper()
		_, err := s.Authenticate(ctx, "", secret)
		if err != nil && !errs.Is(err, errs.Unauthenticated) {
			t.Fatal(err)
		}
		return err == nil
	}

	// Revoked here: refused at once, although just cached.
	tok, secret, _ := s.CreateToken(ctx, "alice", "a", auth.KindAPI, 0, "")
	if !accepted(secret) {
		t.Fatal("new token refused")
	}
	if err := s.RevokeToken(ctx, "alice", tok.ID); err != nil {
		t.Fatal(err)
	}
	if accepted(secret) {
		t.Fatal("token revoked in this process still accepted")
	}

	// Revoked by another process: accepted at most TokenCacheTTL longer.
	tok, secret, _ = s.CreateToken(ctx, "alice", "b", auth.KindAPI, time.Hour, "")
	if !accepted(secret) {
		t.Fatal("new token refused")
	}
	if err := other.RevokeToken(ctx, "alice", tok.ID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(auth.TokenCacheTTL - time.Millisecond)
	accepted(secret) // may still be accepted: the documented staleness
	now = now.Add(time.Millisecond)
	if accepted(secret) {
		t.Fatalf("token revoked elsewhere still accepted after %v", auth.TokenCacheTTL)
	}

	// Expiry applies to the cached token too, to the instant.
	_, secret, _ = s.CreateToken(ctx, "alice", "c", auth.KindAPI, time.Second, "")
	if !accepted(secret) {
		t.Fatal("new token refused")
	}
	now = now.Add(time.Second)
	if accepted(secret) {
		t.Fatal("expired cached token accepted")
	}

	// Grants changed here show at once in the principal.
	_, secret, _ = s.CreateToken(ctx, "alice", "d", auth.KindAPI, 0, "")
	if p, _ := s.Authenticate(ctx, "", secret); p.Can("icu", auth.PermRunWrite) {
		t.Fatal("run.write before the grant")
	}
	if err := s.Grant(ctx, "icu", "alice", auth.RoleScientist); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Authenticate(ctx, "", secret); !p.Can("icu", auth.PermRunWrite) {
		t.Fatal("grant not seen")
	}
	if err := s.Revoke(ctx, "icu", "alice", auth.RoleScientist); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Authenticate(ctx, "", secret); p.Can("icu", auth.PermRunWrite) {
		t.Fatal("revoked grant still in the principal")
	}
	// Basic with the wrong user is refused from the cache as well.
	if _, err := s.Authenticate(ctx, "bob", secret); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("Basic with another user: %v", err)
	}
}
