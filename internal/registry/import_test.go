package registry_test

import (
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/explain"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
)

// xgbFixture is a model and the reference values of internal/explain's
// testdata (written by gen_xgboost.py with python3-xgboost).
type xgbFixture struct {
	X        [][]*float64    `json:"X"`
	Margin   json.RawMessage `json:"margin"`
	Contribs json.RawMessage `json:"contribs"`
}

func loadXGB(t *testing.T, name string) ([]byte, xgbFixture, [][]float64) {
	t.Helper()
	b, err := os.ReadFile("../explain/testdata/xgb-" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := os.ReadFile("../explain/testdata/xgb-" + name + ".cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f xgbFixture
	if err := json.Unmarshal(cb, &f); err != nil {
		t.Fatal(err)
	}
	rows := make([][]float64, len(f.X))
	for i, r := range f.X {
		rows[i] = make([]float64, len(r))
		for j, v := range r {
			rows[i][j] = math.NaN()
			if v != nil {
				rows[i][j] = *v
			}
		}
	}
	return b, f, rows
}

// TestConvertImportedXGBoost: the converted models give xgboost's margins
// (its float32 sums: 1e-5) and TreeSHAP contributions (1e-4), so serving
// and explanations treat them like hygie's own.
func TestConvertImportedXGBoost(t *testing.T) {
	for _, name := range []string{"binary", "regression", "dart"} {
		t.Run(name, func(t *testing.T) {
			b, f, rows := loadXGB(t, name)
			var margin []float64
			var contribs [][]float64
			if err := json.Unmarshal(f.Margin, &margin); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(f.Contribs, &contribs); err != nil {
				t.Fatal(err)
			}
			m, err := registry.ConvertImported(registry.ImportXGBoost, b, registry.ImportSignature{})
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{true: hmodel.Binary, false: hmodel.Regression}[name != "regression"]; m.Task != want {
				t.Fatalf("task %s, want %s", m.Task, want)
			}
			raw, err := m.PredictRaw(rows)
			if err != nil {
				t.Fatal(err)
			}
			exps, err := explain.ForRaw(m, rows)
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				got := raw[i]
				if m.Task == hmodel.Binary {
					got = math.Log(raw[i] / (1 - raw[i]))
				}
				if math.Abs(got-margin[i]) > 1e-5*math.Max(1, math.Abs(margin[i])) {
					t.Fatalf("row %d: margin %v, xgboost %v", i, got, margin[i])
				}
				c := contribs[i]
				if math.Abs(exps[i].Base-c[len(c)-1]) > 1e-4 {
					t.Fatalf("row %d: base %v, xgboost %v", i, exps[i].Base, c[len(c)-1])
				}
				for j, in := range m.Inputs {
					if math.Abs(exps[i].Contributions[in.Name]-c[j]) > 1e-4 {
						t.Fatalf("row %d input %s: contribution %v, xgboost %v", i, in.Name, exps[i].Contributions[in.Name], c[j])
					}
				}
			}
		})
	}
}

// TestFloat32LessThan: x ≤ t' exactly when float32(x) < t, at and around
// the rounding midpoints, for thresholds of every sign and size.
func TestFloat32LessThan(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ts := []float32{0, 1, -1, 0.5, 2, -2, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32, 3.4000001, 1e-30}
	for range 2000 {
		ts = append(ts, math.Float32frombits(r.Uint32()&^(0xff<<23)|uint32(r.IntN(254)+1)<<23))
	}
	for _, t32 := range ts {
		if math.IsNaN(float64(t32)) {
			continue
		}
		th := float64(t32)
		cut := registry.Float32LessThan(th)
		p := math.Nextafter32(t32, float32(math.Inf(-1)))
		mid := (float64(p) + th) / 2
		for _, x := range []float64{th, mid, math.Nextafter(mid, 0), math.Nextafter(mid, math.Inf(1)), math.Nextafter(mid, math.Inf(-1)),
			float64(p), math.Nextafter(th, math.Inf(-1)), math.Nextafter(th, math.Inf(1))} {
			if want, got := float64(float32(x)) < th, x <= cut; want != got {
				t.Fatalf("threshold %v, x %v: float32(x) < t is %v, x ≤ %v is %v", th, x, want, cut, got)
			}
		}
	}
}

// TestConvertImportedRefusals: what hygie cannot serve is refused with a
// message naming it.
func TestConvertImportedRefusals(t *testing.T) {
	binary, _, _ := loadXGB(t, "binary")
	multi, _, _ := loadXGB(t, "multiclass")
	cases := []struct {
		name, format string
		file         []byte
		sig          registry.ImportSignature
		want         string
	}{
		{"unknown format", "onnx", binary, registry.ImportSignature{}, `format "onnx"`},
		{"not a model", registry.ImportXGBoost, []byte(`{"learner": 3}`), registry.ImportSignature{}, "not an XGBoost JSON model"},
		{"multiclass", registry.ImportXGBoost, multi, registry.ImportSignature{}, "softmax"},
		{"wrong input count", registry.ImportXGBoost, binary, registry.ImportSignature{Inputs: []registry.ImportInput{{Name: "a"}}}, "1 inputs, the model has 5 features"},
		{"wrong task", registry.ImportXGBoost, binary, registry.ImportSignature{Task: "regression"}, `task "regression"`},
		{"duplicate input", registry.ImportXGBoost, binary, registry.ImportSignature{Inputs: []registry.ImportInput{{Name: "a"}, {Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}}}, "unique"},
		{"bad type", registry.ImportXGBoost, binary, registry.ImportSignature{Inputs: []registry.ImportInput{{Name: "a", Type: "date"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}}, `type "date"`},
		{"categories of a number", registry.ImportXGBoost, binary, registry.ImportSignature{Inputs: []registry.ImportInput{{Name: "a", Categories: []string{"x"}}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}}, "numeric"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := registry.ConvertImported(c.format, c.file, c.sig)
			if errs.CodeOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), c.want) {
				t.Fatalf("error %v, want invalid with %q", err, c.want)
			}
		})
	}
}

// TestImportRegistersVersion: an import is a run of "imports" with the
// original and the converted model, and a version serving can load;
// refusals register nothing.
func TestImportRegistersVersion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		b, _, _ := loadXGB(t, "binary")
		sig := registry.ImportSignature{Target: "sepsis", Positive: "yes", Inputs: []registry.ImportInput{{Name: "lactate"}, {Name: "age"}, {Name: "map"}, {Name: "gcs"}, {Name: "const"}}}
		if _, err := e.reg.Import(e.ctx, registry.ImportOptions{Project: "proj", Model: "xgb-risk", Format: registry.ImportXGBoost, File: []byte("{}"), FileName: "bad.json", Signature: sig}); errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "bad.json") {
			t.Fatalf("bad file: %v", err)
		}
		v, err := e.reg.Import(e.ctx, registry.ImportOptions{Project: "proj", Model: "xgb-risk", Format: registry.ImportXGBoost, File: b, FileName: "model.json", Signature: sig})
		if err != nil {
			t.Fatal(err)
		}
		if v.Version != 1 || v.Flavor != hmodel.Format || v.RunID == nil || len(v.Signature.Inputs) != 5 || v.Signature.Inputs[0].Name != "lactate" ||
			v.Signature.Outputs[0].Name != "sepsis_probability" {
			t.Fatalf("version %+v", v)
		}
		run, err := e.runs.Get(e.ctx, *v.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Experiment != registry.ImportExperiment || run.Params["format"] != "xgboost" || run.Params["positive"] != "yes" || len(run.Params["sha256"]) != 64 || run.Status != "finished" {
			t.Errorf("import run %+v", run)
		}
		rc, err := e.runs.OpenArtifact(e.ctx, run.ID, "model/original-xgboost.json")
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := io.ReadAll(rc)
		rc.Close()
		if string(orig) != string(b) {
			t.Error("the original file is not kept as it was")
		}
		var n int
		if err := d.QueryRow(e.ctx, `SELECT COUNT(*) FROM model_versions`).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d versions (%v), want 1", n, err)
		}
		if _, err := e.reg.Import(e.ctx, registry.ImportOptions{Project: "other", Model: "xgb-risk", Format: registry.ImportXGBoost, File: b, Signature: sig}); errs.CodeOf(err) != errs.Conflict {
			t.Errorf("name of another project: %v", err)
		}
	})
}

// TestConvertImportedLightGBM: the converted DART model of internal/explain's
// testdata gives LightGBM's own probabilities (1e-12) on its test rows; a
// model with zero_as_missing splits is refused, saying so.
func TestConvertImportedLightGBM(t *testing.T) {
	b, err := os.ReadFile("../explain/testdata/lg_dart_breast_cancer.model")
	if err != nil {
		t.Fatal(err)
	}
	m, err := registry.ConvertImported(registry.ImportLightGBM, b, registry.ImportSignature{Target: "malignant", Positive: "yes"})
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) [][]float64 {
		t.Helper()
		raw, err := os.ReadFile("../explain/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]float64
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var x []float64
			for _, f := range strings.Fields(line) {
				v, err := strconv.ParseFloat(f, 64)
				if err != nil {
					t.Fatal(err)
				}
				x = append(x, v)
			}
			out = append(out, x)
		}
		return out
	}
	X, want := read("breast_cancer_test.tsv"), read("lg_dart_breast_cancer_true_predictions.txt")
	p, err := m.PredictRaw(X)
	if err != nil {
		t.Fatal(err)
	}
	if m.Task != hmodel.Binary || m.Positive != "yes" || len(p) != len(want) || len(p) == 0 {
		t.Fatalf("task %s positive %s, %d predictions for %d", m.Task, m.Positive, len(p), len(want))
	}
	for i := range p {
		if math.Abs(p[i]-want[i][0]) > 1e-12 {
			t.Fatalf("row %d: %v, LightGBM %v", i, p[i], want[i][0])
		}
	}
	small, err := os.ReadFile("../explain/testdata/lgb-small.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.ConvertImported(registry.ImportLightGBM, small, registry.ImportSignature{}); errs.CodeOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), "zero_as_missing") {
		t.Errorf("zero_as_missing model: %v", err)
	}
}
