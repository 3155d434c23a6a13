package track_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/track"
)

// searchFixture creates two experiments of 20 runs each with varied
// statuses, names, parameters, tags, metric series (whose latest value is
// not the last logged nor the largest) and artifacts, some runs sharing a
// start time. It returns the experiments' ids.
func searchFixture(t *testing.T, s *track.Service, ctx context.Context) (a, b int64) {
	t.Helper()
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var ids [2]int64
	for e := range ids {
		exp, err := s.CreateExperiment(ctx, "proj", fmt.Sprintf("exp%d", e), nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[e] = exp.ID
		for i := range 20 {
			start := base.Add(time.Duration(i/3) * time.Minute) // runs 3 by 3 share a start time
			var tags []track.KV
			if i%4 != 0 {
				tags = append(tags, track.KV{Key: "stage", Value: []string{"dev", "test", "prod"}[i%3]})
			}
			r, err := s.StartRunIn(ctx, exp.ID, fmt.Sprintf("run-%d-%d", e, i%5), start, tags)
			if err != nil {
				t.Fatal(err)
			}
			var params []track.KV
			if i%5 != 0 {
				params = append(params, track.KV{Key: "depth", Value: fmt.Sprint(i % 4)})
			}
			at := base.Add(time.Hour)
			metrics := []track.Metric{
				// loss: step 2 is the latest whatever the order of logging.
				{Key: "loss", Value: float64(i) / 20, Step: 2, At: at},
				{Key: "loss", Value: 5, Step: 1, At: at.Add(time.Minute)},
				{Key: "loss", Value: 9, Step: 0, At: at.Add(2 * time.Minute)},
			}
			if i%2 == 0 {
				// auc: same step, the later time wins; then a tie on
				// (step, time) where the larger value wins.
				metrics = append(metrics,
					track.Metric{Key: "auc", Value: 0.1, Step: 3, At: at},
					track.Metric{Key: "auc", Value: 0.5 + float64(i%7)/20, Step: 3, At: at.Add(time.Second)},
					track.Metric{Key: "auc", Value: 0.2, Step: 3, At: at.Add(time.Second)},
				)
			}
			if err := s.LogBatch(ctx, r.ID, metrics, params, nil); err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				if err := s.PutArtifact(ctx, r.ID, "model/weights.bin", strings.NewReader(fmt.Sprint("w", i))); err != nil {
					t.Fatal(err)
				}
				if err := s.PutArtifact(ctx, r.ID, "report.txt", strings.NewReader("r")); err != nil {
					t.Fatal(err)
				}
			}
			switch i % 3 {
			case 1:
				err = s.UpdateRun(ctx, r.ID, track.Finished, "", time.Time{})
			case 2:
				err = s.UpdateRun(ctx, r.ID, track.Failed, "", time.Time{})
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return ids[0], ids[1]
}

// naive is SearchRunsNaive without the artifacts (SearchRuns does not list
// them).
func naive(s *track.Service, ctx context.Context, ids []int64, conds []track.Cond, offset, limit int) ([]track.Run, bool, error) {
	runs, more, err := s.SearchRunsNaive(ctx, ids, conds, offset, limit)
	for i := range runs {
		runs[i].Artifacts = nil
	}
	return runs, more, err
}

func names(runs []track.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = fmt.Sprintf("%d:%s", r.ID, r.Name)
	}
	return out
}

// TestSearchRuns checks that SearchRuns, which filters and pages in SQL,
// answers exactly as the former in-memory search (SearchRunsNaive: every
// run read with Get, then matched) for every kind of condition and every
// page, and checks a few answers by hand.
func TestSearchRuns(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, ctx := newService(t, d)
		a, b := searchFixture(t, s, ctx)
		both := []int64{a, b}
		filters := map[string][]track.Cond{
			"none":               nil,
			"status =":           {{Kind: "attribute", Key: "status", Op: "=", Value: "finished"}},
			"status !=":          {{Kind: "attribute", Key: "status", Op: "!=", Value: "running"}},
			"run_name =":         {{Kind: "attribute", Key: "run_name", Op: "=", Value: "run-1-3"}},
			"run_name !=":        {{Kind: "attribute", Key: "run_name", Op: "!=", Value: "run-0-0"}},
			"param =":            {{Kind: "param", Key: "depth", Op: "=", Value: "2"}},
			"param != (missing)": {{Kind: "param", Key: "depth", Op: "!=", Value: "2"}},
			"param unknown":      {{Kind: "param", Key: "nope", Op: "!=", Value: "x"}},
			"tag =":              {{Kind: "tag", Key: "stage", Op: "=", Value: "prod"}},
			"tag !=":             {{Kind: "tag", Key: "stage", Op: "!=", Value: "prod"}},
			"metric <":           {{Kind: "metric", Key: "loss", Op: "<", Value: "0.3"}},
			"metric <=":          {{Kind: "metric", Key: "loss", Op: "<=", Value: "0.3"}},
			"metric >":           {{Kind: "metric", Key: "loss", Op: ">", Value: "0.7"}},
			"metric >=":          {{Kind: "metric", Key: "loss", Op: ">=", Value: "0.7"}},
			"metric =":           {{Kind: "metric", Key: "loss", Op: "=", Value: "0.5"}},
			"metric != (tie)":    {{Kind: "metric", Key: "auc", Op: "!=", Value: "0.2"}},
			"metric latest":      {{Kind: "metric", Key: "loss", Op: ">", Value: "4"}},
			"combined": {
				{Kind: "metric", Key: "auc", Op: ">=", Value: "0.6"},
				{Kind: "tag", Key: "stage", Op: "!=", Value: "dev"},
				{Kind: "attribute", Key: "status", Op: "!=", Value: "failed"},
			},
		}
		for name, conds := range filters {
			want, wantMore, err := naive(s, ctx, both, conds, 0, 1000)
			if err != nil || wantMore {
				t.Fatalf("%s: naive search: %v, more %v", name, err, wantMore)
			}
			for _, limit := range []int{1, 3, 7, 1000} {
				var got []track.Run
				for offset := 0; ; offset += limit {
					page, more, err := s.SearchRuns(ctx, both, conds, offset, limit)
					if err != nil {
						t.Fatalf("%s: SearchRuns(offset %d, limit %d): %v", name, offset, limit, err)
					}
					wantPage, wantMore, _ := naive(s, ctx, both, conds, offset, limit)
					if !reflect.DeepEqual(page, wantPage) || more != wantMore {
						t.Fatalf("%s: page (offset %d, limit %d) = %v more %v, want %v more %v\n%+v\n%+v", name, offset, limit, names(page), more, names(wantPage), wantMore, page, wantPage)
					}
					got = append(got, page...)
					if !more {
						break
					}
				}
				if !reflect.DeepEqual(names(got), names(want)) {
					t.Errorf("%s: pages of %d = %v, want %v", name, limit, names(got), names(want))
				}
			}
		}

		// By hand: newest first (started_at, then id); latest metric values.
		all, more, err := s.SearchRuns(ctx, []int64{a}, nil, 0, 100)
		if err != nil || more || len(all) != 20 {
			t.Fatalf("all runs of one experiment: %d runs, more %v, %v", len(all), more, err)
		}
		for i := 1; i < len(all); i++ {
			p, c := all[i-1], all[i]
			if p.StartedAt.Before(c.StartedAt) || (p.StartedAt.Equal(c.StartedAt) && p.ID < c.ID) {
				t.Errorf("order: run %d (%s) before run %d (%s)", p.ID, p.StartedAt, c.ID, c.StartedAt)
			}
		}
		last := all[0] // i = 19
		if last.Metrics["loss"] != 19.0/20 || last.Params["depth"] != "3" || last.Tags["stage"] != "test" || len(last.Artifacts) != 0 {
			t.Errorf("run 19 = %+v", last)
		}
		if first := all[19]; first.Metrics["auc"] != 0.5 || first.Tags != nil || len(first.Params) != 0 || first.Artifacts != nil {
			t.Errorf("run 0 = %+v", first)
		}
		got, _, err := s.SearchRuns(ctx, both, []track.Cond{{Kind: "metric", Key: "auc", Op: "=", Value: "0.2"}}, 0, 100)
		if err != nil || len(got) != 0 {
			t.Errorf("auc = 0.2 (a value tied with a larger one): %v, %v", names(got), err)
		}
		got, _, err = s.SearchRuns(ctx, both, []track.Cond{{Kind: "metric", Key: "loss", Op: ">=", Value: "0.9"}, {Kind: "attribute", Key: "run_name", Op: "=", Value: "run-1-4"}}, 0, 100)
		if err != nil || len(got) != 1 || got[0].Metrics["loss"] != 0.95 || got[0].ExperimentID != b {
			t.Errorf("loss >= 0.9 and run_name = run-1-4: %v, %v", names(got), err)
		}
		if got, more, err := s.SearchRuns(ctx, both, nil, 40, 10); err != nil || more || len(got) != 0 {
			t.Errorf("past the end: %v more %v %v", names(got), more, err)
		}
		if got, _, err := s.SearchRuns(ctx, nil, nil, 0, 10); err != nil || len(got) != 0 {
			t.Errorf("no experiment: %v %v", names(got), err)
		}

		for _, bad := range [][]track.Cond{
			{{Kind: "metric", Key: "loss", Op: ">", Value: "high"}},
			{{Kind: "metric", Key: "loss", Op: "LIKE", Value: "1"}},
			{{Kind: "param", Key: "depth", Op: "<", Value: "1"}},
			{{Kind: "attribute", Key: "start_time", Op: "=", Value: "1"}},
			{{Kind: "dataset", Key: "x", Op: "=", Value: "1"}},
		} {
			if _, _, err := s.SearchRuns(ctx, both, bad, 0, 10); !errs.Is(err, errs.Invalid) {
				t.Errorf("SearchRuns(%v) = %v, want invalid", bad, err)
			}
		}
	})
}

// BenchmarkSearchRuns searches 2,000 runs of 20 metrics (5 steps each),
// 3 parameters and 2 tags for a page of 100, unfiltered and filtered on a
// metric and a tag; "naive" is the former search (every run read, then
// matched). On PostgreSQL when HYGIE_TEST_POSTGRES is set.
//
//	go test ./internal/track -run '^$' -bench SearchRuns -benchtime 5x
func BenchmarkSearchRuns(b *testing.B) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *db.DB
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		b.Run(engine.name, func(b *testing.B) {
			d := engine.open(b)
			s, _, ctx := newService(b, d)
			exp, err := s.CreateExperiment(ctx, "proj", "bench", nil)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			metrics := make([]track.Metric, 0, 100)
			for i := range 2000 {
				r, err := s.StartRunIn(ctx, exp.ID, fmt.Sprint("run", i), start.Add(time.Duration(i)*time.Second), nil)
				if err != nil {
					b.Fatal(err)
				}
				metrics = metrics[:0]
				for k := range 20 {
					for step := range 5 {
						metrics = append(metrics, track.Metric{Key: fmt.Sprint("m", k), Value: float64((i*7+k*13+step)%100) / 100, Step: int64(step), At: start})
					}
				}
				params := []track.KV{{Key: "lr", Value: "0.1"}, {Key: "depth", Value: fmt.Sprint(i % 8)}, {Key: "seed", Value: fmt.Sprint(i)}}
				tags := []track.KV{{Key: "stage", Value: []string{"dev", "prod"}[i%2]}, {Key: "owner", Value: "sam"}}
				if err := s.LogBatch(ctx, r.ID, metrics, params, tags); err != nil {
					b.Fatal(err)
				}
			}
			filter := []track.Cond{{Kind: "metric", Key: "m3", Op: ">", Value: "0.5"}, {Kind: "tag", Key: "stage", Op: "=", Value: "prod"}}
			for _, c := range []struct {
				name   string
				search func(context.Context, []int64, []track.Cond, int, int) ([]track.Run, bool, error)
				conds  []track.Cond
			}{
				{"page", s.SearchRuns, nil},
				{"filtered", s.SearchRuns, filter},
				{"naive/page", s.SearchRunsNaive, nil},
				{"naive/filtered", s.SearchRunsNaive, filter},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						runs, more, err := c.search(ctx, []int64{exp.ID}, c.conds, 100, 100)
						if err != nil || len(runs) != 100 || !more {
							b.Fatalf("%d runs, more %v, %v", len(runs), more, err)
						}
					}
				})
			}
		})
	}
}
