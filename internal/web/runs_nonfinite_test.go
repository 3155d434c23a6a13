package web_test

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/track"
)

// TestRunPagesNonFiniteMetrics: NaN and ±Inf metrics (which MLflow clients
// may log) show as text in the tables, are gaps in the charts, never
// coordinates, and a series with fewer than two finite values gets no
// chart.
func TestRunPagesNonFiniteMetrics(t *testing.T) {
	e := newEnv(t)
	runs := e.seedRuns()
	ctx := e.as("alice")
	r, err := e.runs.StartRun(ctx, "sepsis", "gbdt", "diverged", nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := []struct {
		key   string
		value float64
		step  int64
	}{
		{"loss", 0.7, 0}, {"loss", math.NaN(), 1}, {"loss", 0.5, 2}, {"loss", math.Inf(1), 3},
		{"blowup", math.NaN(), 0}, {"blowup", math.Inf(-1), 1},
		{"cv_f1", 0.8, 0}, {"cv_f1", math.NaN(), 1}, {"cv_f1", 0.7, 2},
		{"grad", math.Inf(1), 0},
	}
	for _, l := range logs {
		if err := e.runs.LogMetric(ctx, r.ID, l.key, l.value, l.step); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.runs.End(ctx, r.ID, track.Finished); err != nil {
		t.Fatal(err)
	}
	alice := e.session("alice")
	// A non-finite number in an SVG attribute is garbage the browser
	// cannot draw.
	badAttr := regexp.MustCompile(`(?i)="[^"]*(nan|inf)[^"]*"`)
	cases := []struct {
		name    string
		path    string
		want    []string
		notWant []string
	}{
		{"run page", fmt.Sprintf("/projects/sepsis/runs/%d", r.ID), []string{
			// html/template writes + as &#43;.
			`data-metric="loss"><th scope="row" class="mono">loss</th><td class="num mono">&#43;Inf</td>`,
			`data-metric="grad"><th scope="row" class="mono">grad</th><td class="num mono">&#43;Inf</td>`,
			`data-metric="blowup"><th scope="row" class="mono">blowup</th><td class="num mono">-Inf</td>`,
			`data-metric="cv_f1"><th scope="row" class="mono">cv_f1</th><td class="num mono">0.7`,
			`id="chart-loss"`, "2 points", // two finite steps of four
			`id="chart-cv_f1"`, "n/a", "mean — ± — (sd)",
		}, []string{`id="chart-blowup"`, `id="chart-grad"`}},
		{"runs list", "/projects/sepsis/runs", []string{"diverged"}, nil},
		{"compare", fmt.Sprintf("/projects/sepsis/runs/compare?ids=%d,%d&metric=loss", r.ID, runs.a), []string{`id="chart-compare"`}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.get(tc.path, alice)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d:\n%s", resp.StatusCode, resp.Body)
			}
			for _, s := range tc.want {
				if !strings.Contains(resp.Body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(resp.Body, s) {
					t.Errorf("page has %q", s)
				}
			}
			if m := badAttr.FindString(resp.Body); m != "" {
				t.Errorf("non-finite value in an attribute: %s", m)
			}
		})
	}
}
