package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/serve"
)

// restCall sends a JSON request with a bearer token and returns the
// status and body.
func restCall(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var compact bytes.Buffer
	if json.Compact(&compact, b) == nil {
		b = compact.Bytes()
	}
	return resp.StatusCode, string(b)
}

// TestCanaryFeedbackRetrainOverCLIAndREST: the canary from the command
// line and the REST API (model.promote, audited; bad shares and versions
// refused), feedback sent to an annotation project by a clinician over
// REST, and a retraining started over REST that trains on the new
// dataset version.
func TestCanaryFeedbackRetrainOverCLIAndREST(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env := map[string]string{"HYGIE_DATA": dir, "HYGIE_LOG_LEVEL": "warn", "HYGIE_ADDR": "127.0.0.1:1"}
	data, roles := writeICU(t, dir, 100)
	for _, args := range [][]string{{"migrate"}, {"user", "create", "sophie"}, {"user", "create", "marc"}, {"user", "create", "claire"}, {"user", "create", "rita"},
		{"project", "create", "icu"}, {"grant", "icu", "sophie", "steward"}, {"grant", "icu", "marc", "scientist"}, {"grant", "icu", "claire", "clinician-validator"},
		{"grant", "icu", "rita", "annotator"}, {"project", "create", "cardio"}, {"grant", "cardio", "marc", "scientist"},
		{"dataset", "import", data, "--name", "stays", "-p", "icu", "--level", "pseudonymized", "--roles", roles, "--as", "sophie"},
		{"train", "--dataset", "stays@1", "-p", "icu", "--as", "marc", "--target", "deces", "--positive", "oui", "--learner", "logistic", "--cv", "0"},
		{"model", "register", "1", "--name", "risk", "-p", "icu", "--as", "marc"},
		{"model", "register", "1", "--name", "risk", "-p", "icu", "--as", "marc"}} {
		if code, out, errOut := run(t, env, "", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errOut)
		}
	}
	for _, step := range []struct{ v, to string }{{"1", "dev"}, {"1", "test"}, {"1", "integration"}, {"1", "production"}, {"2", "dev"}, {"2", "test"}, {"2", "integration"}} {
		if code, out, errOut := run(t, env, "", "model", "promote", "risk", step.v, "--to", step.to, "-p", "icu", "--as", "marc"); code != 0 {
			t.Fatalf("promote %v: %d %s %s", step, code, out, errOut)
		}
	}

	// The command line.
	canary := func(args ...string) (int, string, string) {
		return run(t, env, "", append([]string{"model", "canary", "risk", "-p", "icu"}, args...)...)
	}
	if code, _, errOut := canary("--as", "marc"); code == 0 || !strings.Contains(errOut, "no canary") {
		t.Errorf("show without canary = %d %s", code, errOut)
	}
	for _, bad := range [][]string{{"--version", "2"}, {"--share", "0.1"}, {"--clear", "--version", "2"}} {
		if code, _, _ := canary(append(bad, "--as", "marc")...); code != 2 {
			t.Errorf("%v = %d, want a usage error", bad, code)
		}
	}
	if code, _, errOut := canary("--version", "2", "--share", "0.8", "--as", "marc"); code == 0 || !strings.Contains(errOut, "at most 0.5") {
		t.Errorf("share 0.8 = %d %s", code, errOut)
	}
	if code, _, errOut := canary("--version", "1", "--share", "0.1", "--as", "marc"); code == 0 || !strings.Contains(errOut, "must be in integration") {
		t.Errorf("production version as canary = %d %s", code, errOut)
	}
	if code, _, _ := canary("--version", "2", "--share", "0.1", "--as", "claire"); code == 0 {
		t.Error("a clinician set a canary")
	}
	code, out, errOut := canary("--version", "2", "--share", "0.25", "--mode", "shadow", "--as", "marc", "--output", "json")
	var c struct {
		Share   float64 `json:"share"`
		Mode    string  `json:"mode"`
		SetBy   string  `json:"set_by"`
		Version struct {
			Version int `json:"version"`
		} `json:"version"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || c.Share != 0.25 || c.Mode != "shadow" || c.SetBy != "marc" || c.Version.Version != 2 {
		t.Fatalf("set = %d %s %s", code, out, errOut)
	}
	if code, out, _ := canary("--as", "claire"); code != 0 || !strings.Contains(out, "risk version 2 takes 25% of the traffic in shadow mode") {
		t.Errorf("show = %d %s", code, out)
	}
	if code, out, _ := canary("--clear", "--as", "marc"); code != 0 || !strings.Contains(out, "no canary") {
		t.Errorf("clear = %d %s", code, out)
	}

	env["HYGIE_ADDR"] = addr // the jobs reach this server
	a := openApp(t, env)
	defer a.Close()
	l, err = a.Listen()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.Server}
	go srv.Serve(l)
	defer srv.Close()
	base := "http://" + addr
	ctx := context.Background()
	token := func(user string) string {
		_, secret, err := a.Auth.CreateToken(ctx, user, "t", auth.KindAPI, time.Hour, "")
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	marc, claire := token("marc"), token("claire")
	url := base + "/api/v1/projects/icu/models/risk/canary"
	for _, tc := range []struct {
		name, method, token, body string
		status                    int
		want                      string
	}{
		{"none yet", "GET", claire, "", 404, "no canary"},
		{"clinician sets", "PUT", claire, `{"version": 2, "share": 0.1}`, 403, ""},
		{"share zero", "PUT", marc, `{"version": 2, "share": 0}`, 400, "more than 0"},
		{"no version", "PUT", marc, `{"share": 0.1}`, 400, "version"},
		{"unknown field", "PUT", marc, `{"version": 2, "share": 0.1, "weight": 3}`, 400, "weight"},
		{"bad mode", "PUT", marc, `{"version": 2, "share": 0.1, "mode": "mirror"}`, 400, "mirror"},
		{"unknown version", "PUT", marc, `{"version": 9, "share": 0.1}`, 404, "version 9"},
		{"set", "PUT", marc, `{"version": 2, "share": 0.1}`, 200, `"mode":"canary"`},
		{"read", "GET", claire, "", 200, `"share":0.1`},
		{"clinician clears", "DELETE", claire, "", 403, ""},
		{"clear", "DELETE", marc, "", 204, ""},
		{"cleared", "GET", marc, "", 404, "no canary"},
		{"other project", "GET", marc, "", 404, "not found"},
	} {
		u := url
		if tc.name == "other project" {
			u = strings.Replace(url, "/icu/", "/cardio/", 1)
		}
		if status, body := restCall(t, tc.method, u, tc.token, tc.body); status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, status, body, tc.status, tc.want)
		}
	}
	var set, cleared int
	a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'model.canary.set' AND outcome = 'success'`).Scan(&set)
	a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'model.canary.clear'`).Scan(&cleared)
	if set != 2 || cleared != 2 {
		t.Errorf("audited: %d canaries set, %d cleared; want 2 and 2", set, cleared)
	}

	// Feedback over REST, sent to an annotation project on the clinician's
	// behalf; then a retraining over REST.
	resp, err := a.Serve.Infer(actAs(t, a, "marc"), "risk", 1, serve.Request{Inputs: []serve.Tensor{
		{Name: "sexe", Shape: []int64{2}, Datatype: "BYTES", Data: json.RawMessage(`["F","M"]`)},
		{Name: "age", Shape: []int64{2}, Datatype: "FP64", Data: json.RawMessage(`[77,52]`)},
		{Name: "lactate", Shape: []int64{2}, Datatype: "FP64", Data: json.RawMessage(`[4.5,1.25]`)},
		{Name: "ward", Shape: []int64{2}, Datatype: "BYTES", Data: json.RawMessage(`["rea","med"]`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ids := resp.Parameters["prediction_ids"].([]string)
	a.Serve.Flush(ctx)
	ann := annotate.NewService(a.DB, a.Audit, a.Datasets)
	if _, err := ann.Create(actAs(t, a, "marc"), annotate.Project{Project: "icu", Name: "review", Kind: annotate.KindRows, Overlap: 1,
		Labels: []annotate.Label{{Name: "oui", Color: "#d55e00"}, {Name: "non", Color: "#0072b2"}}}); err != nil {
		t.Fatal(err)
	}
	fb := base + "/api/v1/projects/icu/predictions/" + ids[0] + "/feedback"
	if status, body := restCall(t, "POST", fb, claire, `{"verdict": "correct", "annotation": "review"}`); status != 400 || !strings.Contains(body, "marked incorrect") {
		t.Errorf("correct to annotation: %d %s", status, body)
	}
	if status, body := restCall(t, "POST", fb, claire, `{"verdict": "incorrect", "corrected": "non", "annotation": "nope"}`); status != 404 || !strings.Contains(body, "nope") {
		t.Errorf("unknown annotation project: %d %s", status, body)
	}
	if p, _ := a.Monitor.Prediction(ctx, ids[0]); len(p.Feedback) != 0 {
		t.Errorf("refused feedback recorded: %+v", p.Feedback)
	}
	for i, label := range []string{"non", "oui"} {
		fb := base + "/api/v1/projects/icu/predictions/" + ids[i] + "/feedback"
		status, body := restCall(t, "POST", fb, claire, `{"verdict": "incorrect", "corrected": "`+label+`", "comment": "chart review", "annotation": "review"}`)
		if status != 201 || !strings.Contains(body, `"annotation":"review"`) || !strings.Contains(body, `"added":1`) {
			t.Fatalf("feedback to annotation: %d %s", status, body)
		}
	}
	if _, err := ann.Assign(actAs(t, a, "marc"), "icu", "review", []string{"rita"}); err != nil {
		t.Fatal(err)
	}
	q, err := ann.Queue(actAs(t, a, "rita"), "icu", "review")
	if err != nil || len(q) != 2 {
		t.Fatalf("queue %d %v", len(q), err)
	}
	for _, task := range q {
		ann.Submit(actAs(t, a, "rita"), "icu", "review", task.ID, annotate.Result{Choices: []string{"oui"}})
		if _, err := ann.Adjudicate(actAs(t, a, "claire"), "icu", "review", task.ID, annotate.Result{Choices: []string{"oui"}}); err != nil {
			t.Fatal(err)
		}
	}
	rt := base + "/api/v1/projects/icu/models/risk/retrain"
	if status, _ := restCall(t, "POST", rt, claire, ""); status != 403 {
		t.Errorf("clinician retrains: %d", status)
	}
	if status, body := restCall(t, "POST", rt, marc, `{"version": -1}`); status != 400 {
		t.Errorf("version -1: %d %s", status, body)
	}
	status, body := restCall(t, "POST", rt, marc, "") // the version in production: 1
	var res struct {
		BaseVersion int `json:"base_version"`
		Corrected   int `json:"corrected"`
		Dataset     struct {
			Version int `json:"version"`
			Rows    int `json:"rows"`
		} `json:"dataset"`
		Job struct {
			ID int64 `json:"id"`
		} `json:"job"`
	}
	if status != 202 || json.Unmarshal([]byte(body), &res) != nil || res.BaseVersion != 1 || res.Corrected != 2 || res.Dataset.Version != 2 || res.Dataset.Rows != 202 {
		t.Fatalf("retrain: %d %s", status, body)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	j, err := a.Jobs.Wait(wctx, res.Job.ID)
	if err != nil || j.State != jobs.Succeeded || j.RunID == nil {
		t.Fatalf("retraining job %+v: %v", j, err)
	}
	run, err := a.Runs.Get(ctx, *j.RunID)
	if err != nil || run.Params["dataset"] != "stays@2" || run.Params["train_rows"] == "" {
		t.Errorf("retrained run %+v %v", run.Params, err)
	}
}
