package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

// TestMonitoringAPI drives the monitoring endpoints of the wired server:
// a model trained on icu's "ages@1" in production with drifted
// predictions; a scientist runs a check and manages alert rules, a viewer
// reads, an outsider is refused.
func TestMonitoringAPI(t *testing.T) {
	ctx := context.Background()
	cfg := sqliteConfig(t)
	cfg.BootstrapToken = "hyg_monitoring-api-test-bootstrap-token"
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ts := httptest.NewServer(a.Server)
	t.Cleanup(ts.Close)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	as := func(user string) context.Context {
		p, err := a.Auth.PrincipalOf(ctx, user)
		must(err)
		return auth.WithPrincipal(ctx, p)
	}
	admin := as("admin")
	for _, p := range []string{"icu", "other"} {
		_, err := a.Projects.Create(admin, p, p, "")
		must(err)
	}
	tokens := map[string]string{}
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"sci", auth.RoleScientist}, {"viv", auth.RoleViewer}, {"out", ""}} {
		_, err := a.Auth.CreateUser(admin, u.name, "", "", false)
		must(err)
		if u.role != "" {
			must(a.Auth.Grant(admin, "icu", u.name, u.role))
		}
		_, secret, err := a.Auth.CreateToken(ctx, u.name, "test", auth.KindAPI, time.Hour, "")
		must(err)
		tokens[u.name] = secret
	}
	sci := as("sci")

	// Training data, model, run, version in production, predictions.
	r := rand.New(rand.NewPCG(8, 8))
	tbl := &dataset.Table{Columns: []dataset.Column{{Name: "age", Type: dataset.TypeFloat, Role: dataset.RoleFeature}, {Name: "y", Type: dataset.TypeInteger, Role: dataset.RoleTarget}}}
	age, y := model.Column{Name: "age"}, model.Column{Name: "y"}
	for range 300 {
		v := float64(int(20 + 70*r.Float64()))
		o := map[bool]string{true: "1", false: "0"}[r.Float64() < (v-20)/70]
		tbl.Rows = append(tbl.Rows, []string{strconv.FormatFloat(v, 'f', -1, 64), o})
		age.Num, y.Text = append(age.Num, v), append(y.Text, o)
	}
	dv, _, err := a.Datasets.Create(sci, dataset.NewVersion{Project: "icu", Dataset: "ages", Table: tbl, Level: dataset.Pseudonymized})
	must(err)
	params, _ := model.ParseParams(model.Logistic, nil)
	pb, err := model.Prepare(&model.Table{Cols: []model.Column{age, y}}, "y", "", nil, params)
	must(err)
	m, err := pb.Fit(nil)
	must(err)
	b, _ := m.Marshal()
	run, err := a.Runs.StartRun(sci, "icu", "watch", "", &dv.ID)
	must(err)
	must(a.Runs.LogParam(sci, run.ID, "dataset", dv.Ref()))
	must(a.Runs.PutArtifact(sci, run.ID, "model/model.json", bytes.NewReader(b)))
	must(a.Runs.End(sci, run.ID, track.Finished))
	v, err := a.Registry.Register(sci, "icu", "age-risk", run.ID, "model/model.json", model.Format, registry.Signature{})
	must(err)
	_, err = a.DB.Exec(ctx, `UPDATE model_versions SET environment = 'production' WHERE id = ?`, v.ID)
	must(err)
	now := time.Now().UTC()
	for i := range 80 {
		v2 := float64(int(45 + 50*r.Float64()))
		p, err := m.Predict(&model.Table{Cols: []model.Column{{Name: "age", Num: []float64{v2}}}})
		must(err)
		_, err = a.DB.Exec(ctx, `INSERT INTO predictions (id, model_version_id, at, inputs_json, outputs_json) VALUES (?, ?, ?, ?, ?)`,
			fmt.Sprintf("pr-%d", i), v.ID, now.Add(-time.Duration(i)*time.Minute), fmt.Sprintf(`{"age":%g}`, v2), fmt.Sprintf(`{"y":%g}`, p[0]))
		must(err)
	}

	const base = "/api/v1/projects/icu/models/age-risk"
	call := func(user, method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		must(err)
		req.Header.Set("Authorization", "Bearer "+tokens[user])
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		must(err)
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		var compact bytes.Buffer
		if json.Compact(&compact, out) == nil {
			out = compact.Bytes()
		}
		return resp.StatusCode, string(out)
	}
	steps := []struct {
		name, user, method, path, body string
		status                         int
		want                           []string
	}{
		{"no check yet", "viv", "GET", base + "/monitoring", "", http.StatusNotFound, []string{"no monitoring check"}},
		{"viewer may not run a check", "viv", "POST", base + "/monitoring/check", "", http.StatusForbidden, nil},
		{"outsider", "out", "GET", base + "/monitoring", "", http.StatusForbidden, nil},
		{"model of another project", "sci", "GET", "/api/v1/projects/other/models/age-risk/monitoring", "", http.StatusForbidden, nil},
		{"bad window", "sci", "POST", base + "/monitoring/check?window=never", "", http.StatusBadRequest, []string{"window"}},
		{"bad last_labelled", "sci", "POST", base + "/monitoring/check?last_labelled=many", "", http.StatusBadRequest, []string{"last_labelled"}},
		{"add a rule", "sci", "POST", base + "/alert-rules", `{"metric":"drift:age","op":">=","threshold":0.95,"window":"7d"}`, http.StatusCreated, []string{`"metric":"drift:age"`, `"created_by":"sci"`}},
		{"rule without threshold", "sci", "POST", base + "/alert-rules", `{"metric":"drift:age","op":">="}`, http.StatusBadRequest, []string{"threshold"}},
		{"viewer may not add a rule", "viv", "POST", base + "/alert-rules", `{"metric":"drift:age","op":">=","threshold":1}`, http.StatusForbidden, nil},
		{"run a check", "sci", "POST", base + "/monitoring/check", `{"window":"7d"}`, http.StatusCreated, []string{`"predictions":80`, `"dataset_drift":true`, `"method":"ks"`, `"alerts":[`}},
		{"viewer reads it", "viv", "GET", base + "/monitoring?window=7d", "", http.StatusOK, []string{`"model":"age-risk"`, `"histogram"`, `"cbpe"`}},
		{"history", "viv", "GET", base + "/monitoring/checks", "", http.StatusOK, []string{`"checks":[{`}},
		{"rules", "viv", "GET", base + "/alert-rules", "", http.StatusOK, []string{`"rules":[{`}},
		{"alerts", "viv", "GET", base + "/alerts", "", http.StatusOK, []string{`"alerts":[{`, `drift:age`}},
	}
	for _, s := range steps {
		status, body := call(s.user, s.method, s.path, s.body)
		if status != s.status {
			t.Fatalf("%s: %s %s = %d, want %d: %s", s.name, s.method, s.path, status, s.status, body)
		}
		for _, w := range s.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: body lacks %q: %.300s", s.name, w, body)
			}
		}
		if strings.Contains(body, "pr-1") {
			t.Errorf("%s: a prediction id in the answer", s.name)
		}
	}
	var rules struct {
		Rules []struct{ ID int64 } `json:"rules"`
	}
	_, body := call("sci", "GET", base+"/alert-rules", "")
	must(json.Unmarshal([]byte(body), &rules))
	del := fmt.Sprintf("%s/alert-rules/%d", base, rules.Rules[0].ID)
	if status, _ := call("viv", "DELETE", del, ""); status != http.StatusForbidden {
		t.Errorf("viewer deletes a rule: %d", status)
	}
	if status, body := call("sci", "DELETE", del, ""); status != http.StatusNoContent {
		t.Errorf("delete rule: %d %s", status, body)
	}
	if status, _ := call("sci", "DELETE", del, ""); status != http.StatusNotFound {
		t.Errorf("delete again: %d", status)
	}
}
