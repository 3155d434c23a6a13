package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The JSONL contract of hygie deid, checked against a golden file.
func TestDeidGoldenRoundTrip(t *testing.T) {
	in, err := os.ReadFile("testdata/deid_in.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, nil, string(in), "deid", "--in", "-", "--out", "-")
	if code != 0 {
		t.Fatalf("deid = %d: %s", code, errOut)
	}
	golden := "testdata/deid_out.golden.jsonl"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.WriteFile(golden, []byte(out), 0o644)
	}
	want, _ := os.ReadFile(golden)
	if out != string(want) {
		t.Fatalf("output differs from %s (UPDATE_GOLDEN=1 to refresh):\n%s", golden, out)
	}
	// Each line: id, text, entities whose code-point offsets index the input.
	inLines := strings.Split(strings.TrimSpace(string(in)), "\n")
	for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var o struct {
			ID       string `json:"id"`
			Text     string `json:"text"`
			Entities []struct {
				Start, End  int
				Label, Text string
			} `json:"entities"`
		}
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatal(err)
		}
		var src struct{ ID, Text string }
		json.Unmarshal([]byte(inLines[i]), &src)
		if o.ID != src.ID || len(o.Entities) == 0 {
			t.Fatalf("line %d: %s", i, l)
		}
		runes := []rune(src.Text)
		for _, e := range o.Entities {
			if string(runes[e.Start:e.End]) != e.Text {
				t.Errorf("line %d: entity %+v does not index the input", i, e)
			}
		}
	}
}

func TestDeidModesAndFiles(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(`{"id": "x", "text": "M. Jean MARTIN, tél. 04 72 11 22 33."}`+"\n"), 0o600)
	for mode, want := range map[string]string{"mask": "[PRENOM] [NOM]", "tag": "Jean MARTIN", "surrogate": "tél. 04 "} {
		out := filepath.Join(dir, mode+".jsonl")
		code, stdout, errOut := run(t, nil, "", "deid", "--in", in, "--out", out, "--mode", mode)
		if code != 0 || !strings.Contains(stdout, "de-identified 1 document") {
			t.Fatalf("%s: %d %s %s", mode, code, stdout, errOut)
		}
		b, _ := os.ReadFile(out)
		if !strings.Contains(string(b), want) {
			t.Errorf("%s: %s", mode, b)
		}
		if mode == "surrogate" && strings.Contains(string(b), `"text":"M. Jean MARTIN`) {
			t.Errorf("surrogate kept the name: %s", b)
		}
	}
	code, stdout, _ := run(t, nil, "", "deid", "--in", in, "--out", filepath.Join(dir, "j.jsonl"), "--output", "json")
	var stats map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &stats) != nil || stats["documents"] != float64(1) {
		t.Fatalf("json stats: %d %s", code, stdout)
	}
}

// Fail closed: bad lines exit non-zero, are named by line number, and
// nothing of them reaches the output or the messages.
func TestDeidFailsClosed(t *testing.T) {
	const secret = "Patient DUPONTEL Marcel 06 12 34 56 78"
	in := strings.Join([]string{
		`{"id": "ok", "text": "` + secret + `"}`,
		`{"id": "broken", "text": "` + secret,
		"{\"id\": \"utf8\", \"text\": \"" + secret + "\xff\"}",
		`{"id": "big", "text": "` + secret + strings.Repeat(".", 300) + `"}`,
	}, "\n") + "\n"
	code, out, errOut := run(t, nil, in, "deid", "--in", "-", "--out", "-", "--max-bytes", "200")
	if code == 0 {
		t.Fatalf("exit 0 with bad lines: %s", errOut)
	}
	for _, want := range []string{"line 2", "line 3", "line 4"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q: %s", want, errOut)
		}
	}
	for _, leak := range []string{"DUPONTEL", "Marcel", "06 12"} {
		if strings.Contains(errOut, leak) {
			t.Errorf("stderr leaks %q: %s", leak, errOut)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"id":"ok"`) {
		t.Fatalf("output: %s", out)
	}
	var o struct{ Text string }
	json.Unmarshal([]byte(lines[0]), &o)
	if strings.Contains(o.Text, "DUPONTEL") || strings.Contains(o.Text, "06 12") {
		t.Errorf("output text leaks: %s", o.Text)
	}
	// Usage errors exit 2.
	for _, args := range [][]string{{"deid"}, {"deid", "--in", "-"}, {"deid", "--in", "-", "--out", "-", "--mode", "blur"}, {"deid", "eval"}} {
		if code, _, _ := run(t, nil, "", args...); code != ExitUsage {
			t.Errorf("hygie %v = %d, want 2", args, code)
		}
	}
	// A missing input file is an error, not a usage error.
	if code, _, _ := run(t, nil, "", "deid", "--in", filepath.Join(t.TempDir(), "none"), "--out", "-"); code != ExitError {
		t.Errorf("missing input = %d", code)
	}
}

func TestDeidEval(t *testing.T) {
	dir := t.TempDir()
	gold := filepath.Join(dir, "gold.jsonl")
	os.WriteFile(gold, []byte(`{"id": "g1", "text": "Mme Claire Dupont, tél. 06 12 34 56 78.", "entities": [{"start": 4, "end": 10, "label": "PRENOM", "text": "Claire"}, {"start": 11, "end": 17, "label": "NOM", "text": "Dupont"}, {"start": 24, "end": 38, "label": "TEL", "text": "06 12 34 56 78"}]}`+"\n"), 0o600)
	code, out, errOut := run(t, nil, "", "deid", "eval", "--gold", gold)
	if code != 0 || !strings.Contains(out, "micro") || !strings.Contains(out, "leak") {
		t.Fatalf("eval: %d %s %s", code, out, errOut)
	}
	// With --pred: the output of hygie deid scores the same.
	pred := filepath.Join(dir, "pred.jsonl")
	if code, _, errOut := run(t, nil, "", "deid", "--in", gold, "--out", pred, "--mode", "tag"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, _ = run(t, nil, "", "deid", "eval", "--gold", gold, "--pred", pred, "--output", "json")
	var r struct {
		Micro struct{ F1 float64 }
		Leak  float64
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Micro.F1 != 1 || r.Leak != 0 {
		t.Fatalf("eval --pred: %d %s", code, out)
	}
}

func TestDeidSynthAndTrain(t *testing.T) {
	dir := t.TempDir()
	gold := filepath.Join(dir, "synth.jsonl")
	if code, _, errOut := run(t, nil, "", "deid", "synth", "--split", "train", "--n", "60", "--out", gold); code != 0 {
		t.Fatal(errOut)
	}
	model := filepath.Join(dir, "m.bin.gz")
	code, out, errOut := run(t, nil, "", "deid", "train", "--in", gold, "--synthetic", "0", "--epochs", "2", "--out", model)
	if code != 0 || !strings.Contains(out, "features") {
		t.Fatalf("train: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := run(t, nil, "", "deid", "eval", "--gold", gold, "--model", model); code != 0 || !strings.Contains(out, "NOM") {
		t.Fatalf("eval with model: %d %s %s", code, out, errOut)
	}
}
