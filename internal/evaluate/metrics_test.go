package evaluate

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}

func TestConfusionMetrics(t *testing.T) {
	tests := []struct {
		name                                   string
		c                                      Confusion
		sens, spec, ppv, npv, f1, acc, bal, ja float64
	}{
		{"asym", Confusion{TP: 3, FP: 2, TN: 4, FN: 1}, 3.0 / 4, 4.0 / 6, 3.0 / 5, 4.0 / 5, 6.0 / 9, 7.0 / 10, (3.0/4 + 4.0/6) / 2, 3.0 / 6},
		{"perfect", Confusion{TP: 5, TN: 5}, 1, 1, 1, 1, 1, 1, 1, 1},
		{"no predicted positives", Confusion{TN: 6, FN: 4}, 0, 1, math.NaN(), 0.6, 0, 0.6, 0.5, 0},
		{"no positives", Confusion{TN: 3, FP: 1}, math.NaN(), 0.75, 0, 1, 0, 0.75, math.NaN(), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			got := []float64{c.Sensitivity(), c.Specificity(), c.PPV(), c.NPV(), c.F1(), c.Accuracy(), c.BalancedAccuracy(), c.Jaccard()}
			want := []float64{tt.sens, tt.spec, tt.ppv, tt.npv, tt.f1, tt.acc, tt.bal, tt.ja}
			names := []string{"sens", "spec", "ppv", "npv", "f1", "acc", "bal", "jaccard"}
			for i := range got {
				if !near(got[i], want[i], 1e-12) {
					t.Errorf("%s = %v, want %v", names[i], got[i], want[i])
				}
			}
		})
	}
}

func TestConfusionAt(t *testing.T) {
	y := []int{1, 1, 1, 0, 0, 0, 0, 1, 0, 0}
	s := []float64{0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.4, 0.5, 0.5, 0.0}
	c, err := ConfusionAt(y, s, 0.5) // >= 0.5 positive
	if err != nil {
		t.Fatal(err)
	}
	if want := (Confusion{TP: 3, FP: 2, TN: 4, FN: 1}); c != want {
		t.Fatalf("got %+v want %+v", c, want)
	}
	if _, err := ConfusionAt([]int{2}, []float64{1}, 0.5); err == nil {
		t.Error("label 2 accepted")
	}
	if _, err := ConfusionAt([]int{1, 0}, []float64{1}, 0.5); err == nil {
		t.Error("length mismatch accepted")
	}
}

func TestPrevalenceAdjusted(t *testing.T) {
	tests := []struct{ sens, spec, p, ppv, npv float64 }{
		{0.9, 0.8, 0.1, 0.09 / (0.09 + 0.18), 0.72 / (0.72 + 0.01)},
		{0.5, 0.5, 0.5, 0.5, 0.5},
		{1, 1, 0.01, 1, 1},
		{0.99, 0.95, 0.001, 0.99 * 0.001 / (0.99*0.001 + 0.05*0.999), 0.95 * 0.999 / (0.95*0.999 + 0.01*0.001)},
	}
	for _, tt := range tests {
		if got := PPVAtPrevalence(tt.sens, tt.spec, tt.p); !near(got, tt.ppv, 1e-12) {
			t.Errorf("PPV(%v,%v,%v)=%v want %v", tt.sens, tt.spec, tt.p, got, tt.ppv)
		}
		if got := NPVAtPrevalence(tt.sens, tt.spec, tt.p); !near(got, tt.npv, 1e-12) {
			t.Errorf("NPV(%v,%v,%v)=%v want %v", tt.sens, tt.spec, tt.p, got, tt.npv)
		}
	}
	// At the sample prevalence, the Bayes PPV equals the observed PPV.
	c := Confusion{TP: 30, FP: 20, TN: 140, FN: 10}
	if got := PPVAtPrevalence(c.Sensitivity(), c.Specificity(), c.Prevalence()); !near(got, c.PPV(), 1e-12) {
		t.Errorf("PPV at sample prevalence %v != %v", got, c.PPV())
	}
	if got := NPVAtPrevalence(c.Sensitivity(), c.Specificity(), c.Prevalence()); !near(got, c.NPV(), 1e-12) {
		t.Errorf("NPV at sample prevalence %v != %v", got, c.NPV())
	}
	if !math.IsNaN(PPVAtPrevalence(0.9, 0.9, 1.5)) {
		t.Error("prevalence 1.5 accepted")
	}
}

// bruteAUC counts concordant pairs, ties ½.
func bruteAUC(y []int, s []float64) float64 {
	var num, den float64
	for i := range y {
		for j := range y {
			if y[i] == 1 && y[j] == 0 {
				den++
				switch {
				case s[i] > s[j]:
					num++
				case s[i] == s[j]:
					num += 0.5
				}
			}
		}
	}
	return num / den
}

// bruteAP evaluates Σ (R_k − R_{k−1}) P_k over every distinct threshold
// by counting from scratch at each one.
func bruteAP(y []int, s []float64) float64 {
	seen := map[float64]bool{}
	var thr []float64
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			thr = append(thr, v)
		}
	}
	// sort thresholds descending (insertion sort, tiny n)
	for i := 1; i < len(thr); i++ {
		for j := i; j > 0 && thr[j] > thr[j-1]; j-- {
			thr[j], thr[j-1] = thr[j-1], thr[j]
		}
	}
	npos := 0
	for _, v := range y {
		npos += v
	}
	ap, prevR := 0.0, 0.0
	for _, th := range thr {
		tp, pp := 0, 0
		for i := range y {
			if s[i] >= th {
				pp++
				tp += y[i]
			}
		}
		r := float64(tp) / float64(npos)
		ap += (r - prevR) * float64(tp) / float64(pp)
		prevR = r
	}
	return ap
}

func TestAUCAndAPKnown(t *testing.T) {
	tests := []struct {
		name    string
		y       []int
		s       []float64
		auc, ap float64
	}{
		// scikit-learn documentation examples.
		{"sklearn doc", []int{0, 0, 1, 1}, []float64{0.1, 0.4, 0.35, 0.8}, 0.75, 0.8333333333333333},
		{"perfect", []int{0, 0, 1, 1}, []float64{0.1, 0.2, 0.3, 0.4}, 1, 1},
		{"inverted", []int{1, 1, 0, 0}, []float64{0.1, 0.2, 0.3, 0.4}, 0, 0.5 * (1.0/3 + 2.0/4)},
		{"all tied", []int{0, 1, 0, 1}, []float64{0.5, 0.5, 0.5, 0.5}, 0.5, 0.5},
		// by hand: pairs (pos,neg): .6v.2 1, .6v.6 ½, .2v.2 ½, .2v.6 0, .9v.2 1, .9v.6 1 → 4/6.
		// thresholds .9: R=1/3,P=1; .6: R=2/3,P=2/3; .2: R=1,P=3/5.
		{"ties by hand", []int{0, 1, 1, 0, 1}, []float64{0.2, 0.2, 0.6, 0.6, 0.9}, 4.0 / 6, 1.0/3 + (1.0/3)*(2.0/3) + (1.0/3)*(3.0/5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auc, err := ROCAUC(tt.y, tt.s)
			if err != nil || !near(auc, tt.auc, 1e-12) {
				t.Errorf("AUC=%v (%v), want %v", auc, err, tt.auc)
			}
			if b := bruteAUC(tt.y, tt.s); !near(b, tt.auc, 1e-12) {
				t.Errorf("brute AUC=%v want %v", b, tt.auc)
			}
			ap, err := AveragePrecision(tt.y, tt.s)
			if err != nil || !near(ap, tt.ap, 1e-12) {
				t.Errorf("AP=%v (%v), want %v", ap, err, tt.ap)
			}
		})
	}
	if _, err := ROCAUC([]int{1, 1}, []float64{0.2, 0.3}); err != ErrOneClass {
		t.Errorf("one class: err=%v", err)
	}
}

func TestAUCAndAPBruteForceRandomTies(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for rep := range 200 {
		n := 2 + r.IntN(60)
		y := make([]int, n)
		s := make([]float64, n)
		for i := range n {
			y[i] = r.IntN(2)
			s[i] = math.Round((r.Float64()+0.3*float64(y[i]))*5) / 5 // heavy ties
		}
		y[0], y[1] = 0, 1
		auc, err := ROCAUC(y, s)
		if err != nil {
			t.Fatal(err)
		}
		if b := bruteAUC(y, s); !near(auc, b, 1e-12) {
			t.Fatalf("rep %d: AUC %v brute %v", rep, auc, b)
		}
		ap, _ := AveragePrecision(y, s)
		if b := bruteAP(y, s); !near(ap, b, 1e-12) {
			t.Fatalf("rep %d: AP %v brute %v", rep, ap, b)
		}
		// The PR curve's step-wise area is the AP; the ROC trapezoid area is the AUC.
		pr, _ := PRCurve(y, s)
		area, prev := 0.0, 0.0
		for _, p := range pr {
			area += (float64(p.X) - prev) * float64(p.Y)
			prev = float64(p.X)
		}
		if !near(area, ap, 1e-12) {
			t.Fatalf("PR area %v AP %v", area, ap)
		}
		roc, _ := ROCCurve(y, s)
		trap := 0.0
		for i := 1; i < len(roc); i++ {
			trap += float64(roc[i].X-roc[i-1].X) * float64(roc[i].Y+roc[i-1].Y) / 2
		}
		if !near(trap, auc, 1e-12) {
			t.Fatalf("ROC trapezoid %v AUC %v", trap, auc)
		}
		if last := roc[len(roc)-1]; last.X != 1 || last.Y != 1 {
			t.Fatalf("ROC does not end at (1,1): %+v", last)
		}
	}
}

func TestBrierAndRegression(t *testing.T) {
	b, err := Brier([]int{0, 1, 1, 0}, []float64{0.1, 0.9, 0.8, 0.3})
	if err != nil || !near(b, (0.01+0.01+0.04+0.09)/4, 1e-15) {
		t.Errorf("Brier=%v %v", b, err)
	}
	reg, err := RegressionMetrics([]float64{3, -0.5, 2, 7}, []float64{2.5, 0.0, 2, 8})
	if err != nil {
		t.Fatal(err)
	}
	// scikit-learn documentation values.
	if !near(float64(reg.MSE), 0.375, 1e-12) || !near(float64(reg.MAE), 0.5, 1e-12) ||
		!near(float64(reg.RMSE), math.Sqrt(0.375), 1e-12) || !near(float64(reg.R2), 0.9486081370449679, 1e-12) {
		t.Errorf("regression %+v", reg)
	}
}

func synthCalibration(n int, seed uint64, model func(x float64) float64) ([]int, []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	y := make([]int, n)
	p := make([]float64, n)
	for i := range n {
		x := r.NormFloat64() * 1.5
		if r.Float64() < sigmoid(x) {
			y[i] = 1
		}
		p[i] = model(x)
	}
	return y, p
}

func TestCalibration(t *testing.T) {
	tests := []struct {
		name             string
		model            func(float64) float64
		slope, intercept float64
	}{
		{"perfect", sigmoid, 1, 0},
		{"overconfident (logit×2)", func(x float64) float64 { return sigmoid(2 * x) }, 0.5, 0},
		{"underconfident (logit×0.5)", func(x float64) float64 { return sigmoid(0.5 * x) }, 2, 0},
		{"overestimates risk (logit+1)", func(x float64) float64 { return sigmoid(x + 1) }, 1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y, p := synthCalibration(40000, 3, tt.model)
			c, err := CalibrationFit(y, p)
			if err != nil || !c.Converged {
				t.Fatalf("fit %+v %v", c, err)
			}
			if !near(float64(c.Slope), tt.slope, 0.06*tt.slope) || !near(float64(c.Intercept), tt.intercept, 0.06) {
				t.Errorf("slope %v intercept %v, want %v %v", c.Slope, c.Intercept, tt.slope, tt.intercept)
			}
		})
	}
	// Exactly calibrated data: the MLE is exactly (0, 1) when p matches
	// the empirical rate at each of two distinct values.
	y := []int{1, 0, 0, 0, 1, 1, 1, 0}
	p := []float64{0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75}
	c, err := CalibrationFit(y, p)
	if err != nil || !near(float64(c.Slope), 1, 1e-9) || !near(float64(c.Intercept), 0, 1e-9) {
		t.Errorf("exact calibration: %+v %v", c, err)
	}
	if _, err := CalibrationFit([]int{0, 1}, []float64{0.3, 0.3}); err == nil {
		t.Error("constant predictions accepted")
	}
	bins, err := CalibrationCurve(y, p, 10)
	if err != nil || len(bins) != 2 || bins[0].Count != 4 || bins[0].ObservedRate != 0.25 || bins[1].ObservedRate != 0.75 || bins[1].MeanPredicted != 0.75 {
		t.Errorf("calibration curve %+v %v", bins, err)
	}
}

func TestReportJSON(t *testing.T) {
	y, p := synthCalibration(500, 11, sigmoid)
	groups := make([]string, len(y))
	for i := range groups {
		switch {
		case i < 5:
			groups[i] = "tiny"
		case i%2 == 0:
			groups[i] = "F"
		default:
			groups[i] = "M"
		}
	}
	rep, err := Evaluate(y, p, ReportOptions{TargetPrevalence: 0.05, Bootstrap: &BootstrapOptions{Resamples: 200, Seed: 1, Method: BCa}, Stratified: true, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	b, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Metrics.ROCAUC != rep.Metrics.ROCAUC || len(back.Intervals) != 5 || back.Subgroups.Suppressed != 1 {
		t.Errorf("round trip lost data: %+v", back.Metrics)
	}
	if !math.IsInf(float64(back.ROC[0].Threshold), 0) && !math.IsNaN(float64(back.ROC[0].Threshold)) {
		t.Errorf("first ROC threshold should be +Inf (null in JSON), got %v", back.ROC[0].Threshold)
	}
	iv := rep.Intervals["roc_auc"]
	if !(iv.Lower <= iv.Estimate && iv.Estimate <= iv.Upper) {
		t.Errorf("AUC interval %+v", iv)
	}
	// NaN metrics serialise as null.
	m, _ := ComputeBinary([]int{0, 0, 0}, []float64{0.1, 0.2, 0.3}, 0.5, 0)
	if b, err := json.Marshal(m); err != nil || !json.Valid(b) {
		t.Errorf("NaN metrics JSON: %v", err)
	}
}
