package monitor_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/keys"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/train"
)

// runTracker records a training in a run of the tracking service.
type runTracker struct {
	ctx  context.Context
	runs *track.Service
	id   int64
}

func (r runTracker) LogParams(p map[string]string) error {
	for k, v := range p {
		if err := r.runs.LogParam(r.ctx, r.id, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (r runTracker) LogMetrics(ms []train.Metric) error {
	for _, m := range ms {
		if err := r.runs.LogMetric(r.ctx, r.id, m.Key, m.Value, m.Step); err != nil {
			return err
		}
	}
	return nil
}

func (r runTracker) PutArtifact(p string, data []byte) error {
	return r.runs.PutArtifact(r.ctx, r.id, p, strings.NewReader(string(data)))
}

// MonitorEnv is a project "icu" with a dataset icu@1 (age, lactate, sex,
// sepsis), a logistic model trained on it and registered as "sepsis-risk"
// v1 in production, and a scientist "sam" and a clinician "cleo".
type monEnv struct {
	d      *db.DB
	mon    *monitor.Service
	model  *model.Model
	vid    int64
	sam    context.Context
	cleo   context.Context
	cleoID int64
	now    time.Time
}

func patients(r *rand.Rand, n int, lactateShift float64) (age, lactate []float64, sex []string, y []int) {
	for range n {
		a := 40 + 40*r.Float64()
		l := 1 + 2*r.ExpFloat64() + lactateShift
		s := "F"
		if r.IntN(2) == 0 {
			s = "M"
		}
		p := 1 / (1 + math.Exp(-(-5 + 0.03*a + 0.9*(l-lactateShift))))
		yy := 0
		if r.Float64() < p {
			yy = 1
		}
		age, lactate, sex, y = append(age, math.Round(a)), append(lactate, math.Round(l*100)/100), append(sex, s), append(y, yy)
	}
	return
}

func newMonEnv(t *testing.T, d *db.DB) *monEnv {
	t.Helper()
	ctx := context.Background()
	admin := audit.WithActor(ctx, "admin")
	a := audit.New(d)
	blobs := blob.NewMemory()
	kr, err := keys.New(keys.Random())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := project.NewService(d, a).Create(admin, "icu", "", ""); err != nil {
		t.Fatal(err)
	}
	as := auth.NewService(d, a)
	e := &monEnv{d: d, now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	for _, u := range []struct {
		name string
		role auth.Role
		ctx  *context.Context
	}{{"sam", auth.RoleScientist, &e.sam}, {"cleo", auth.RoleClinicianValidator, &e.cleo}} {
		usr, err := as.CreateUser(admin, u.name, "", "", false)
		if err != nil {
			t.Fatal(err)
		}
		*u.ctx = auth.WithPrincipal(ctx, &auth.Principal{UserID: usr.ID, Username: u.name, Roles: map[string][]auth.Role{"icu": {u.role}}})
		if u.name == "cleo" {
			e.cleoID = usr.ID
		}
	}
	r := rand.New(rand.NewPCG(42, 1))
	age, lac, sex, y := patients(r, 400, 0)
	tbl := &dataset.Table{Columns: []dataset.Column{
		{Name: "age", Type: dataset.TypeFloat, Role: dataset.RoleFeature},
		{Name: "lactate", Type: dataset.TypeFloat, Role: dataset.RoleFeature},
		{Name: "sex", Type: dataset.TypeString, Role: dataset.RoleFeature},
		{Name: "sepsis", Type: dataset.TypeInteger, Role: dataset.RoleTarget},
	}}
	mt := &model.Table{Cols: []model.Column{{Name: "age"}, {Name: "lactate"}, {Name: "sex"}, {Name: "sepsis"}}}
	for i := range age {
		row := []string{strconv.FormatFloat(age[i], 'f', -1, 64), strconv.FormatFloat(lac[i], 'f', -1, 64), sex[i], strconv.Itoa(y[i])}
		tbl.Rows = append(tbl.Rows, row)
		for j := range row {
			mt.Cols[j].Text = append(mt.Cols[j].Text, row[j])
		}
	}
	datasets := dataset.NewService(d, blobs, kr, a)
	dv, _, err := datasets.Create(e.sam, dataset.NewVersion{Project: "icu", Dataset: "icu", Table: tbl, Level: dataset.Pseudonymized})
	if err != nil {
		t.Fatal(err)
	}
	runs := track.NewService(d, blobs, a)
	run, err := runs.StartRun(e.sam, "icu", "", "", &dv.ID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := train.Fit(mt, train.Spec{Project: "icu", Dataset: dv.Ref(), Target: "sepsis", Learner: model.Logistic, Resamples: 100, Threshold: 0.3},
		runTracker{e.sam, runs, run.ID}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	e.model = out.Model
	if err := runs.End(e.sam, run.ID, track.Finished); err != nil {
		t.Fatal(err)
	}
	reg := registry.NewService(d, runs, a)
	v, err := reg.Register(e.sam, "icu", "sepsis-risk", run.ID, train.ModelArtifact, model.Format, registry.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	e.vid = v.ID
	if _, err := d.Exec(ctx, `UPDATE model_versions SET environment = 'production' WHERE id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	e.mon = monitor.NewService(d, a)
	e.mon.SetSources(monitor.Sources{Registry: reg, Runs: runs, Datasets: datasets})
	e.mon.SetClock(func() time.Time { return e.now })
	return e
}

// logPredictions logs n predictions of patients with lactate shifted by
// shift, an hour apart before e.now, and clinicians' feedback on the
// first labelled ones: the true outcome in corrected, or a verdict.
func (e *monEnv) logPredictions(t *testing.T, n int, shift float64, labelled int) {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, uint64(n)))
	age, lac, sex, y := patients(r, n, shift)
	mt := &model.Table{Cols: []model.Column{{Name: "age", Num: age}, {Name: "lactate", Num: lac}, {Name: "sex", Text: sex}}}
	p, err := e.model.Predict(mt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("p-%g-%d", shift, i)
		in, _ := json.Marshal(map[string]any{"age": age[i], "lactate": lac[i], "sex": sex[i]})
		at := e.now.Add(-time.Duration(i+1) * time.Hour / 4)
		if _, err := e.d.Exec(ctx, `INSERT INTO predictions (id, model_version_id, at, inputs_json, outputs_json) VALUES (?, ?, ?, ?, ?)`,
			id, e.vid, at, string(in), fmt.Sprintf(`{"sepsis":%g}`, p[i])); err != nil {
			t.Fatal(err)
		}
		if i >= labelled {
			continue
		}
		verdict, corrected := "correct", ""
		switch {
		case i%3 == 0:
			verdict, corrected = "incorrect", strconv.Itoa(y[i]) // the outcome itself
		case (p[i] >= 0.3) != (y[i] == 1):
			verdict = "incorrect"
		}
		if _, err := e.d.Exec(ctx, `INSERT INTO feedback (prediction_id, user_id, verdict, corrected, comment, at) VALUES (?, ?, ?, ?, '', ?)`,
			id, e.cleoID, verdict, corrected, at); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheck(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newMonEnv(t, d)
		ctx := e.sam
		if _, err := e.mon.LatestCheck(ctx, "sepsis-risk", ""); !errs.Is(err, errs.NotFound) {
			t.Errorf("latest check before any: %v", err)
		}
		rep, err := e.mon.Check(ctx, "sepsis-risk", 7*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Predictions != 0 || rep.Drift != nil || len(rep.Notes) == 0 || rep.Reference.Dataset != "icu@1" || rep.Reference.Threshold != 0.3 {
			t.Errorf("empty window: %+v", rep)
		}
		if rep.Reference.Split == "" || rep.Reference.Rows >= 400 || rep.Reference.Rows < 250 {
			t.Errorf("reference = %+v, want the training split of 400 rows", rep.Reference)
		}

		// Lactate shifted by 1.5 mmol/L in production; 60 labelled.
		e.logPredictions(t, 150, 1.5, 60)
		rep, err = e.mon.Check(ctx, "sepsis-risk", 7*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if rep.ID == 0 || rep.Predictions != 150 || rep.Labelled != 60 || rep.Window != "7d" || rep.Version != 1 {
			t.Fatalf("check: id %d, %d predictions, %d labelled, window %s", rep.ID, rep.Predictions, rep.Labelled, rep.Window)
		}
		cols := map[string]monitor.ColumnDrift{}
		for _, c := range rep.Drift.Columns {
			cols[c.Name] = c
		}
		if c := cols["lactate"]; !c.Drift || c.Method != monitor.KS || c.Hist == nil {
			t.Errorf("lactate: %+v, want KS drift", c)
		}
		if c := cols["age"]; c.Drift || c.Method != monitor.KS {
			t.Errorf("age: %+v, want no KS drift", c)
		}
		if c := cols["sex"]; c.Method != monitor.ZTest || c.Type != monitor.TypeCategorical {
			t.Errorf("sex: %+v, want a z-test", c)
		}
		if rep.PredictionDrift == nil || !rep.PredictionDrift.Drift {
			t.Errorf("prediction drift: %+v", rep.PredictionDrift)
		}
		if rep.Performance == nil || rep.Performance.N != 60 || rep.Performance.Threshold != 0.3 {
			t.Fatalf("performance: %+v (notes %v)", rep.Performance, rep.Notes)
		}
		for _, m := range monitor.LiveMetrics {
			iv, ok := rep.Performance.Metrics[m]
			if !ok && strings.Contains(strings.Join(rep.Performance.Notes, ";"), m+":") {
				continue // undefined on this window (no predicted negative…), and said
			}
			if !ok || !(iv.Lower <= iv.Estimate && iv.Estimate <= iv.Upper) {
				t.Errorf("%s: %+v", m, iv)
			}
		}
		if rep.CBPE == nil || rep.CBPE.N != 150 || math.IsNaN(float64(rep.CBPE.Metrics["roc_auc"])) {
			t.Errorf("cbpe: %+v", rep.CBPE)
		}
		if v, ok := rep.Value("drift:lactate"); !ok || v < 0.95 {
			t.Errorf("drift:lactate = %v, %v", v, ok)
		}
		b, _ := json.Marshal(rep)
		if strings.Contains(string(b), `"lactate":`) && strings.Contains(string(b), "inputs") {
			t.Error("the report holds prediction inputs")
		}
		latest, err := e.mon.LatestCheck(ctx, "sepsis-risk", "7d")
		if err != nil || latest.ID != rep.ID || latest.Drift == nil || latest.Drift.Share != rep.Drift.Share {
			t.Errorf("latest = %+v, %v", latest.ID, err)
		}
		// Live metrics on the last 30 labelled predictions, over a window
		// holding only 4 predictions.
		last, err := e.mon.CheckWith(ctx, "sepsis-risk", monitor.CheckOptions{Window: time.Hour, LastLabelled: 30})
		if err != nil {
			t.Fatal(err)
		}
		if last.Predictions != 4 || last.Labelled != 30 || last.Performance == nil || last.Performance.N != 30 || !strings.Contains(last.LabelledScope, "last 30") {
			t.Errorf("last 30 labelled over 1h: %d predictions, %d labelled (%s), performance %+v", last.Predictions, last.Labelled, last.LabelledScope, last.Performance)
		}
		if _, err := e.mon.CheckWith(ctx, "sepsis-risk", monitor.CheckOptions{LastLabelled: -1}); !errs.Is(err, errs.Invalid) {
			t.Errorf("negative last labelled: %v", err)
		}
		if cs, err := e.mon.Checks(ctx, "sepsis-risk", "", 0); err != nil || len(cs) != 3 {
			t.Errorf("checks = %d, %v", len(cs), err)
		}
	})
}

func TestAlertRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newMonEnv(t, d)
		var mu sync.Mutex
		var bodies [][]byte
		var sigs []string
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies, sigs = append(bodies, b), append(sigs, r.Header.Get("X-Hygie-Signature"))
			mu.Unlock()
		}))
		defer hook.Close()
		t.Setenv("HYGIE_TEST_ALERT_KEY", "s3cret")

		bad := []struct {
			name string
			ctx  context.Context
			rule monitor.AlertRule
			want errs.Code
		}{
			{"clinician may not", e.cleo, monitor.AlertRule{Model: "sepsis-risk", Metric: "sensitivity", Op: "<", Threshold: 0.7}, errs.Forbidden},
			{"unknown metric", e.sam, monitor.AlertRule{Model: "sepsis-risk", Metric: "temperature", Op: "<", Threshold: 0.7}, errs.Invalid},
			{"unknown op", e.sam, monitor.AlertRule{Model: "sepsis-risk", Metric: "sensitivity", Op: "=", Threshold: 0.7}, errs.Invalid},
			{"bad window", e.sam, monitor.AlertRule{Model: "sepsis-risk", Metric: "sensitivity", Op: "<", Threshold: 0.7, Window: "forever"}, errs.Invalid},
			{"bad webhook", e.sam, monitor.AlertRule{Model: "sepsis-risk", Metric: "sensitivity", Op: "<", Threshold: 0.7, Webhook: "file:///etc/passwd"}, errs.Invalid},
			{"unknown model", e.sam, monitor.AlertRule{Model: "nope", Metric: "sensitivity", Op: "<", Threshold: 0.7}, errs.NotFound},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := e.mon.CreateRule(tt.ctx, "icu", tt.rule); errs.CodeOf(err) != tt.want {
					t.Errorf("CreateRule = %v, want %s", err, tt.want)
				}
			})
		}
		drift, err := e.mon.CreateRule(e.sam, "icu", monitor.AlertRule{Model: "sepsis-risk", Metric: "dataset_drift_share", Op: ">=", Threshold: 0.3,
			Webhook: hook.URL, SecretEnv: "HYGIE_TEST_ALERT_KEY"})
		if err != nil || drift.Window != "7d" || drift.CreatedBy != "sam" {
			t.Fatalf("rule = %+v, %v", drift, err)
		}
		quiet, err := e.mon.CreateRule(e.sam, "icu", monitor.AlertRule{Model: "sepsis-risk", Metric: "cbpe_accuracy", Op: "<", Threshold: 0.01, Window: "24h"})
		if err != nil || quiet.Window != "1d" {
			t.Fatalf("rule = %+v, %v", quiet, err)
		}
		e.logPredictions(t, 100, 2, 0)
		// Scheduled: no principal; the monitor reads the reference itself.
		reps, err := e.mon.RunChecks(context.Background())
		if err != nil || len(reps) != 2 {
			t.Fatalf("RunChecks = %d checks, %v", len(reps), err)
		}
		e.mon.WaitWebhooks()
		alerts, err := e.mon.Alerts(e.sam, "icu", "sepsis-risk", 0)
		if err != nil || len(alerts) != 1 || alerts[0].RuleID != drift.ID || alerts[0].Value < 0.3 || !strings.Contains(alerts[0].Message, "dataset_drift_share") {
			t.Fatalf("alerts = %+v, %v", alerts, err)
		}
		mu.Lock()
		if len(bodies) != 1 {
			mu.Unlock()
			t.Fatalf("%d webhook calls, want 1", len(bodies))
		}
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(bodies[0])
		if sigs[0] != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("signature %q", sigs[0])
		}
		var n monitor.AlertNotification
		if err := json.Unmarshal(bodies[0], &n); err != nil || n.Model != "sepsis-risk" || n.Metric != "dataset_drift_share" || n.CheckID == 0 {
			t.Errorf("notification %s: %v", bodies[0], err)
		}
		if strings.Contains(string(bodies[0]), "lactate") {
			t.Errorf("the notification names data: %s", bodies[0])
		}
		mu.Unlock()

		// De-duplication: a rule alerts once when its condition starts to
		// hold, stays silent while it holds, and resolves when it clears.
		volume, err := e.mon.CreateRule(e.sam, "icu", monitor.AlertRule{Model: "sepsis-risk", Metric: "predictions", Op: "<", Threshold: 150, Webhook: hook.URL})
		if err != nil {
			t.Fatal(err)
		}
		kinds := func() (out []string) {
			as, err := e.mon.Alerts(e.sam, "icu", "sepsis-risk", 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := len(as) - 1; i >= 0; i-- {
				out = append(out, fmt.Sprintf("%d:%s", as[i].RuleID, as[i].Kind))
			}
			return out
		}
		events := func() (out []string) {
			e.mon.WaitWebhooks()
			mu.Lock()
			defer mu.Unlock()
			for _, b := range bodies {
				var n monitor.AlertNotification
				json.Unmarshal(b, &n)
				out = append(out, fmt.Sprintf("%d:%s", n.RuleID, n.Event))
			}
			return out
		}
		step := func(name string, wantKinds, wantEvents []string) {
			t.Helper()
			if _, err := e.mon.RunChecks(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := kinds(); fmt.Sprint(got) != fmt.Sprint(wantKinds) {
				t.Errorf("%s: alerts %v, want %v", name, got, wantKinds)
			}
			if got := events(); fmt.Sprint(got) != fmt.Sprint(wantEvents) {
				t.Errorf("%s: webhook calls %v, want %v", name, got, wantEvents)
			}
		}
		d1, v1 := fmt.Sprintf("%d:firing", drift.ID), fmt.Sprintf("%d:firing", volume.ID)
		e1, w1 := fmt.Sprintf("%d:monitoring.alert", drift.ID), fmt.Sprintf("%d:monitoring.alert", volume.ID)
		step("condition starts to hold", []string{d1, v1}, []string{e1, w1})
		step("condition still holds", []string{d1, v1}, []string{e1, w1})
		if rules, _ := e.mon.Rules(e.sam, "icu", "sepsis-risk"); len(rules) != 3 || !rules[2].Firing || rules[2].FiringSince == nil || rules[1].Firing {
			t.Errorf("rule states %+v", rules)
		}
		e.logPredictions(t, 100, 0, 0) // 200 predictions: the volume rule clears
		reps, err = e.mon.RunChecks(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		as, _ := e.mon.Alerts(e.sam, "icu", "sepsis-risk", 1)
		if len(as) != 1 || as[0].RuleID != volume.ID || as[0].Kind != monitor.AlertResolved || as[0].Value != 200 || !strings.HasPrefix(as[0].Message, "resolved") {
			t.Errorf("latest alert %+v, want the volume rule resolved at 200", as)
		}
		if ev := events(); !slices.Contains(ev, fmt.Sprintf("%d:monitoring.resolved", volume.ID)) || len(ev) > 4 {
			t.Errorf("webhook calls %v: want the volume rule's resolution", ev)
		}
		if rules, _ := e.mon.Rules(e.sam, "icu", "sepsis-risk"); rules[2].Firing || rules[2].FiringSince != nil {
			t.Errorf("volume rule still firing: %+v", rules[2])
		}
		if rules, _ := e.mon.Rules(e.sam, "icu", "sepsis-risk"); len(rules) != 3 {
			t.Errorf("rules = %+v", rules)
		}
		if err := e.mon.DeleteRule(e.cleo, "icu", "sepsis-risk", drift.ID); !errs.Is(err, errs.Forbidden) {
			t.Errorf("clinician deletes: %v", err)
		}
		if err := e.mon.DeleteRule(e.sam, "icu", "sepsis-risk", drift.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.mon.DeleteRule(e.sam, "icu", "sepsis-risk", drift.ID); !errs.Is(err, errs.NotFound) {
			t.Errorf("second delete: %v", err)
		}
	})
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]string{"": "7d", "7d": "7d", "24h": "1d", "90m": "1h30m", "36h": "36h"} {
		d, err := monitor.ParseWindow(in)
		if err != nil || monitor.FormatWindow(d) != want {
			t.Errorf("%q → %v (%s), %v; want %s", in, d, monitor.FormatWindow(d), err, want)
		}
	}
	for _, in := range []string{"0d", "-1h", "400d", "soon", "30s"} {
		if _, err := monitor.ParseWindow(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestCBPEAndPerformance(t *testing.T) {
	// Perfectly calibrated probabilities: the CBPE estimate of the
	// accuracy at 0.5 is the mean of max(p, 1−p).
	score := []float64{0.9, 0.8, 0.3, 0.1, 0.6, 0.4}
	c, err := monitor.EstimateCBPE(score, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	want := (0.9 + 0.8 + 0.7 + 0.9 + 0.6 + 0.6) / 6
	if math.Abs(float64(c.Metrics["accuracy"])-want) > 1e-12 || math.Abs(c.Expected.TP-2.3) > 1e-12 || math.Abs(c.Expected.TN-2.2) > 1e-12 {
		t.Errorf("cbpe = %+v, accuracy want %v", c, want)
	}
	if _, err := monitor.EstimateCBPE([]float64{1.5}, 0.5); err == nil {
		t.Error("probability 1.5 accepted")
	}
	y := []int{1, 1, 0, 0, 1, 0, 1, 0, 1, 0}
	s := []float64{0.9, 0.7, 0.2, 0.4, 0.6, 0.1, 0.3, 0.8, 0.95, 0.05}
	p, err := monitor.MeasurePerformance(y, s, monitor.PerfOptions{Resamples: 200})
	if err != nil {
		t.Fatal(err)
	}
	if p.Confusion.TP != 4 || p.Confusion.FN != 1 || p.Confusion.FP != 1 || p.Confusion.TN != 4 || float64(p.Metrics["sensitivity"].Estimate) != 0.8 || float64(p.Metrics["roc_auc"].Estimate) != 0.84 {
		t.Errorf("performance = %+v", p)
	}
}

// FuzzParseWindow: windows come from query strings and rule bodies.
func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"", "7d", "24h", "90m", "1h30m", "-1d", "99999999999999999999d", "1e9h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := monitor.ParseWindow(s)
		if err != nil {
			return
		}
		if d < time.Minute || d > 366*24*time.Hour {
			t.Fatalf("%q → %v, out of bounds", s, d)
		}
		back, err := monitor.ParseWindow(monitor.FormatWindow(d))
		if err != nil || back != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, d, monitor.FormatWindow(d), back, err)
		}
	})
}

// TestCBPEIntervals: with calibrated probabilities, the realised metrics
// of the patients fall in the CBPE intervals about as often as their
// level says; the intervals narrow with more predictions and are the same
// for the same window.
func TestCBPEIntervals(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	probs := func(n int) []float64 {
		p := make([]float64, n)
		for i := range p {
			p[i] = 1 / (1 + math.Exp(-(r.NormFloat64()*1.5 - 0.5)))
		}
		return p
	}
	const reps, n = 120, 200
	inside := map[string]int{}
	for range reps {
		p := probs(n)
		c, err := monitor.EstimateCBPE(p, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		monitor.CBPEIntervals(&c, p, 0.95, 0)
		y := make([]int, n)
		for i, q := range p {
			if r.Float64() < q {
				y[i] = 1
			}
		}
		perf, err := monitor.MeasurePerformance(y, p, monitor.PerfOptions{Resamples: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"accuracy", "sensitivity", "specificity", "roc_auc"} {
			iv, ok := c.Intervals[m]
			if !ok {
				t.Fatalf("no interval for %s", m)
			}
			if !(iv.Lower <= c.Metrics[m] && c.Metrics[m] <= iv.Upper) {
				t.Fatalf("%s: estimate %v outside [%v, %v]", m, c.Metrics[m], iv.Lower, iv.Upper)
			}
			if v := perf.Metrics[m].Estimate; iv.Lower <= v && v <= iv.Upper {
				inside[m]++
			}
		}
	}
	for m, k := range inside {
		cover := float64(k) / reps
		t.Logf("%s: realised value inside the CBPE 95%% interval in %.1f%% of %d windows", m, 100*cover, reps)
		if cover < 0.88 || cover > 0.995 {
			t.Errorf("%s: realised value inside the 95%% interval %.0f%% of the time", m, 100*cover)
		}
	}
	small, large := probs(200), probs(5000)
	cs, _ := monitor.EstimateCBPE(small, 0.5)
	cl, _ := monitor.EstimateCBPE(large, 0.5)
	monitor.CBPEIntervals(&cs, small, 0.95, 3)
	monitor.CBPEIntervals(&cl, large, 0.95, 3)
	if ws, wl := cs.Intervals["accuracy"].Upper-cs.Intervals["accuracy"].Lower, cl.Intervals["accuracy"].Upper-cl.Intervals["accuracy"].Lower; !(wl < ws/3) {
		t.Errorf("accuracy interval width %v with 5000 predictions, %v with 200", wl, ws)
	}
	// Beyond CBPEMaxRows the draws use a sample and the half-widths
	// shrink as 1/√n: 4× the rows, half the width.
	big := probs(4 * monitor.CBPEMaxRows)
	cb, _ := monitor.EstimateCBPE(big, 0.5)
	sample, _ := monitor.EstimateCBPE(big[:monitor.CBPEMaxRows], 0.5)
	monitor.CBPEIntervals(&cb, big, 0.95, 3)
	monitor.CBPEIntervals(&sample, big[:monitor.CBPEMaxRows], 0.95, 3)
	for _, m := range []string{"accuracy", "sensitivity", "roc_auc"} {
		ib, is := cb.Intervals[m], sample.Intervals[m]
		if ratio := float64(ib.Upper-ib.Lower) / float64(is.Upper-is.Lower); ratio < 0.4 || ratio > 0.6 || !(ib.Lower < cb.Metrics[m] && cb.Metrics[m] < ib.Upper) {
			t.Errorf("%s over %d predictions: %+v (width ratio %.2f to %d predictions, want 0.5)", m, len(big), ib, ratio, monitor.CBPEMaxRows)
		}
	}
	again, _ := monitor.EstimateCBPE(small, 0.5)
	monitor.CBPEIntervals(&again, small, 0.95, 3)
	if fmt.Sprint(again.Intervals) != fmt.Sprint(cs.Intervals) {
		t.Error("the same window gave other intervals")
	}
	// No positive drawn is possible with tiny probabilities: the
	// sensitivity then has too few defined draws for an interval.
	tiny := []float64{0.001, 0.002, 0.001}
	ct, _ := monitor.EstimateCBPE(tiny, 0.5)
	monitor.CBPEIntervals(&ct, tiny, 0.95, 0)
	if _, ok := ct.Intervals["sensitivity"]; ok {
		t.Errorf("sensitivity interval %+v on 3 near-certain negatives", ct.Intervals["sensitivity"])
	}
	if iv := ct.Intervals["accuracy"]; iv.Lower < 0.6 || iv.Upper != 1 {
		t.Errorf("accuracy interval %+v", iv)
	}
}
