package serve_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
)

// postKey sends an inference request with an Idempotency-Key header (none
// when key is empty) and returns the status and the prediction ids.
func (e *env) postKey(t *testing.T, key, body string) (int, []string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v2/models/lin/infer", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Parameters struct {
			IDs []string `json:"prediction_ids"`
		} `json:"parameters"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("HTTP %d: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out.Parameters.IDs
}

// A request retried with the same Idempotency-Key (as nginx does on another
// replica) answers the same prediction ids and is logged once; other
// inputs, another key or no key log new predictions; a bad key is refused
// and logs nothing.
func TestIdempotentInference(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, serve.Options{})
		e.register(t, "lin", linear(2))
		e.promote(t, "lin", 1, allEnvs...)

		steps := []struct {
			name, key, body string
			group           int // steps of one group answer the same ids, others different ones
			logged          int // predictions in the log after the step
		}{
			{"first attempt", "k-1", xRequest(1, 2), 0, 2},
			{"retry", "k-1", xRequest(1, 2), 0, 2},
			{"retry again", "k-1", xRequest(1, 2), 0, 2},
			{"same key, other inputs", "k-1", xRequest(1, 3), 1, 4},
			{"same key, other inputs, retried", "k-1", xRequest(1, 3), 1, 4},
			{"other key", "k-2", xRequest(1, 2), 2, 6},
			{"no key", "", xRequest(1, 2), 3, 8},
			{"no key again", "", xRequest(1, 2), 4, 10},
		}
		var ids [][]string
		for i, s := range steps {
			status, got := e.postKey(t, s.key, s.body)
			if status != http.StatusOK || len(got) != 2 {
				t.Fatalf("%s: HTTP %d, ids %v", s.name, status, got)
			}
			for j, prev := range ids {
				if same, want := slices.Equal(prev, got), steps[j].group == s.group; same != want {
					t.Fatalf("%s: ids %v, step %d (%s) had %v (want the same: %v)", s.name, got, j, steps[j].name, prev, want)
				}
			}
			ids = append(ids, got)
			if n := e.count(t, ""); n != s.logged {
				t.Fatalf("step %d (%s): %d predictions logged, want %d", i, s.name, n, s.logged)
			}
		}
		for _, bad := range []string{strings.Repeat("k", serve.MaxIdempotencyKey+1), "clé-1"} {
			status, _ := e.postKey(t, bad, xRequest(5))
			if status != http.StatusBadRequest {
				t.Fatalf("key %q: HTTP %d, want 400", bad, status)
			}
		}
		if n := e.count(t, ""); n != 10 {
			t.Fatalf("%d predictions logged after refused keys, want 10", n)
		}
	})
}

// With a canary, a retry with the same key takes the same route.
func TestIdempotentCanaryRoute(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), serve.Options{})
	e.register(t, "lin", linear(1))
	e.register(t, "lin", linear(2))
	e.promote(t, "lin", 1, allEnvs...)
	e.promote(t, "lin", 2, "dev", "test", "integration")
	if _, err := e.reg.SetCanary(e.ctx, "lin", 2, 0.5, registry.ModeCanary); err != nil {
		t.Fatal(err)
	}
	routes := map[string]int{}
	for i := range 40 {
		key := fmt.Sprintf("req-%d", i)
		_, first := e.postKey(t, key, xRequest(1))
		for range 3 {
			if _, again := e.postKey(t, key, xRequest(1)); !slices.Equal(first, again) {
				t.Fatalf("key %s: retry answered ids %v, first %v", key, again, first)
			}
		}
		var route string
		if err := e.d.QueryRow(e.ctx, `SELECT route FROM predictions WHERE id = ?`, first[0]).Scan(&route); err != nil {
			t.Fatal(err)
		}
		routes[route]++
	}
	if routes[serve.RouteCanary] == 0 || routes[serve.RoutePrimary] == 0 || e.count(t, "") != 40 {
		t.Fatalf("routes %v and %d predictions logged, want both routes and 40", routes, e.count(t, ""))
	}
}
