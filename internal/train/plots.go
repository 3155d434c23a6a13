package train

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"

	"github.com/hygie-health/hygie/internal/evaluate"
	"github.com/hygie-health/hygie/internal/plot"
)

// plotFiles renders the report's plots as files for the run: ROC, PR and
// calibration curves (binary), the headline metric over the folds, and the
// confusion matrix as CSV (binary and multiclass).
func plotFiles(rep *Report) map[string][]byte {
	out := map[string][]byte{}
	curve := func(pts []evaluate.CurvePoint) []plot.Point {
		ps := make([]plot.Point, len(pts))
		for i, p := range pts {
			ps[i] = plot.Point{X: float64(p.X), Y: float64(p.Y)}
		}
		return ps
	}
	lo, hi := plot.Unit()
	if b := rep.Binary; b != nil {
		if len(b.ROC) > 0 {
			out["evaluation/roc.svg"] = plot.File(plot.LineChart{ID: "roc", Title: "ROC curve (test split)", XLabel: "False positive rate (1 − specificity)",
				YLabel: "True positive rate (sensitivity)", XMin: lo, XMax: hi, YMin: lo, YMax: hi, Diagonal: true, DiagonalLabel: "chance",
				Series: []plot.Series{{Name: fmt.Sprintf("AUC %.3f", float64(b.Metrics.ROCAUC)), Points: curve(b.ROC)}}}.SVG())
		}
		if len(b.PR) > 0 {
			out["evaluation/pr.svg"] = plot.File(plot.LineChart{ID: "pr", Title: "Precision–recall curve (test split)", XLabel: "Recall (sensitivity)",
				YLabel: "Precision (PPV)", XMin: lo, XMax: hi, YMin: lo, YMax: hi,
				Series: []plot.Series{{Name: fmt.Sprintf("AP %.3f", float64(b.Metrics.AveragePrecision)), Points: curve(b.PR)}}}.SVG())
		}
		var cal []plot.Point
		for _, bin := range b.CalCurve {
			if bin.Count > 0 {
				cal = append(cal, plot.Point{X: float64(bin.MeanPredicted), Y: float64(bin.ObservedRate)})
			}
		}
		if len(cal) > 0 {
			out["evaluation/calibration.svg"] = plot.File(plot.LineChart{ID: "calibration", Title: "Calibration (test split)", XLabel: "Mean predicted probability",
				YLabel: "Observed event rate", XMin: lo, XMax: hi, YMin: lo, YMax: hi, Diagonal: true, DiagonalLabel: "perfect calibration",
				Series: []plot.Series{{Name: "model", Points: cal}}}.SVG())
		}
		c := b.Metrics.Confusion
		out["evaluation/confusion.csv"] = table([][]string{{"", "predicted positive", "predicted negative"},
			{"positive", strconv.Itoa(c.TP), strconv.Itoa(c.FN)}, {"negative", strconv.Itoa(c.FP), strconv.Itoa(c.TN)}})
	}
	if m := rep.Multiclass; m != nil {
		rows := [][]string{append([]string{"true \\ predicted"}, m.Classes...)}
		for i, row := range m.Confusion {
			r := []string{m.Classes[i]}
			for _, n := range row {
				r = append(r, strconv.Itoa(n))
			}
			rows = append(rows, r)
		}
		out["evaluation/confusion.csv"] = table(rows)
	}
	if cv := rep.CV; cv != nil {
		name := map[string]string{"binary": "roc_auc", "multiclass": "balanced_accuracy", "regression": "rmse"}[rep.Task]
		if vals := cv.Metrics[name]; len(vals) > 0 {
			bars := make([]plot.Bar, len(vals))
			for k, v := range vals {
				bars[k] = plot.Bar{Label: fmt.Sprintf("fold %d", k+1), Value: float64(v)}
			}
			out["evaluation/cv_"+name+".svg"] = plot.File(plot.BarChart{ID: "cv", Title: name + " over the cross-validation folds", XLabel: "Fold",
				YLabel: name, Bars: bars, MeanSD: true}.SVG())
		}
	}
	return out
}

func table(rows [][]string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(rows)
	return b.Bytes()
}
