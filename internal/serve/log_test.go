package serve_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/serve"
)

// Concurrent requests of many sizes (the log writes them with prepared
// statements of 1, 2, 4 … 256 rows, several to a commit) are all logged,
// each row with its own inputs and output, and answered only once logged.
func TestLogWritesEveryRow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, serve.Options{})
		e.register(t, "lin", linear(2))
		e.promote(t, "lin", 1, allEnvs...)
		sizes := []int{1, 2, 3, 37, 255, 256, 257, 300, 513, 1}
		type sent struct {
			ids []string
			x   []float64
		}
		got := make([]sent, len(sizes))
		var wg sync.WaitGroup
		for k, n := range sizes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				x := make([]float64, n)
				for i := range x {
					x[i] = float64(k*1000 + i)
				}
				resp, err := e.svc.Infer(context.Background(), "lin", 0, mustRequest(xRequest(x...)))
				if err != nil {
					t.Error(err)
					return
				}
				ids, _ := resp.Parameters["prediction_ids"].([]string)
				if len(ids) != n {
					t.Errorf("%d rows: %d prediction ids", n, len(ids))
					return
				}
				// Answered means logged: the rows are there without a flush.
				var logged int
				if err := d.QueryRow(context.Background(), `SELECT COUNT(*) FROM predictions WHERE id IN (?, ?)`, ids[0], ids[n-1]).Scan(&logged); err != nil || logged != min(n, 2) {
					t.Errorf("%d rows answered, %d of the first and last logged (%v)", n, logged, err)
				}
				got[k] = sent{ids, x}
			}()
		}
		wg.Wait()
		total := 0
		for _, n := range sizes {
			total += n
		}
		if n := e.count(t, ""); n != total {
			t.Fatalf("%d predictions logged, want %d", n, total)
		}
		ps, err := e.svc.Predictions(e.ctx, "proj", serve.Filter{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]serve.Prediction{}
		for _, p := range ps {
			byID[p.ID] = p
		}
		for _, s := range got {
			for i, id := range s.ids {
				p, ok := byID[id]
				if !ok {
					t.Fatalf("prediction %s not logged", id)
				}
				var in struct{ X float64 }
				var out map[string]float64
				if json.Unmarshal(p.Inputs, &in) != nil || json.Unmarshal(p.Outputs, &out) != nil || in.X != s.x[i] || len(out) != 1 {
					t.Fatalf("prediction %s logged as %s → %s, want x=%v", id, p.Inputs, p.Outputs, s.x[i])
				}
				for _, y := range out {
					if y != 2*s.x[i] {
						t.Fatalf("prediction %s: logged output %v, want %v", id, y, 2*s.x[i])
					}
				}
			}
		}
	})
}
