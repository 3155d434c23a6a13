package mlflowapi_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
)

// metricOut is a metric as the API writes it, its value kept raw to see
// how a non-finite one is spelled.
type metricOut struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
	Step  int64           `json:"step"`
}

type runOut struct {
	Info struct {
		RunID string `json:"run_id"`
	} `json:"info"`
	Data struct {
		Metrics []metricOut `json:"metrics"`
	} `json:"data"`
}

func metricMap(ms []metricOut) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		out[m.Key] = string(m.Value)
	}
	return out
}

// TestNonFiniteMetrics logs NaN and ±Infinity as the MLflow client does
// (protobuf JSON strings), with log-metric and log-batch, and reads them
// back exact from get-run, get-history and search; a NaN matches no
// numeric comparison of a search.
func TestNonFiniteMetrics(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		diverged, fine := e.newRun("diverged"), e.newRun("fine")
		logs := []struct {
			path string
			body map[string]any
		}{
			{"runs/log-metric", map[string]any{"run_id": diverged, "key": "loss", "value": 0.8, "timestamp": 1000, "step": 0}},
			{"runs/log-metric", map[string]any{"run_id": diverged, "key": "loss", "value": "NaN", "timestamp": 1001, "step": 1}},
			{"runs/log-batch", map[string]any{"run_id": diverged, "metrics": []map[string]any{
				{"key": "grad", "value": "Infinity", "timestamp": 1000, "step": 0},
				{"key": "logp", "value": "-Infinity", "timestamp": 1000, "step": 0},
				{"key": "acc", "value": 0.5, "timestamp": 1000, "step": 0},
				{"key": "kl", "value": "NaN", "timestamp": 1000, "step": 0},
			}}},
			{"runs/log-metric", map[string]any{"run_id": fine, "key": "loss", "value": 0.5, "timestamp": 1000, "step": 0}},
			{"runs/log-metric", map[string]any{"run_id": fine, "key": "grad", "value": 3, "timestamp": 1000, "step": 0}},
		}
		for _, l := range logs {
			if status, body := e.call("POST", l.path, e.sci, l.body, nil); status != 200 {
				t.Fatalf("%s %v: %d %s", l.path, l.body, status, body)
			}
		}

		want := map[string]string{"loss": `"NaN"`, "grad": `"Infinity"`, "logp": `"-Infinity"`, "acc": `0.5`, "kl": `"NaN"`}
		var got struct {
			Run runOut `json:"run"`
		}
		if status, body := e.call("GET", "runs/get", e.viewer, "run_id="+diverged, &got); status != 200 {
			t.Fatalf("get run: %d %s", status, body)
		}
		if m := metricMap(got.Run.Data.Metrics); !maps.Equal(m, want) {
			t.Errorf("get-run metrics = %v, want %v", m, want)
		}

		for key, wantHist := range map[string][]string{"loss": {`0.8`, `"NaN"`}, "grad": {`"Infinity"`}, "logp": {`"-Infinity"`}} {
			var hist struct {
				Metrics []metricOut `json:"metrics"`
			}
			if status, body := e.call("GET", "metrics/get-history", e.viewer, "run_id="+diverged+"&metric_key="+key, &hist); status != 200 {
				t.Fatalf("get-history %s: %d %s", key, status, body)
			}
			var vals []string
			for _, m := range hist.Metrics {
				vals = append(vals, string(m.Value))
			}
			if !slices.Equal(vals, wantHist) {
				t.Errorf("history of %s = %v, want %v", key, vals, wantHist)
			}
		}

		searches := []struct {
			filter string
			want   []string // run names, newest first
		}{
			{"metrics.loss < 1", []string{fine}},
			{"metrics.loss >= 0", []string{fine}},
			{"metrics.loss != 0", []string{fine}}, // NaN compares false, even with !=
			{"metrics.loss = 0", nil},             // a NaN is stored as 0 + is_nan: it must not show
			{"metrics.kl > -1", nil},
			{"metrics.grad > 1e308", []string{diverged}},
			{"metrics.grad < 10", []string{fine}},
			{"metrics.logp < -1e308", []string{diverged}},
			{"metrics.acc = 0.5", []string{diverged}},
			{"", []string{fine, diverged}},
		}
		for _, s := range searches {
			t.Run(s.filter, func(t *testing.T) {
				var res struct {
					Runs []runOut `json:"runs"`
				}
				if status, body := e.call("POST", "runs/search", e.viewer, map[string]any{"experiment_ids": []string{e.experimentID}, "filter": s.filter}, &res); status != 200 {
					t.Fatalf("search: %d %s", status, body)
				}
				var ids []string
				for _, r := range res.Runs {
					ids = append(ids, r.Info.RunID)
					if r.Info.RunID == diverged {
						if m := metricMap(r.Data.Metrics); !maps.Equal(m, want) {
							t.Errorf("searched run's metrics = %v, want %v", m, want)
						}
					}
				}
				if !slices.Equal(ids, s.want) {
					t.Errorf("runs = %v, want %v (diverged %s, fine %s)", ids, s.want, diverged, fine)
				}
			})
		}
	})
}
