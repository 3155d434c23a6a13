package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDeidTrainJob(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HYGIE_DATA": dir, "HYGIE_LOG_LEVEL": "warn", "HYGIE_ADDR": "127.0.0.1:1"}
	for _, args := range [][]string{{"migrate"}, {"user", "create", "marc"}, {"user", "create", "claire"}, {"project", "create", "notes"},
		{"grant", "notes", "marc", "scientist"}, {"grant", "notes", "claire", "clinician-validator"}} {
		if code, out, errs := run(t, env, "", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errs)
		}
	}
	code, out, errOut := run(t, env, "", "deid", "train", "-p", "notes", "--as", "marc", "--synthetic", "80", "--epochs", "2", "--output", "json")
	if code != 0 {
		t.Fatalf("deid train -p: %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Job struct{ State string } `json:"job"`
		Run struct {
			Metrics   map[string]float64 `json:"metrics"`
			Params    map[string]string  `json:"params"`
			Artifacts []struct{ Path string }
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := res.Run.Metrics
	if res.Job.State != "succeeded" || m["span_f1"] < 0.5 || m["span_f1"] > 1 || m["leak"] < 0 || m["leak"] > 0.5 || m["span_f1_NOM"] <= 0 ||
		res.Run.Params["epochs"] != "2" || res.Run.Params["evaluation"] != "synthetic held-out corpus" {
		t.Fatalf("run: %+v", res.Run)
	}
	var paths []string
	for _, a := range res.Run.Artifacts {
		paths = append(paths, a.Path)
	}
	if p := strings.Join(paths, ","); !strings.Contains(p, "model/deid.bin.gz") || !strings.Contains(p, "evaluation/deid_report.json") || !strings.Contains(p, "logs/stdout.txt") {
		t.Fatalf("artifacts %s", p)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--as", "claire"}, 1, "run.write"},
		{[]string{"--as", "marc", "--out", "x.bin"}, 2, "drop --out"},
		{[]string{"--as", "marc", "--in", "/nonexistent.jsonl"}, 1, "cannot read"},
		{[]string{"--as", "marc", "--synthetic", "0"}, 1, "nothing to train on"},
	} {
		args := append([]string{"deid", "train", "-p", "notes", "--epochs", "1"}, c.args...)
		if code, _, errOut := run(t, env, "", args...); code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v = %d %q, want %d %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}
