package web

import (
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/plot"
)

func TestParseEvalReport(t *testing.T) {
	binary := `{"metrics":{"n":200,"positives":50,"threshold":0.5,"roc_auc":0.83,"average_precision":null,"confusion":{"tp":40,"fp":20,"tn":130,"fn":10}},
		"roc":[{"threshold":null,"x":0,"y":0},{"threshold":0.7,"x":0.1,"y":0.6},{"threshold":0.2,"x":1,"y":1}],
		"pr":[{"threshold":0.7,"x":0.6,"y":0.9},{"threshold":0.2,"x":1,"y":0.25}],
		"calibration_curve":[{"lower":0,"upper":0.5,"count":120,"mean_predicted":0.2,"observed_rate":0.15},{"lower":0.5,"upper":1,"count":80,"mean_predicted":0.7,"observed_rate":0.75}],
		"intervals":{"roc_auc":{"estimate":0.83,"lower":0.78,"upper":0.88,"level":0.95,"method":"bca"}},
		"subgroups":{"min_size":10,"note":"small groups suppressed","groups":[{"group":"F","suppressed":false,"metrics":{"n":120,"positives":30,"roc_auc":0.8}},{"group":"X","suppressed":true,"note":"n < 10"}]},
		"notes":["calibration fit did not converge"]}`
	cases := []struct {
		name    string
		in      string
		kind    string
		charts  int
		problem bool
		metric  string // a metric row expected, name=value
	}{
		{name: "bare report", in: binary, kind: "binary", charts: 3, metric: "roc_auc=0.83"},
		{name: "wrapped binary", in: `{"binary":` + binary + `,"notes":["wrapped"]}`, kind: "binary", charts: 3, metric: "average_precision=—"},
		{name: "regression", in: `{"regression":{"mse":0.25,"r2":0.91,"n":300}}`, kind: "regression", metric: "r2=0.91"},
		{name: "partial: a field of the wrong type", in: `{"metrics":{"n":"many","roc_auc":0.7},"roc":[{"x":0,"y":0},{"x":1,"y":1}]}`, kind: "binary", charts: 1, problem: true, metric: "roc_auc=0.7"},
		{name: "not an object", in: `[1,2]`, problem: true},
		{name: "empty object", in: `{}`, kind: "binary"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := parseEvalReport([]byte(tc.in))
			if v.Kind != tc.kind || (v.Problem != "") != tc.problem {
				t.Fatalf("kind %q problem %q", v.Kind, v.Problem)
			}
			charts := 0
			for _, c := range []string{string(v.ROC), string(v.PR), string(v.Cal)} {
				if c != "" {
					charts++
					if err := plot.Check(c); err != nil {
						t.Error(err)
					}
				}
			}
			if charts != tc.charts {
				t.Errorf("%d charts, want %d", charts, tc.charts)
			}
			if tc.metric != "" {
				name, val, _ := strings.Cut(tc.metric, "=")
				found := false
				for _, r := range v.Metrics {
					if r.Name == name && r.Value == val {
						found = true
					}
				}
				if !found {
					t.Errorf("no metric row %s in %v", tc.metric, v.Metrics)
				}
			}
		})
	}
	v := parseEvalReport([]byte(binary))
	if v.Confusion == nil || v.Confusion.TP != 40 || v.Confusion.FN != 10 {
		t.Errorf("confusion %+v", v.Confusion)
	}
	if len(v.Intervals) != 1 || v.Intervals[0].Lower != "0.78" || v.Intervals[0].Level != "95 %" {
		t.Errorf("intervals %+v", v.Intervals)
	}
	// A metric missing from a subgroup shows as missing, not as zero.
	if len(v.Subgroups) != 2 || v.Subgroups[0].N != "120" || v.Subgroups[0].Values[0] != "0.8" || v.Subgroups[0].Values[1] != "—" || !v.Subgroups[1].Suppressed {
		t.Errorf("subgroups %+v", v.Subgroups)
	}
}

// FuzzParseEvalReport: any artifact content lays out without panicking,
// and every chart it draws is well-formed SVG.
func FuzzParseEvalReport(f *testing.F) {
	f.Add([]byte(`{"binary":{"metrics":{"roc_auc":0.8},"roc":[{"x":0,"y":0},{"x":1,"y":1}]}}`))
	f.Add([]byte(`{"regression":{"metrics":{"mse":1}}}`))
	f.Add([]byte(`{"calibration_curve":[{"mean_predicted":null,"observed_rate":2}],"subgroups":{"groups":[{"group":"a"}]}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v := parseEvalReport(data)
		for _, c := range []string{string(v.ROC), string(v.PR), string(v.Cal)} {
			if c != "" {
				if err := plot.Check(c); err != nil {
					t.Error(err)
				}
			}
		}
	})
}
