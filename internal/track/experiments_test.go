package track_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/track"
)

func TestExperimentsAndTags(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, ctx := newService(t, d)
		e, err := s.CreateExperiment(ctx, "proj", "sepsis", []track.KV{{Key: "team", Value: "icu"}})
		if err != nil || e.Tags["team"] != "icu" || e.Project != "proj" {
			t.Fatalf("CreateExperiment = %+v, %v", e, err)
		}
		if _, err := s.CreateExperiment(ctx, "proj", "sepsis", nil); !errs.Is(err, errs.Conflict) {
			t.Errorf("duplicate experiment: %v", err)
		}
		if _, err := s.CreateExperiment(ctx, "nope", "x", nil); !errs.Is(err, errs.NotFound) {
			t.Errorf("experiment in an unknown project: %v", err)
		}
		if got, err := s.ExperimentByName(ctx, "proj", "sepsis"); err != nil || got.ID != e.ID {
			t.Errorf("ExperimentByName = %+v, %v", got, err)
		}
		start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		r, err := s.StartRunIn(ctx, e.ID, "r1", start, []track.KV{{Key: "k", Value: "v"}})
		if err != nil || r.ExperimentID != e.ID || r.Experiment != "sepsis" || !r.StartedAt.Equal(start) || r.Tags["k"] != "v" {
			t.Fatalf("StartRunIn = %+v, %v", r, err)
		}
		if _, err := s.StartRunIn(ctx, e.ID+100, "", time.Time{}, nil); !errs.Is(err, errs.NotFound) {
			t.Errorf("StartRunIn unknown experiment: %v", err)
		}
		if err := s.SetTag(ctx, r.ID, "k", "w"); err != nil {
			t.Fatal(err)
		}
		if p, exp, err := s.RunLocation(ctx, r.ID); p != "proj" || exp != e.ID || err != nil {
			t.Errorf("RunLocation = %s %d %v", p, exp, err)
		}
		if _, _, err := s.RunLocation(ctx, r.ID+100); !errs.Is(err, errs.NotFound) {
			t.Errorf("RunLocation unknown: %v", err)
		}
		if err := s.UpdateRun(ctx, r.ID, track.Finished, "renamed", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateRun(ctx, r.ID, track.Finished, "", time.Time{}); err != nil {
			t.Errorf("same status again: %v", err)
		}
		if err := s.UpdateRun(ctx, r.ID, track.Killed, "", time.Time{}); !errs.Is(err, errs.Invalid) {
			t.Errorf("kill a finished run: %v", err)
		}
		got, _ := s.Get(ctx, r.ID)
		if got.Tags["k"] != "w" || got.Name != "renamed" || got.Status != track.Finished {
			t.Errorf("run = %+v", got)
		}
	})
}

func TestLogBatchAtomicUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, ctx := newService(t, d)
		r, err := s.StartRun(ctx, "proj", "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.LogBatch(ctx, r.ID, nil, []track.KV{{Key: "fixed", Value: "1"}}, nil); err != nil {
			t.Fatal(err)
		}
		// Concurrent batches share group commits; the ones that change
		// "fixed" must fail alone and leave nothing behind.
		var wg sync.WaitGroup
		errsOf := make([]error, 40)
		for i := range errsOf {
			wg.Add(1)
			go func() {
				defer wg.Done()
				value := "1"
				if i%4 == 0 {
					value = "2"
				}
				ms := []track.Metric{{Key: fmt.Sprint("m", i), Value: float64(i), Step: 1}, {Key: "shared", Value: float64(i), Step: int64(i)}}
				errsOf[i] = s.LogBatch(ctx, r.ID, ms, []track.KV{{Key: "fixed", Value: value}}, []track.KV{{Key: fmt.Sprint("t", i), Value: "x"}})
			}()
		}
		wg.Wait()
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i, err := range errsOf {
			_, hasMetric := got.Metrics[fmt.Sprint("m", i)]
			_, hasTag := got.Tags[fmt.Sprint("t", i)]
			if i%4 == 0 {
				if !errs.Is(err, errs.Conflict) || hasMetric || hasTag {
					t.Errorf("batch %d: err %v, metric %v, tag %v; want a conflict and nothing recorded", i, err, hasMetric, hasTag)
				}
			} else if err != nil || !hasMetric || !hasTag {
				t.Errorf("batch %d: err %v, metric %v, tag %v", i, err, hasMetric, hasTag)
			}
		}
		hist, err := s.MetricHistory(ctx, r.ID, "shared")
		if err != nil || len(hist) != 30 {
			t.Fatalf("history = %d points, %v; want 30", len(hist), err)
		}
		for i := 1; i < len(hist); i++ {
			if hist[i].Step < hist[i-1].Step {
				t.Fatal("history not in step order")
			}
		}
		over := make([]track.Metric, track.MaxBatchMetrics+1)
		for i := range over {
			over[i] = track.Metric{Key: "over", Value: 1}
		}
		if err := s.LogBatch(ctx, r.ID, over, nil, nil); !errs.Is(err, errs.Invalid) {
			t.Errorf("over the limit: %v", err)
		}
		if err := s.LogBatch(ctx, r.ID+100, over[:1], nil, nil); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown run: %v", err)
		}
	})
}

func TestListArtifacts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, ctx := newService(t, d)
		r, _ := s.StartRun(ctx, "proj", "", "", nil)
		for _, p := range []string{"model/a.json", "model/sub/b.bin", "roc.png", "modelx.txt"} {
			if err := s.PutArtifact(ctx, r.ID, p, strings.NewReader("data")); err != nil {
				t.Fatal(err)
			}
		}
		list := func(dir string) string {
			es, err := s.ListArtifacts(ctx, r.ID, dir)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range es {
				out = append(out, fmt.Sprintf("%s:%v:%d", e.Path, e.IsDir, e.Size))
			}
			return strings.Join(out, ",")
		}
		for dir, want := range map[string]string{
			"":        "model:true:0,modelx.txt:false:4,roc.png:false:4",
			"model":   "model/a.json:false:4,model/sub:true:0",
			"model/":  "model/a.json:false:4,model/sub:true:0",
			"nothing": "",
		} {
			if got := list(dir); got != want {
				t.Errorf("ListArtifacts(%q) = %s, want %s", dir, got, want)
			}
		}
	})
}
