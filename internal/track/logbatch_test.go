package track_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/track"
)

// TestGroupCommitUnderConcurrency logs many batches from many goroutines,
// so that they share group commits, with failing batches mixed in: batches
// for a run that does not exist and batches changing a logged parameter.
// Every successful batch must be readable exactly, value, step and time;
// every failing one must fail with its own error and leave nothing.
func TestGroupCommitUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, ctx := newService(t, d)
		const (
			runs      = 5
			writers   = 20
			perWriter = 15
			perBatch  = 10
		)
		var ids []int64
		for i := 0; i < runs; i++ {
			r, err := s.StartRun(ctx, "proj", "", fmt.Sprint("r", i), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.LogBatch(ctx, r.ID, nil, []track.KV{{Key: "fixed", Value: "1"}}, nil); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		missing := ids[len(ids)-1] + 1000
		at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

		type outcome struct {
			run  int64
			key  string
			want error // nil, or the error kind expected
			got  error
		}
		results := make([][]outcome, writers)
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					o := outcome{run: ids[(w+i)%runs], key: fmt.Sprintf("w%d", w)}
					var params []track.KV
					switch {
					case i%7 == 3:
						o.run, o.want = missing, errs.E(errs.NotFound, "")
					case i%5 == 4:
						params, o.want = []track.KV{{Key: "fixed", Value: "2"}}, errs.E(errs.Conflict, "")
					}
					ms := make([]track.Metric, perBatch)
					for j := range ms {
						// A distinct step per batch and metric; the value
						// encodes where it comes from.
						step := int64(i*perBatch + j)
						ms[j] = track.Metric{Key: o.key, Value: float64(w*1_000_000) + float64(step) + 0.5, Step: step, At: at.Add(time.Duration(step) * time.Millisecond)}
					}
					o.got = s.LogBatch(ctx, o.run, ms, params, []track.KV{{Key: fmt.Sprintf("t%d-%d", w, i), Value: "x"}})
					results[w] = append(results[w], o)
				}
			}()
		}
		wg.Wait()

		for w, rs := range results {
			key := fmt.Sprintf("w%d", w)
			want := map[int64][]track.Metric{} // run → expected history of key
			for i, o := range rs {
				switch {
				case o.want == nil && o.got != nil:
					t.Fatalf("writer %d batch %d: %v", w, i, o.got)
				case o.want != nil && !errs.Is(o.got, errs.CodeOf(o.want)):
					t.Fatalf("writer %d batch %d: err %v, want %s", w, i, o.got, errs.CodeOf(o.want))
				case o.want == nil:
					for j := 0; j < perBatch; j++ {
						step := int64(i*perBatch + j)
						want[o.run] = append(want[o.run], track.Metric{Key: key, Value: float64(w*1_000_000) + float64(step) + 0.5, Step: step, At: at.Add(time.Duration(step) * time.Millisecond)})
					}
				}
			}
			for _, id := range ids {
				hist, err := s.MetricHistory(ctx, id, key)
				if err != nil {
					t.Fatal(err)
				}
				if len(hist) != len(want[id]) {
					t.Fatalf("run %d %s: %d points, want %d", id, key, len(hist), len(want[id]))
				}
				for k, m := range hist {
					if e := want[id][k]; m.Key != e.Key || m.Value != e.Value || m.Step != e.Step || !m.At.Equal(e.At) {
						t.Fatalf("run %d %s point %d = %+v, want %+v", id, key, k, m, e)
					}
				}
			}
		}
		// Failed batches left no tag behind, successful ones did.
		for _, id := range ids {
			r, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Params["fixed"] != "1" {
				t.Errorf("run %d: parameter fixed = %q", id, r.Params["fixed"])
			}
			for w, rs := range results {
				for i, o := range rs {
					_, tagged := r.Tags[fmt.Sprintf("t%d-%d", w, i)]
					if tagged != (o.run == id && o.want == nil) {
						t.Errorf("run %d: tag of writer %d batch %d present = %v (batch error %v)", id, w, i, tagged, o.got)
					}
				}
			}
		}
	})
}

// TestLogBatchCancelled checks that a batch whose caller has gone before
// its group is written reports the cancellation and writes nothing.
func TestLogBatchCancelled(t *testing.T) {
	d := dbtest.SQLite(t)
	s, _, ctx := newService(t, d)
	r, err := s.StartRun(ctx, "proj", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.LogBatch(gone, r.ID, []track.Metric{{Key: "m", Value: 1}}, nil, nil); err != context.Canceled {
		t.Fatalf("cancelled batch: %v", err)
	}
	if hist, _ := s.MetricHistory(ctx, r.ID, "m"); len(hist) != 0 {
		t.Fatalf("cancelled batch wrote %d points", len(hist))
	}
}
