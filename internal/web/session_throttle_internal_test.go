package web

import (
	"testing"
	"time"
)

func TestLoginThrottle(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	th := newLoginThrottle(func() time.Time { return now })
	step := func(d time.Duration) { now = now.Add(d) }
	isLocked := func(user string) bool { _, l := th.locked(user); return l }

	// Failures spread over more than the window never lock.
	for i := 0; i < 10; i++ {
		th.fail("alice")
		step(4 * time.Minute)
	}
	if isLocked("alice") {
		t.Fatal("locked by failures spread over more than the window")
	}

	// Five within the window lock, for every spelling, and not others.
	for i := 0; i < maxFailedLogins-1; i++ {
		th.fail("bob")
		step(time.Minute)
		if isLocked("bob") {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	th.fail("Bob")
	until, locked := th.locked(" BOB ")
	if !locked || !until.Equal(now.Add(loginLockout)) {
		t.Fatalf("after %d failures: locked %v until %v", maxFailedLogins, locked, until)
	}
	if isLocked("alice") {
		t.Fatal("another username is locked too")
	}
	step(loginLockout - time.Second)
	if !isLocked("bob") {
		t.Fatal("lockout ended early")
	}
	step(time.Second)
	if isLocked("bob") {
		t.Fatal("lockout did not end")
	}
	// After the lockout the count starts again.
	th.fail("bob")
	if isLocked("bob") {
		t.Fatal("one failure after the lockout locked again")
	}

	// A correct password forgets the failures.
	for i := 0; i < maxFailedLogins-1; i++ {
		th.fail("carla")
	}
	th.succeed("carla")
	th.fail("carla")
	if isLocked("carla") {
		t.Fatal("failures before a successful sign-in still counted")
	}

	// Pruning forgets only usernames without recent failures or lockout.
	th.fail("dave")
	step(failedLoginWindow)
	for i := 0; i < maxFailedLogins; i++ {
		th.fail("erin")
	}
	th.prune(now)
	if _, ok := th.users["dave"]; ok {
		t.Error("prune kept a username without recent failures")
	}
	if _, ok := th.users["erin"]; !ok {
		t.Error("prune forgot a locked username")
	}
}
