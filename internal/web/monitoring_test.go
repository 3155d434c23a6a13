package web_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/dataset"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

// seedMonitoring trains "sepsis-watch" (risk rising with age) on dataset
// ages@1 of sepsis, puts it in production, and logs 120 predictions of
// older patients (ages drifted by +15 years), 40 of them with a
// clinician's verdict. It returns the dashboard's path.
func (e *env) seedMonitoring() string {
	t := e.t
	t.Helper()
	ctx := context.Background()
	alice := e.as("alice")
	r := rand.New(rand.NewPCG(4, 4))
	tbl := &dataset.Table{Columns: []dataset.Column{
		{Name: "age", Type: dataset.TypeFloat, Role: dataset.RoleFeature},
		{Name: "y", Type: dataset.TypeInteger, Role: dataset.RoleTarget},
	}}
	age := hmodel.Column{Name: "age"}
	y := hmodel.Column{Name: "y"}
	for range 300 {
		a := float64(int(20 + 70*r.Float64()))
		v := map[bool]string{true: "1", false: "0"}[r.Float64() < (a-20)/70]
		tbl.Rows = append(tbl.Rows, []string{strconv.FormatFloat(a, 'f', -1, 64), v})
		age.Num, y.Text = append(age.Num, a), append(y.Text, v)
	}
	dv, _, err := e.datasets.Create(alice, dataset.NewVersion{Project: "sepsis", Dataset: "ages", Table: tbl, Level: dataset.Pseudonymized})
	if err != nil {
		t.Fatal(err)
	}
	params, _ := hmodel.ParseParams(hmodel.Logistic, nil)
	pb, err := hmodel.Prepare(&hmodel.Table{Cols: []hmodel.Column{age, y}}, "y", "", nil, params)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pb.Fit(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.Marshal()
	run, err := e.runs.StartRun(alice, "sepsis", "watch", "", &dv.ID)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"dataset": dv.Ref(), "threshold": "0.5"} {
		if err := e.runs.LogParam(alice, run.ID, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.runs.PutArtifact(alice, run.ID, "model/model.json", bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if err := e.runs.End(alice, run.ID, track.Finished); err != nil {
		t.Fatal(err)
	}
	reg := registry.NewService(e.db, e.runs, e.audit)
	v, err := reg.Register(alice, "sepsis", "sepsis-watch", run.ID, "model/model.json", hmodel.Format, registry.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(ctx, `UPDATE model_versions SET environment = 'production' WHERE id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	e.monitor.SetSources(monitor.Sources{Registry: reg, Runs: e.runs, Datasets: e.datasets})
	carla, err := e.auth.UserByName(ctx, "carla")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range 120 {
		a := float64(int(35 + 70*r.Float64()))
		p, err := m.Predict(&hmodel.Table{Cols: []hmodel.Column{{Name: "age", Num: []float64{a}}}})
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("watch-%03d", i)
		if _, err := e.db.Exec(ctx, `INSERT INTO predictions (id, model_version_id, at, inputs_json, outputs_json) VALUES (?, ?, ?, ?, ?)`,
			id, v.ID, now.Add(-time.Duration(i)*time.Minute), fmt.Sprintf(`{"age":%g}`, a), fmt.Sprintf(`{"y":%g}`, p[0])); err != nil {
			t.Fatal(err)
		}
		if i < 40 {
			verdict := map[bool]string{true: "correct", false: "incorrect"}[i%4 != 0]
			if _, err := e.db.Exec(ctx, `INSERT INTO feedback (prediction_id, user_id, verdict, corrected, comment, at) VALUES (?, ?, ?, '', '', ?)`,
				id, carla.ID, verdict, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	return "/projects/sepsis/models/sepsis-watch/monitoring"
}

func TestMonitoringPage(t *testing.T) {
	e := newEnv(t)
	page := e.seedMonitoring()
	alice, carla, nora := e.session("alice"), e.session("carla"), e.session("nora")

	check(t, "no check yet", e.get(page, carla), http.StatusOK, []string{`id="no-check"`, `id="rules-table"`, "No alert."}, []string{`id="check-form"`, `id="rule-form"`})
	check(t, "outsider", e.get(page, nora), http.StatusForbidden, nil, nil)
	check(t, "another project's model", e.get("/projects/cardio/models/sepsis-watch/monitoring", alice), http.StatusNotFound, nil, nil)
	check(t, "bad window", e.get(page+"?window=forever", carla), http.StatusBadRequest, nil, nil)
	if r := e.do(http.MethodPost, page+"/check", url.Values{"window": {"7d"}}, carla, ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("clinician runs a check: %d", r.StatusCode)
	}

	r := e.do(http.MethodPost, page+"/rules", url.Values{"metric": {"dataset_drift_share"}, "op": {">="}, "threshold": {"0.5"}, "window": {"7d"}}, alice, "")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add rule: %d %s", r.StatusCode, r.Body)
	}
	check(t, "bad rule", e.do(http.MethodPost, page+"/rules", url.Values{"metric": {"mood"}, "op": {">="}, "threshold": {"1"}}, alice, ""),
		http.StatusUnprocessableEntity, []string{`id="form-error"`, "metric"}, nil)
	r = e.do(http.MethodPost, page+"/check", url.Values{"window": {"7d"}}, alice, "")
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=checked") {
		t.Fatalf("run check: %d %s", r.StatusCode, r.Body)
	}
	// A second check draws the time series.
	e.do(http.MethodPost, page+"/check", url.Values{"window": {"7d"}}, alice, "")
	check(t, "dashboard", e.get(page+"?window=7d&done=checked", alice), http.StatusOK, []string{
		`id="flash"`, `id="check-form"`, `id="drift-table"`, `data-column="age" data-drift="true"`, ">ks<", `id="prediction-drift"`,
		`class="hist-chart"`, `id="live-table"`, `data-metric="roc_auc"`, `id="cbpe-caveat"`, `id="chart-drift-share"`, `id="chart-live"`,
		"dataset_drift_share &gt;= 0.5 over 7d", `id="alerts-list"`, "sepsis-watch v1: dataset_drift_share = 1",
		// Two checks, one alert: the rule is firing since the first.
		`data-firing="true"`, `data-kind="firing"`, "CBPE 95% range",
	}, []string{"watch-0", `data-kind="resolved"`})
	if as, err := e.monitor.Alerts(e.as("alice"), "sepsis", "sepsis-watch", 0); err != nil || len(as) != 1 {
		t.Errorf("%d alerts after two checks (%v), want 1", len(as), err)
	}
	check(t, "clinician reads it", e.get(page, carla), http.StatusOK, []string{`id="drift-table"`, `id="live-table"`}, []string{`id="check-form"`, `id="rule-form"`})
	check(t, "version page links it", e.get("/projects/sepsis/models/sepsis-watch/versions/1", carla), http.StatusOK, []string{`href="` + page + `"`}, nil)

	rules, err := e.monitor.Rules(e.as("alice"), "sepsis", "sepsis-watch")
	if err != nil || len(rules) != 1 {
		t.Fatalf("rules = %v, %v", rules, err)
	}
	del := fmt.Sprintf("%s/rules/%d/delete", page, rules[0].ID)
	if r := e.do(http.MethodPost, del, url.Values{}, carla, ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("clinician deletes a rule: %d", r.StatusCode)
	}
	if r := e.do(http.MethodPost, del, url.Values{}, alice, ""); r.StatusCode != http.StatusSeeOther {
		t.Errorf("delete rule: %d %s", r.StatusCode, r.Body)
	}
	if rules, _ := e.monitor.Rules(e.as("alice"), "sepsis", "sepsis-watch"); len(rules) != 0 {
		t.Errorf("rule not deleted: %v", rules)
	}
}
