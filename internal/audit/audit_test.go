package audit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
)

func fill(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	ctx := audit.WithRequestID(audit.WithActor(context.Background(), "alice"), "req-1")
	for i := 0; i < n; i++ {
		err := l.Append(ctx, audit.Event{Action: fmt.Sprintf("dataset.%s", []string{"read", "create"}[i%2]), Project: "p" + fmt.Sprint(i%3), Target: fmt.Sprintf("ds@%d", i), Outcome: audit.Success})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestChainVerifiesAndDetectsTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  string
		broken  int64
		problem string
	}{
		{"edit a field", `UPDATE audit_events SET actor = 'mallory' WHERE seq = 4`, 4, "changed"},
		{"edit and rehash nothing else", `UPDATE audit_events SET outcome = 'denied' WHERE seq = 7`, 7, "changed"},
		{"delete an event", `DELETE FROM audit_events WHERE seq = 5`, 5, "missing"},
		{"recompute a hash without relinking", `UPDATE audit_events SET hash = 'ab' WHERE seq = 3`, 3, "changed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				l := audit.New(d)
				fill(t, l, 9)
				r, err := l.Verify(ctx)
				if err != nil || !r.OK || r.Events != 9 {
					t.Fatalf("intact chain: %+v, %v", r, err)
				}
				if _, err := d.Exec(ctx, tc.tamper); err != nil {
					t.Fatal(err)
				}
				r, err = l.Verify(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if r.OK || r.BrokenSeq != tc.broken || !strings.Contains(r.Problem, tc.problem) {
					t.Fatalf("tampered chain: %+v, want broken at %d (%s)", r, tc.broken, tc.problem)
				}
			})
		})
	}
}

func TestListFiltersAndContext(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		i := 0
		l.SetClock(func() time.Time { i++; return base.Add(time.Duration(i) * time.Hour) })
		fill(t, l, 6)
		all, err := l.List(ctx, audit.Filter{})
		if err != nil || len(all) != 6 || all[0].Seq != 6 {
			t.Fatalf("List all = %d events, %v", len(all), err)
		}
		if all[0].Actor != "alice" || all[0].RequestID != "req-1" {
			t.Fatalf("actor/request id from context not recorded: %+v", all[0])
		}
		for _, tc := range []struct {
			name string
			f    audit.Filter
			want int
		}{
			{"project", audit.Filter{Project: "p0"}, 2},
			{"action", audit.Filter{Action: "dataset.read"}, 3},
			{"action prefix", audit.Filter{Action: "dataset.*"}, 6},
			{"actor other", audit.Filter{Actor: "bob"}, 0},
			{"since", audit.Filter{Since: base.Add(4 * time.Hour)}, 3},
			{"until", audit.Filter{Until: base.Add(3 * time.Hour)}, 2},
			{"limit", audit.Filter{Limit: 2}, 2},
		} {
			got, err := l.List(ctx, tc.f)
			if err != nil || len(got) != tc.want {
				t.Errorf("%s: %d events, %v; want %d", tc.name, len(got), err, tc.want)
			}
		}
	})
}

func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := audit.New(d)
		var wg sync.WaitGroup
		errc := make(chan error, 40)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					errc <- l.Append(context.Background(), audit.Event{Action: "x", Outcome: audit.Success})
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		r, err := l.Verify(context.Background())
		if err != nil || !r.OK || r.Events != 40 {
			t.Fatalf("after concurrent appends: %+v, %v", r, err)
		}
	})
}

func TestVerifyRecent(t *testing.T) {
	defer audit.SetFullWalk(1, time.Hour)() // incremental from the second check on
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		fill(t, l, 5)
		r, err := l.VerifyRecent(ctx)
		if err != nil || !r.OK || r.Events != 5 || r.From != 1 {
			t.Fatalf("first check walks everything: %+v %v", r, err)
		}
		fill(t, l, 3)
		r, err = l.VerifyRecent(ctx)
		if err != nil || !r.OK || r.Events != 8 || r.From != 6 {
			t.Fatalf("second check walks the new events: %+v %v", r, err)
		}
		full, _ := l.Verify(ctx)
		if full.Head != r.Head {
			t.Fatalf("heads differ: %s vs %s", full.Head, r.Head)
		}
		// A change to a new event, or to the last verified one, is found.
		fill(t, l, 2)
		if _, err := d.Exec(ctx, `UPDATE audit_events SET actor = 'mallory' WHERE seq = 9`); err != nil {
			t.Fatal(err)
		}
		if r, _ := l.VerifyRecent(ctx); r.OK || r.BrokenSeq != 9 {
			t.Fatalf("tampered new event: %+v", r)
		}
		if _, err := d.Exec(ctx, `UPDATE audit_events SET actor = 'mallory' WHERE seq = 8`); err != nil {
			t.Fatal(err)
		}
		if r, _ := l.VerifyRecent(ctx); r.OK || r.BrokenSeq != 8 || r.From != 1 {
			t.Fatalf("tampered checkpoint: %+v", r)
		}
		// A change before the checkpoint waits for the next full walk.
		defer audit.SetFullWalk(1, 0)()
		if _, err := d.Exec(ctx, `UPDATE audit_events SET actor = 'mallory' WHERE seq = 2`); err != nil {
			t.Fatal(err)
		}
		if r, _ := l.VerifyRecent(ctx); r.OK || r.BrokenSeq != 2 {
			t.Fatalf("full walk: %+v", r)
		}
	})
}
