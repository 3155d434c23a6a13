package recipe

import (
	"os"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// every has one step of each kind.
var every = []string{
	"select: [pid, h, w, sex, note, ok, born, t]",
	"drop: [note]",
	"rename: {ok: flag}",
	"cast: {column: h, to: float}",
	"convert: {column: w, from: lb, to: kg, as: w_kg, digits: 1}",
	"recode: {column: sex, map: {M: 1, F: 2}, type: integer}",
	`derive: {name: h2, expr: "h * 2", type: float}`,
	"filter: {expr: h > 0, missing: keep}",
	"impute: {columns: [h, sex], method: mode}",
	"bin: {column: h, edges: [0, 100, .inf], labels: [low, high]}",
	"one_hot: {column: flag}",
	"age: {from: born, at: 2024-01-01, name: age}",
	"split: {mode: stratified, by: sex, fractions: {train: 0.5, validation: 0.25, test: 0.25}, seed: 3}",
	"not_null: [pid]",
	"range: {column: age, min: 0, max: 120}",
	"unique: {columns: [pid, born]}",
	"allowed: {column: split, values: [train, validation, test]}",
	"row_count: {min: 1, max: 100}",
}

func TestDescribe(t *testing.T) {
	r, err := Parse([]byte(steps(every...)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"select pid, h, w, sex, note, ok, born, t",
		"drop note",
		"rename ok → flag",
		"cast h to float",
		"convert w from lb to kg as w_kg, 1 digits",
		"recode sex (2 values, others missing)",
		"derive h2 = h * 2 (float)",
		"filter h > 0",
		"impute h, sex with the mode",
		"bin h into 2 bins",
		"one_hot flag (at most 50 categories)",
		"age age = years from born to 2024-01-01",
		"split train 0.5 / validation 0.25 / test 0.25, stratified on sex, seed 3, into split",
		"not_null pid",
		"range age in [0, 120]",
		"unique pid, born",
		"allowed split in {train, validation, test}",
		"row_count between 1 and 100",
	}
	if got := r.Describe(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Describe =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, s := range r.Steps {
		if s.Kind != kinds[i].name {
			t.Errorf("step %d kind %q, want %q", i+1, s.Kind, kinds[i].name)
		}
	}
	if len(every) != len(kinds) {
		t.Errorf("every has %d steps for %d kinds", len(every), len(kinds))
	}
	// The whole chain runs on the fuzz frame.
	out, err := apply(t, fuzzFrame(), steps(append(every, "drop: [w_kg]")...))
	if err != nil {
		t.Fatal(err)
	}
	if got := show(out); got != rows(
		"pid:string:patient_id|h:string|sex:integer|flag_false:integer|flag_true:integer|born:date|t:datetime|h2:float|age:integer:quasi_identifier|split:string:other",
		"P1|high|1|0|1|1950-03-01|2024-01-01T10:00:00Z|340|73|train",
		"P1|high|1|1|0|∅|∅|∅|∅|test",
		"P3|high|1|0|1|1970-01-01|2024-06-01T00:00:00Z|364|54|validation",
	) {
		t.Fatalf("got\n%s", got)
	}
}

func TestDescribeVariants(t *testing.T) {
	for step, want := range map[string]string{
		"cast: {columns: [a, b], to: date, format: 02/01/2006, timezone: Europe/Paris}": "cast a, b to date (format 02/01/2006) (time zone Europe/Paris)",
		"cast: {column: a, to: float, decimal: ','}":                                    "cast a to float (decimal comma)",
		"convert: {column: a, analyte: urea, from: mg/dL, to: mmol/L}":                  "convert a from mg/dL to mmol/L (urea)",
		"convert: {column: a, from: cm, to: m, as: b, keep: true}":                      "convert a from cm to m as b, keeping a",
		"recode: {column: a, map: {x: y}, keep_unmapped: true, as: b}":                  "recode a (1 value, others kept) as b",
		"recode: {column: a, map: {x: y}, default: z}":                                  `recode a (1 value, others "z")`,
		"impute: {column: a, method: constant, value: 0}":                               `impute a with "0"`,
		"bin: {column: a, quantiles: 4, as: q}":                                         "bin a into 4 quantile bins as q",
		"one_hot: {column: a, categories: [x, y]}":                                      "one_hot a into 2 fixed categories",
		"age: {from: a, to: b, unit: days, name: d}":                                    "age d = days from a to b",
		"split: {fractions: {train: 0.8, test: 0.2}}":                                   "split train 0.8 / test 0.2, seed 0, into split",
		"range: {column: a, max: 3}":                                                    "range a at most 3",
		"range: {column: a, min: 2020-01-01}":                                           "range a at least 2020-01-01",
		"row_count: {max: 3}":                                                           "row_count at most 3",
		"row_count: {min: 3}":                                                           "row_count at least 3",
		"filter: \"a >\n  1\"":                                                          "filter a > 1",
	} {
		r, err := Parse([]byte(steps(step)))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got := r.Describe()[0]; got != want {
			t.Errorf("%s: Describe = %q, want %q", step, got, want)
		}
	}
}

// fuzzFrame has every type, missing values and awkward ones.
func fuzzFrame() *dataset.Frame {
	return frame(
		cr("pid", dataset.RolePatientID, strs("P1", "P1", "P2", "P3")),
		c("h", ints(170, nil, -3, 182)),
		c("w", floats(70.5, nanf(), nil, 1e308)),
		c("sex", strs("M", "", "F", nil)),
		cr("note", dataset.RoleText, texts("x", nil, "y", "z")),
		c("ok", bools(true, false, nil, true)),
		c("born", dates("1950-03-01", nil, "2000-02-29", "1970-01-01")),
		c("t", datetimes("2024-01-01T10:00:00Z", nil, "1969-12-31T23:59:59Z", "2024-06-01T00:00:00Z")),
	)
}

func FuzzParse(f *testing.F) {
	for _, s := range every {
		f.Add([]byte(steps(s)))
	}
	f.Add([]byte(steps(every...)))
	if b, err := os.ReadFile("testdata/example.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("steps:\n  - filter: {expr: 'h == nil || $env[sex] > 1', missing: pass}\n"))
	f.Add([]byte("steps:\n  - bin: {column: w, quantiles: 3}\n  - derive: {name: x, expr: 'let a = h; a ?? 0', missing: pass}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Parse error %v is not invalid", err)
			}
			return
		}
		_, _ = r.String(), r.Describe()
		in := fuzzFrame()
		before := deepCopy(in)
		out, err := r.Apply(in)
		if !same(in, before) {
			t.Fatal("Apply changed its input")
		}
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Apply error %v is not invalid", err)
			}
			return
		}
		if err := out.Validate(); err != nil {
			t.Fatalf("output: %v", err)
		}
	})
}
