package cli

import (
	"encoding/csv"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeTrainCSV writes a small classification / regression problem: y is
// positive when x > 0.5 for ward A, x < 0.5 for ward B.
func writeTrainCSV(t *testing.T, dir string, n int, sep string) string {
	t.Helper()
	r := rand.New(rand.NewSource(1))
	var sb strings.Builder
	sb.WriteString(strings.Join([]string{"x", "ward", "age", "outcome", "los"}, sep) + "\n")
	for i := 0; i < n; i++ {
		x := r.Float64()
		ward := []string{"A", "B"}[r.Intn(2)]
		pos := (x > 0.5) == (ward == "A")
		out := "no"
		if pos {
			out = "yes"
		}
		age := strconv.Itoa(20 + r.Intn(60))
		if i%10 == 3 {
			age = "" // missing
		}
		los := fmt.Sprintf("%.3f", 2*x+float64(len(ward))+r.NormFloat64()*0.01)
		sb.WriteString(strings.Join([]string{fmt.Sprintf("%.4f", x), ward, age, out, los}, sep) + "\n")
	}
	p := filepath.Join(dir, "train.csv")
	if err := os.WriteFile(p, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readPredictions(t *testing.T, p string) []float64 {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[0][0] != "prediction" {
		t.Fatalf("header %v", recs[0])
	}
	var out []float64
	for _, r := range recs[1:] {
		v, err := strconv.ParseFloat(r[0], 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestTrainPredictGBDT(t *testing.T) {
	dir := t.TempDir()
	in := writeTrainCSV(t, dir, 400, ";")
	model := filepath.Join(dir, "m.json")
	pred := filepath.Join(dir, "p.csv")
	code, out, errOut := run(t, nil, "", "train", "--in", in, "--sep", ";", "--target", "outcome", "--positive", "yes",
		"--learner", "gbdt", "--param", "trees=50", "--param", "leaves=8", "--param", "learning_rate=0.2", "--param", "min_samples_leaf=5", "--model-out", model)
	if code != 0 {
		t.Fatalf("train = %d: %s %s", code, out, errOut)
	}
	b, _ := os.ReadFile(model)
	if !strings.Contains(string(b), `"format": "hygie.gbdt/1"`) {
		t.Fatalf("model lacks the format tag: %.200s", b)
	}
	code, out, errOut = run(t, nil, "", "predict", "--model", model, "--in", in, "--sep", ";", "--out", pred)
	if code != 0 {
		t.Fatalf("predict = %d: %s %s", code, out, errOut)
	}
	p := readPredictions(t, pred)
	if len(p) != 400 {
		t.Fatalf("%d predictions for 400 rows", len(p))
	}
	// check accuracy against the rule
	data, _ := os.ReadFile(in)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")[1:]
	wrong := 0
	for i, l := range lines {
		f := strings.Split(l, ";")
		if (p[i] > 0.5) != (f[3] == "yes") {
			wrong++
		}
		if p[i] < 0 || p[i] > 1 {
			t.Fatalf("probability %v", p[i])
		}
	}
	if wrong > 20 {
		t.Errorf("%d/400 wrong", wrong)
	}
}

func TestTrainPredictLogisticAndLinear(t *testing.T) {
	dir := t.TempDir()
	in := writeTrainCSV(t, dir, 300, ",")
	// drop the age column (has missing values) for logistic/linear
	b, _ := os.ReadFile(in)
	var sb strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(l, ",")
		sb.WriteString(strings.Join([]string{f[0], f[1], f[3], f[4]}, ",") + "\n")
	}
	os.WriteFile(in, []byte(sb.String()), 0o600)
	model := filepath.Join(dir, "m.json")
	pred := filepath.Join(dir, "p.csv")
	if code, out, errOut := run(t, nil, "", "train", "--in", in, "--target", "outcome", "--positive", "yes", "--learner", "logistic", "--param", "l2=0.5", "--model-out", model); code != 0 {
		t.Fatalf("train logistic = %d: %s %s", code, out, errOut)
	}
	if code, out, errOut := run(t, nil, "", "predict", "--model", model, "--in", in, "--out", pred); code != 0 {
		t.Fatalf("predict = %d: %s %s", code, out, errOut)
	}
	if p := readPredictions(t, pred); len(p) != 300 || p[0] <= 0 || p[0] >= 1 {
		t.Fatalf("logistic predictions %v", p[:3])
	}
	// linear regression on los = 2x + len(ward) ⇒ exact up to noise
	if code, out, errOut := run(t, nil, "", "train", "--in", in, "--target", "los", "--learner", "linear", "--model-out", model); code != 0 {
		t.Fatalf("train linear = %d: %s %s", code, out, errOut)
	}
	if code, out, errOut := run(t, nil, "", "predict", "--model", model, "--in", in, "--out", pred); code != 0 {
		t.Fatalf("predict = %d: %s %s", code, out, errOut)
	}
	p := readPredictions(t, pred)
	x0, _ := strconv.ParseFloat(strings.Split(strings.Split(sb.String(), "\n")[1], ",")[3], 64)
	if d := p[0] - x0; d > 0.1 || d < -0.1 {
		t.Errorf("linear prediction %v for los %v", p[0], x0)
	}
	// gbdt regression on a numeric target
	if code, out, errOut := run(t, nil, "", "train", "--in", in, "--target", "los", "--learner", "gbdt", "--model-out", model, "--output", "json"); code != 0 || !strings.Contains(out, "squared_error") {
		t.Fatalf("train gbdt regression = %d: %s %s", code, out, errOut)
	}
}

func TestTrainErrors(t *testing.T) {
	dir := t.TempDir()
	in := writeTrainCSV(t, dir, 100, ",")
	model := filepath.Join(dir, "m.json")
	constant := filepath.Join(dir, "const.csv")
	os.WriteFile(constant, []byte("x,y\n1,a\n2,a\n3,a\n"), 0o600)
	nan := filepath.Join(dir, "nan.csv")
	os.WriteFile(nan, []byte("x,y\n1,a\nNaN,b\n3,a\n"), 0o600)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"train", "--in", in, "--target", "nope", "--model-out", model}, 2, "no such column"},
		{[]string{"train", "--in", in, "--target", "outcome", "--learner", "forest", "--model-out", model}, 2, "--learner"},
		{[]string{"train", "--in", in, "--target", "outcome", "--param", "trees=0", "--model-out", model}, 2, "trees must be at least 1"},
		{[]string{"train", "--in", in, "--target", "outcome", "--param", "learning_rate=3", "--model-out", model}, 2, "learning_rate"},
		{[]string{"train", "--in", in, "--target", "outcome", "--param", "colour=red", "--model-out", model}, 2, "unknown"},
		{[]string{"train", "--in", in, "--target", "outcome", "--param", "trees=abc", "--model-out", model}, 2, "integer"},
		{[]string{"train", "--in", in, "--target", "outcome"}, 2, "required"},
		{[]string{"train", "--in", in, "--target", "outcome", "--positive", "maybe", "--model-out", model}, 1, "never occurs"},
		{[]string{"train", "--in", constant, "--target", "y", "--model-out", model}, 1, "constant"},
		{[]string{"train", "--in", nan, "--target", "y", "--model-out", model}, 1, "NaN"},
		{[]string{"train", "--in", in, "--target", "outcome", "--learner", "logistic", "--model-out", model}, 1, "missing"},
		{[]string{"train", "--in", in, "--target", "outcome", "--learner", "linear", "--model-out", model}, 1, "not numeric"},
		{[]string{"train", "--in", in, "--target", "outcome", "--learner", "linear", "--positive", "yes", "--model-out", model}, 2, "regression"},
		{[]string{"train", "--in", filepath.Join(dir, "absent.csv"), "--target", "y", "--model-out", model}, 1, "cannot open"},
		{[]string{"predict", "--model", filepath.Join(dir, "absent.json"), "--in", in, "--out", model}, 1, "cannot read"},
		{[]string{"predict", "--model", in, "--in", in}, 2, "required"},
	}
	for _, c := range cases {
		code, _, errOut := run(t, nil, "", c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("hygie %s = %d %q, want %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.msg)
		}
	}
	// predict on a file lacking a model column
	if code, _, errOut := run(t, nil, "", "train", "--in", in, "--target", "outcome", "--model-out", model); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := run(t, nil, "", "predict", "--model", model, "--in", constant, "--out", filepath.Join(dir, "p.csv")); code != 1 || !strings.Contains(errOut, "lacks") {
		t.Errorf("predict with missing column = %d %q", code, errOut)
	}
}

func TestTrainPredictMulticlass(t *testing.T) {
	dir := t.TempDir()
	var sb strings.Builder
	sb.WriteString("lactate,ward,triage\n")
	for i := range 300 {
		l := float64(i%60) / 10
		sb.WriteString(fmt.Sprintf("%.1f,%s,%s\n", l, []string{"rea", "med"}[i%2], map[bool]string{true: "green", false: map[bool]string{true: "orange", false: "red"}[l < 4]}[l < 2]))
	}
	in := filepath.Join(dir, "triage.csv")
	os.WriteFile(in, []byte(sb.String()), 0o600)
	model, pred := filepath.Join(dir, "m.json"), filepath.Join(dir, "p.csv")
	for _, learner := range []string{"gbdt", "logistic"} {
		if code, out, errOut := run(t, nil, "", "train", "--in", in, "--target", "triage", "--learner", learner, "--model-out", model); code != 0 || !strings.Contains(out, "multiclass, 3 classes") {
			t.Fatalf("train %s = %d %s %s", learner, code, out, errOut)
		}
		if code, _, errOut := run(t, nil, "", "predict", "--model", model, "--in", in, "--out", pred); code != 0 {
			t.Fatalf("predict: %s", errOut)
		}
		b, _ := os.ReadFile(pred)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if lines[0] != "prediction,p_green,p_orange,p_red" || len(lines) != 301 || !strings.HasPrefix(lines[1], "green,") || !strings.HasPrefix(lines[300], "red,") {
			t.Fatalf("%s predictions: %q … %q", learner, lines[:2], lines[len(lines)-1])
		}
	}
}
