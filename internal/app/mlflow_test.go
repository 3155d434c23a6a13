package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/config"
)

// mlflowClient makes the HTTP calls an MLflow client makes.
type mlflowClient struct {
	t     *testing.T
	base  string
	token string // Bearer; "basic:USER:TOKEN" for Basic
}

func (c mlflowClient) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user, tok, ok := strings.Cut(strings.TrimPrefix(c.token, "basic:"), ":"); ok && strings.HasPrefix(c.token, "basic:") {
		req.SetBasicAuth(user, tok)
	} else if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	} else {
		out["raw"] = string(data)
	}
	return resp.StatusCode, out
}

// ok fails unless the call answers 200.
func (c mlflowClient) ok(method, path string, body any) map[string]any {
	c.t.Helper()
	st, out := c.do(method, path, body)
	if st != http.StatusOK {
		c.t.Fatalf("%s %s = %d %v", method, path, st, out)
	}
	return out
}

// fails checks an MLflow error answer.
func (c mlflowClient) fails(method, path string, body any, status int, code string) {
	c.t.Helper()
	st, out := c.do(method, path, body)
	if st != status || (code != "" && out["error_code"] != code) {
		c.t.Errorf("%s %s = %d %v, want %d %s", method, path, st, out, status, code)
	}
}

func TestMLflowAPI(t *testing.T) {
	for name, cfg := range map[string]func(*testing.T) config.Config{"sqlite": sqliteConfig, "postgres": postgresConfig} {
		t.Run(name, func(t *testing.T) { testMLflowAPI(t, cfg(t)) })
	}
}

func testMLflowAPI(t *testing.T, cfg config.Config) {
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ts := httptest.NewServer(a.Server)
	defer ts.Close()
	if _, err := a.Projects.Create(ctx, "icu", "", ""); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for user, role := range map[string]auth.Role{"sci": auth.RoleScientist, "view": auth.RoleViewer, "other": ""} {
		if _, err := a.Auth.CreateUser(ctx, user, "", "", false); err != nil {
			t.Fatal(err)
		}
		if role != "" {
			if err := a.Auth.Grant(ctx, "icu", user, role); err != nil {
				t.Fatal(err)
			}
		}
		_, secret, err := a.Auth.CreateToken(ctx, user, "mlflow", auth.KindAPI, time.Hour, "")
		if err != nil {
			t.Fatal(err)
		}
		tokens[user] = secret
	}
	const api = "/api/2.0/mlflow/"
	sci := mlflowClient{t, ts.URL, tokens["sci"]}
	basic := mlflowClient{t, ts.URL, "basic:sci:" + tokens["sci"]}
	viewer := mlflowClient{t, ts.URL, tokens["view"]}
	other := mlflowClient{t, ts.URL, tokens["other"]}
	anon := mlflowClient{t, ts.URL, ""}

	// Experiments.
	exp := sci.ok("POST", api+"experiments/create", map[string]any{"name": "icu/sepsis", "tags": []map[string]string{{"key": "team", "value": "icu"}}})
	expID, _ := exp["experiment_id"].(string)
	if expID == "" {
		t.Fatalf("experiments/create = %v", exp)
	}
	sci.fails("POST", api+"experiments/create", map[string]any{"name": "icu/sepsis"}, 400, "RESOURCE_ALREADY_EXISTS")
	sci.fails("POST", api+"experiments/create", map[string]any{"name": "sepsis"}, 400, "INVALID_PARAMETER_VALUE")
	viewer.fails("POST", api+"experiments/create", map[string]any{"name": "icu/other"}, 403, "PERMISSION_DENIED")
	got := basic.ok("GET", api+"experiments/get-by-name?experiment_name=icu/sepsis", nil)
	if e := got["experiment"].(map[string]any); e["experiment_id"] != expID || e["name"] != "icu/sepsis" {
		t.Errorf("get-by-name = %v", got)
	}
	got = viewer.ok("GET", api+"experiments/get?experiment_id="+expID, nil)
	if e := got["experiment"].(map[string]any); e["name"] != "icu/sepsis" || len(e["tags"].([]any)) != 1 {
		t.Errorf("experiments/get = %v", got)
	}
	if got := other.ok("POST", api+"experiments/search", map[string]any{}); len(got["experiments"].([]any)) != 0 {
		t.Errorf("an outsider sees experiments: %v", got)
	}
	if got := viewer.ok("POST", api+"experiments/search", map[string]any{"max_results": 10}); len(got["experiments"].([]any)) != 1 {
		t.Errorf("experiments/search = %v", got)
	}
	other.fails("GET", api+"experiments/get?experiment_id="+expID, nil, 403, "PERMISSION_DENIED")

	// A run, as mlflow.start_run does.
	start := time.Now().Add(-time.Minute).UnixMilli()
	created := sci.ok("POST", api+"runs/create", map[string]any{"experiment_id": expID, "start_time": start, "run_name": "xgb-1",
		"tags": []map[string]string{{"key": "mlflow.source.name", "value": "train.py"}}})
	info := created["run"].(map[string]any)["info"].(map[string]any)
	runID := info["run_id"].(string)
	if info["status"] != "RUNNING" || info["experiment_id"] != expID || info["run_name"] != "xgb-1" || int64(info["start_time"].(float64)) != start || info["user_id"] != "sci" {
		t.Errorf("runs/create info = %v", info)
	}
	artifactURI := info["artifact_uri"].(string)
	if artifactURI != fmt.Sprintf("mlflow-artifacts:/%s/%s/artifacts", expID, runID) {
		t.Errorf("artifact_uri = %s", artifactURI)
	}
	ms := time.Now().UnixMilli()
	var metrics []map[string]any
	for step := 0; step < 5; step++ {
		metrics = append(metrics, map[string]any{"key": "loss", "value": 1.0 / float64(step+1), "timestamp": ms, "step": step})
	}
	metrics = append(metrics, map[string]any{"key": "auc", "value": 0.81, "timestamp": fmt.Sprint(ms), "step": "0"}) // protobuf JSON int64 as strings
	sci.ok("POST", api+"runs/log-batch", map[string]any{"run_id": runID, "metrics": metrics,
		"params": []map[string]string{{"key": "max_depth", "value": "6"}, {"key": "eta", "value": "0.1"}},
		"tags":   []map[string]string{{"key": "stage", "value": "dev"}}})
	sci.ok("POST", api+"runs/log-metric", map[string]any{"run_id": runID, "key": "auc", "value": 0.84, "timestamp": ms + 1, "step": 1})
	sci.ok("POST", api+"runs/log-parameter", map[string]any{"run_uuid": runID, "key": "max_depth", "value": "6"}) // same value: fine
	sci.fails("POST", api+"runs/log-parameter", map[string]any{"run_id": runID, "key": "max_depth", "value": "8"}, 400, "INVALID_PARAMETER_VALUE")
	sci.ok("POST", api+"runs/set-tag", map[string]any{"run_id": runID, "key": "stage", "value": "review"})

	hist := viewer.ok("GET", api+"metrics/get-history?run_id="+runID+"&metric_key=loss", nil)["metrics"].([]any)
	if len(hist) != 5 {
		t.Fatalf("history = %v", hist)
	}
	for i, h := range hist {
		m := h.(map[string]any)
		if m["key"] != "loss" || m["step"].(float64) != float64(i) || m["value"].(float64) != 1.0/float64(i+1) || int64(m["timestamp"].(float64)) != ms {
			t.Errorf("history[%d] = %v", i, m)
		}
	}

	upd := sci.ok("POST", api+"runs/update", map[string]any{"run_id": runID, "status": "FINISHED", "end_time": time.Now().UnixMilli()})
	if ri := upd["run_info"].(map[string]any); ri["status"] != "FINISHED" || ri["end_time"] == nil {
		t.Errorf("runs/update = %v", upd)
	}
	run := viewer.ok("GET", api+"runs/get?run_id="+runID, nil)["run"].(map[string]any)
	data := run["data"].(map[string]any)
	find := func(list any, key string) any {
		for _, e := range list.([]any) {
			if m := e.(map[string]any); m["key"] == key {
				return m["value"]
			}
		}
		return nil
	}
	if find(data["metrics"], "auc") != 0.84 || find(data["metrics"], "loss") != 0.2 || find(data["params"], "max_depth") != "6" ||
		find(data["tags"], "stage") != "review" || find(data["tags"], "mlflow.source.name") != "train.py" {
		t.Errorf("runs/get data = %v", data)
	}

	// A second run that stays running, for the search.
	run2 := sci.ok("POST", api+"runs/create", map[string]any{"experiment_id": expID})["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	sci.ok("POST", api+"runs/log-batch", map[string]any{"run_id": run2, "metrics": []map[string]any{{"key": "auc", "value": 0.7, "timestamp": ms, "step": 0}},
		"params": []map[string]string{{"key": "max_depth", "value": "3"}}})
	search := func(filter string) []string {
		t.Helper()
		out := viewer.ok("POST", api+"runs/search", map[string]any{"experiment_ids": []string{expID}, "filter": filter, "max_results": 100})
		var ids []string
		runs, _ := out["runs"].([]any)
		for _, r := range runs {
			ids = append(ids, r.(map[string]any)["info"].(map[string]any)["run_id"].(string))
		}
		return ids
	}
	for filter, want := range map[string]string{
		"":                  run2 + "," + runID,
		"metrics.auc > 0.8": runID,
		"metrics.auc <= 0.8 and params.max_depth = '3'": run2,
		"attributes.status = 'FINISHED'":                runID,
		"attributes.status != 'FINISHED'":               run2,
		"tags.stage = 'review'":                         runID,
		"params.`max_depth` = \"6\"":                    runID,
		"metrics.missing > 0":                           "",
	} {
		if got := strings.Join(search(filter), ","); got != want {
			t.Errorf("search %q = %s, want %s", filter, got, want)
		}
	}
	viewer.fails("POST", api+"runs/search", map[string]any{"experiment_ids": []string{expID}, "filter": "metrics.auc LIKE 'x'"}, 400, "INVALID_PARAMETER_VALUE")
	other.fails("POST", api+"runs/search", map[string]any{"experiment_ids": []string{expID}}, 403, "PERMISSION_DENIED")

	// Artifacts through the proxy, as mlflow.log_artifact does.
	const art = "/api/2.0/mlflow-artifacts/artifacts/"
	root := strings.TrimPrefix(artifactURI, "mlflow-artifacts:/")
	for p, content := range map[string]string{"model/model.json": `{"trees": 3}`, "model/conda.yaml": "deps", "roc.png": "PNG"} {
		req, _ := http.NewRequest("PUT", ts.URL+art+root+"/"+p, strings.NewReader(content))
		req.Header.Set("Authorization", "Bearer "+tokens["sci"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("upload %s: %d", p, resp.StatusCode)
		}
	}
	if got := viewer.ok("GET", art+root+"/model/model.json", nil)["raw"]; got != `{"trees": 3}` {
		t.Errorf("download = %v", got)
	}
	viewer.fails("GET", art+root+"/missing.bin", nil, 404, "RESOURCE_DOES_NOT_EXIST")
	listing := viewer.ok("GET", "/api/2.0/mlflow-artifacts/artifacts?path="+root+"/model", nil)
	if b, _ := json.Marshal(listing["files"]); string(b) != `[{"file_size":4,"is_dir":false,"path":"conda.yaml"},{"file_size":12,"is_dir":false,"path":"model.json"}]` {
		t.Errorf("proxy listing = %s", b)
	}
	listing = viewer.ok("GET", api+"artifacts/list?run_id="+runID, nil)
	if b, _ := json.Marshal(listing["files"]); string(b) != `[{"is_dir":true,"path":"model"},{"file_size":3,"is_dir":false,"path":"roc.png"}]` || listing["root_uri"] != artifactURI {
		t.Errorf("artifacts/list = %s %v", b, listing["root_uri"])
	}
	listing = viewer.ok("GET", api+"artifacts/list?run_id="+runID+"&path=model", nil)
	if len(listing["files"].([]any)) != 2 {
		t.Errorf("artifacts/list model = %v", listing)
	}
	viewer.fails("PUT", art+root+"/x.txt", []byte("x"), 403, "PERMISSION_DENIED")

	// Errors.
	sci.fails("GET", api+"runs/get?run_id=999999", nil, 404, "RESOURCE_DOES_NOT_EXIST")
	sci.fails("POST", api+"runs/log-metric", map[string]any{"run_id": "999999", "key": "a", "value": 1, "timestamp": ms}, 404, "RESOURCE_DOES_NOT_EXIST")
	sci.fails("GET", api+"experiments/get?experiment_id=424242", nil, 404, "RESOURCE_DOES_NOT_EXIST")
	anon.fails("GET", api+"runs/get?run_id="+runID, nil, 401, "")
	anon.fails("POST", api+"runs/log-batch", map[string]any{"run_id": runID}, 401, "")
	viewer.fails("POST", api+"runs/log-metric", map[string]any{"run_id": runID, "key": "auc", "value": 1, "timestamp": ms}, 403, "PERMISSION_DENIED")
	viewer.fails("POST", api+"runs/update", map[string]any{"run_id": run2, "status": "KILLED"}, 403, "PERMISSION_DENIED")

	// Over the limits, or with one bad value: nothing of the batch recorded.
	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = map[string]any{"key": "over", "value": 1, "timestamp": ms, "step": i}
	}
	sci.fails("POST", api+"runs/log-batch", map[string]any{"run_id": run2, "metrics": many}, 400, "INVALID_PARAMETER_VALUE")
	params := make([]map[string]string, 101)
	for i := range params {
		params[i] = map[string]string{"key": fmt.Sprint("p", i), "value": "v"}
	}
	sci.fails("POST", api+"runs/log-batch", map[string]any{"run_id": run2, "params": params}, 400, "INVALID_PARAMETER_VALUE")
	sci.fails("POST", api+"runs/log-batch", map[string]any{"run_id": run2, "metrics": many[:10],
		"params": []map[string]string{{"key": "new", "value": "1"}, {"key": "max_depth", "value": "9"}}}, 400, "INVALID_PARAMETER_VALUE")
	big := []byte(`{"run_id": "` + run2 + `", "tags": [{"key": "big", "value": "` + strings.Repeat("x", 1<<20) + `"}]}`)
	sci.fails("POST", api+"runs/log-batch", big, 400, "INVALID_PARAMETER_VALUE")
	r2 := viewer.ok("GET", api+"runs/get?run_id="+run2, nil)["run"].(map[string]any)["data"].(map[string]any)
	if find(r2["metrics"], "over") != nil || find(r2["params"], "new") != nil || find(r2["params"], "p0") != nil || find(r2["tags"], "big") != nil {
		t.Errorf("a refused batch was partly recorded: %v", r2)
	}
	if h := viewer.ok("GET", api+"metrics/get-history?run_id="+run2+"&metric_key=over", nil)["metrics"].([]any); len(h) != 0 {
		t.Errorf("refused metrics recorded: %d", len(h))
	}
}
