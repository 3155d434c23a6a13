package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
)

func TestLoginThrottling(t *testing.T) {
	e := newEnv(t)
	wrong := url.Values{"username": {"alice"}, "password": {"wrong-password-123"}}
	for i := 1; i <= 5; i++ {
		if r := e.do("POST", "/login", wrong, nil, ""); r.StatusCode != 401 {
			t.Fatalf("failed sign-in %d: %d", i, r.StatusCode)
		}
	}
	// The sixth attempt is refused, even with the right password.
	r := e.do("POST", "/login", url.Values{"username": {"alice"}, "password": {password}}, nil, "")
	if r.StatusCode != 429 || !strings.Contains(r.Body, "Too many failed sign-ins") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("sign-in after 5 failures: %d Retry-After %q\n%s", r.StatusCode, r.Header.Get("Retry-After"), r.Body)
	}
	if sessionCookie(r) != nil {
		t.Fatal("a throttled sign-in opened a session")
	}
	// Other accounts, and token sign-ins, go on.
	if r := e.do("POST", "/login", url.Values{"username": {"carla"}, "password": {password}}, nil, ""); r.StatusCode != 303 {
		t.Fatalf("another user's sign-in: %d", r.StatusCode)
	}
	if r := e.do("POST", "/login", url.Values{"token": {adminToken}}, nil, ""); r.StatusCode != 303 {
		t.Fatalf("token sign-in: %d", r.StatusCode)
	}
	evs, err := e.audit.List(context.Background(), audit.Filter{Action: "session.login_throttled"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("throttled sign-ins audited: %d events, %v", len(evs), err)
	}
	if evs[0].Target != "user:alice" || evs[0].Outcome != audit.Denied || strings.Contains(fmt.Sprint(evs[0]), password) {
		t.Fatalf("audit event: %+v", evs[0])
	}
}
