package registry_test

import (
	"math"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

// TestGatesNonFiniteMetrics: a NaN or ±Inf metric (logged by a diverged
// training) fails a metric gate whatever its direction; ±Inf would pass a
// plain comparison on one side.
func TestGatesNonFiniteMetrics(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		for _, r := range []registry.Rule{{Metric: "brier", Op: "<=", Threshold: 0.2}, {Metric: "auc", Op: ">=", Threshold: 0.7}} {
			if err := e.reg.SetGate(e.ctx, "proj", r); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name    string
			metrics map[string]float64
			pass    bool
			detail  string
		}{
			{"finite", map[string]float64{"brier": 0.1, "auc": 0.8}, true, ""},
			{"NaN auc", map[string]float64{"brier": 0.1, "auc": math.NaN()}, false, "FAIL metric auc: NaN (need >= 0.7)"},
			{"NaN brier", map[string]float64{"brier": math.NaN(), "auc": 0.8}, false, "FAIL metric brier: NaN (need <= 0.2)"},
			{"+Inf auc", map[string]float64{"brier": 0.1, "auc": math.Inf(1)}, false, "FAIL metric auc: +Inf (need >= 0.7)"},
			{"-Inf brier", map[string]float64{"brier": math.Inf(-1), "auc": 0.8}, false, "FAIL metric brier: -Inf (need <= 0.2)"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				model := "nonfinite-" + string(rune('a'+i))
				e.register(t, model, e.run(t, "proj", tt.metrics, track.Finished))
				_, err := e.reg.Promote(e.ctx, model, 1, "dev")
				if tt.pass {
					if err != nil {
						t.Fatalf("Promote = %v, want success", err)
					}
					return
				}
				if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), tt.detail) {
					t.Errorf("Promote = %v, want conflict explaining %q", err, tt.detail)
				}
			})
		}
	})
}
