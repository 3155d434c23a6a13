package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"sort"

	"github.com/hygie-health/hygie/internal/evaluate"
)

// EvalReportArtifact is the run artifact holding an evaluation report: the
// JSON of evaluate.Report, possibly wrapped as {"binary": {...}} or
// {"regression": {...}}.
const EvalReportArtifact = "evaluation/report.json"

// maxReportBytes bounds the report read into a page.
const maxReportBytes = 8 << 20

// kvRow is a named value of a table.
type kvRow struct {
	Name  string
	Value string
}

type intervalRow struct {
	Metric                 string
	Estimate, Lower, Upper string
	Method                 string
	Level                  string
}

type subgroupRow struct {
	Group      string
	Suppressed bool
	Note       string
	N          string
	Positives  string
	Values     []string // one per subgroupMetrics
}

// subgroupMetrics are the subgroup table's metric columns.
var subgroupMetrics = []struct{ Key, Label string }{
	{"roc_auc", "ROC AUC"}, {"sensitivity", "Sensitivity"}, {"specificity", "Specificity"}, {"ppv", "PPV"}, {"brier", "Brier"},
}

// binaryMetricOrder is the order of the binary metrics table; other keys
// follow by name.
var binaryMetricOrder = []string{"n", "positives", "threshold", "prevalence", "roc_auc", "average_precision", "sensitivity", "specificity",
	"ppv", "npv", "f1", "accuracy", "balanced_accuracy", "jaccard", "brier", "calibration_slope", "calibration_intercept",
	"target_prevalence", "ppv_at_target_prevalence", "npv_at_target_prevalence"}

// evalView is an evaluation report laid out for the run page.
type evalView struct {
	Kind       string // "binary" or "regression"
	Metrics    []kvRow
	Confusion  *evaluate.Confusion
	ROC        template.HTML
	PR         template.HTML
	Cal        template.HTML
	CalBins    []evaluate.CalibrationBin
	Intervals  []intervalRow
	Subgroups  []subgroupRow
	SubMetrics []string
	SubNote    string
	Notes      []string
	Problem    string // the report could not be read in full
}

// numText shows a metric value; null (NaN) is "—".
func numText(v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case float64:
		if !finite(x) {
			return "—"
		}
		return formatNumber(x)
	case evaluate.Num:
		return numText(float64(x))
	case string:
		return x
	case bool:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return shorten(string(b), 80)
}

// scalarRows lists the scalar entries of a JSON object, those named in
// order first, then the others by name; nested objects and arrays are
// left out.
func scalarRows(m map[string]any, order []string) []kvRow {
	var rows []kvRow
	seen := map[string]bool{}
	for _, k := range order {
		if v, ok := m[k]; ok {
			seen[k] = true
			if isScalar(v) {
				rows = append(rows, kvRow{k, numText(v)})
			}
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		if isScalar(m[k]) {
			rows = append(rows, kvRow{k, numText(m[k])})
		}
	}
	return rows
}

func isScalar(v any) bool {
	switch v.(type) {
	case nil, float64, string, bool:
		return true
	}
	return false
}

// parseEvalReport reads a report. It is tolerant: what can be read is
// shown, and Problem says what could not.
func parseEvalReport(data []byte) *evalView {
	v := &evalView{}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		v.Problem = "The evaluation report is not a JSON object."
		return v
	}
	if notes, ok := top["notes"]; ok {
		var ns []string
		if json.Unmarshal(notes, &ns) == nil {
			v.Notes = append(v.Notes, ns...)
		}
	}
	body := data
	if raw, ok := top["binary"]; ok && string(raw) != "null" {
		body = raw
	} else if raw, ok := top["regression"]; ok && string(raw) != "null" {
		v.Kind = "regression"
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			v.Problem = "The regression metrics are not a JSON object."
			return v
		}
		if inner, ok := m["metrics"].(map[string]any); ok {
			m = inner
		}
		v.Metrics = scalarRows(m, nil)
		return v
	}
	v.Kind = "binary"
	var rep evaluate.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		// Unmarshal fills what it can before an error: show that part.
		v.Problem = "Part of the evaluation report could not be read."
	}
	var parts map[string]json.RawMessage
	_ = json.Unmarshal(body, &parts)
	// Metrics are read untyped, so that a missing one shows as missing
	// rather than as a zero.
	var m map[string]any
	if raw, ok := parts["metrics"]; ok {
		if json.Unmarshal(raw, &m) == nil {
			v.Metrics = scalarRows(m, binaryMetricOrder)
			if _, ok := m["confusion"]; ok {
				c := rep.Metrics.Confusion
				v.Confusion = &c
			}
		}
	}
	if !sameNotes(v.Notes, rep.Notes) {
		v.Notes = append(v.Notes, rep.Notes...)
	}
	if len(rep.ROC) > 0 {
		lo, hi := unit()
		v.ROC = LineChart{ID: "chart-roc", Title: "ROC curve", XLabel: "False positive rate (1 − specificity)", YLabel: "True positive rate (sensitivity)",
			Series: []Series{{Name: "ROC", Points: curvePoints(rep.ROC)}}, XMin: lo, XMax: hi, YMin: lo, YMax: hi,
			Diagonal: true, DiagonalLabel: "chance (AUC 0.5)",
			Desc: fmt.Sprintf("ROC curve, %d points; ROC AUC %s.", len(rep.ROC), numText(m["roc_auc"]))}.SVG()
	}
	if len(rep.PR) > 0 {
		lo, hi := unit()
		v.PR = LineChart{ID: "chart-pr", Title: "Precision–recall curve", XLabel: "Recall (sensitivity)", YLabel: "Precision (PPV)",
			Series: []Series{{Name: "PR", Points: curvePoints(rep.PR)}}, XMin: lo, XMax: hi, YMin: lo, YMax: hi,
			Desc: fmt.Sprintf("Precision–recall curve, %d points; average precision %s.", len(rep.PR), numText(m["average_precision"]))}.SVG()
	}
	if len(rep.CalCurve) > 0 {
		lo, hi := unit()
		pts := make([]Point, len(rep.CalCurve))
		for i, b := range rep.CalCurve {
			pts[i] = Point{X: float64(b.MeanPredicted), Y: float64(b.ObservedRate)}
		}
		v.CalBins = rep.CalCurve
		v.Cal = LineChart{ID: "chart-calibration", Title: "Calibration curve", XLabel: "Mean predicted probability", YLabel: "Observed event rate",
			Series: []Series{{Name: "model", Points: pts}}, XMin: lo, XMax: hi, YMin: lo, YMax: hi, Diagonal: true, DiagonalLabel: "perfect calibration",
			Desc: fmt.Sprintf("Calibration curve over %d bins, against the diagonal of perfect calibration.", len(rep.CalCurve))}.SVG()
	}
	names := make([]string, 0, len(rep.Intervals))
	for k := range rep.Intervals {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		iv := rep.Intervals[k]
		row := intervalRow{Metric: k, Estimate: numText(iv.Estimate), Lower: numText(iv.Lower), Upper: numText(iv.Upper), Method: string(iv.Method)}
		if iv.Level > 0 {
			row.Level = formatNumber(math.Round(iv.Level*1000)/10) + " %"
		}
		v.Intervals = append(v.Intervals, row)
	}
	var sg struct {
		Note   string `json:"note"`
		Groups []struct {
			Group      string         `json:"group"`
			Suppressed bool           `json:"suppressed"`
			Note       string         `json:"note"`
			Metrics    map[string]any `json:"metrics"`
		} `json:"groups"`
	}
	if raw, ok := parts["subgroups"]; ok && json.Unmarshal(raw, &sg) == nil && len(sg.Groups) > 0 {
		v.SubNote = sg.Note
		for _, c := range subgroupMetrics {
			v.SubMetrics = append(v.SubMetrics, c.Label)
		}
		for _, g := range sg.Groups {
			row := subgroupRow{Group: g.Group, Suppressed: g.Suppressed || g.Metrics == nil, Note: g.Note}
			if !row.Suppressed {
				row.N, row.Positives = numText(g.Metrics["n"]), numText(g.Metrics["positives"])
				for _, c := range subgroupMetrics {
					row.Values = append(row.Values, numText(g.Metrics[c.Key]))
				}
			}
			v.Subgroups = append(v.Subgroups, row)
		}
	}
	return v
}

func sameNotes(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func curvePoints(cs []evaluate.CurvePoint) []Point {
	out := make([]Point, len(cs))
	for i, c := range cs {
		out[i] = Point{X: float64(c.X), Y: float64(c.Y)}
	}
	return out
}
