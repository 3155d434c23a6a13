package anon_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/cli"
)

// The CLI contract of `hygie anonymize` (and `hygie risk`): flags, report
// fields, exit codes (2 for usage errors, 1 for bad input, with nothing
// written).

func hygie(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"HYGIE_DATA": t.TempDir(), "HYGIE_LOG_LEVEL": "warn"}
	code := cli.Main(context.Background(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const patients = `age;sex;zip;diagnosis;stay
21;M;75011;flu;3
22;M;75012;flu;2
23;F;75013;cold;5
24;F;75014;flu;1
31;M;75015;cancer;9
32;M;75016;cold;4
`

func TestCLIAnonymize(t *testing.T) {
	dir := t.TempDir()
	in := write(t, dir, "in.csv", patients)
	age := write(t, dir, "age.csv", "21;20-24;*\n22;20-24;*\n23;20-24;*\n24;20-24;*\n31;30-34;*\n32;30-34;*\n")
	sex := write(t, dir, "sex.csv", "M;*\nF;*\n")
	out, rep := filepath.Join(dir, "out.csv"), filepath.Join(dir, "report.json")
	code, stdout, stderr := hygie(t, "anonymize", "--in", in, "--sep", ";", "--qi", "age="+age, "--qi", "sex="+sex,
		"--sensitive", "diagnosis", "--k", "3", "--max-suppression", "0.34", "--metric", "loss", "--out", out, "--report", rep)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got, _ := os.ReadFile(out)
	want := "age;sex;zip;diagnosis;stay\n*;M;75011;flu;3\n*;M;75012;flu;2\n*;*;75013;cold;5\n*;*;75014;flu;1\n*;M;75015;cancer;9\n*;M;75016;cold;4\n"
	if string(got) != want {
		t.Fatalf("out.csv:\n%s\nwant:\n%s", got, want)
	}
	var r map[string]any
	b, _ := os.ReadFile(rep)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"levels", "suppressed", "metric", "metric_value", "nodes_checked", "seconds", "risk_before", "risk_after", "metrics"} {
		if _, ok := r[f]; !ok {
			t.Errorf("report has no %q", f)
		}
	}
	if !reflect.DeepEqual(r["levels"], map[string]any{"age": 2.0, "sex": 0.0}) || r["suppressed"] != 2.0 || r["metric"] != "loss" {
		t.Fatalf("report: levels %v suppressed %v metric %v", r["levels"], r["suppressed"], r["metric"])
	}
	if v := r["metric_value"].(float64); v < 0.6329 || v > 0.6330 {
		t.Fatalf("metric_value %v", v)
	}
	if !strings.Contains(stdout, "2 suppressed") {
		t.Fatalf("stdout: %s", stdout)
	}
}

func TestCLIOnTheFlyHierarchies(t *testing.T) {
	dir := t.TempDir()
	in := write(t, dir, "in.csv", patients)
	out, rep := filepath.Join(dir, "out.csv"), filepath.Join(dir, "report.json")
	code, _, stderr := hygie(t, "anonymize", "--in", in, "--sep", ";", "--qi", "age=interval:5,10", "--qi", "zip=mask",
		"--k", "2", "--metric", "precision", "--out", out, "--report", rep, "-o", "json")
	if code != 0 {
		t.Fatal(stderr)
	}
	got, _ := os.ReadFile(out)
	if !strings.Contains(string(got), "20-24;M;7501*;flu;3") {
		t.Fatalf("out.csv:\n%s", got)
	}
}

// TestCLIAdult runs the contract's example on the adult benchmark.
func TestCLIAdult(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Open("testdata/adult/adult.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	z, _ := gzip.NewReader(f)
	data, _ := io.ReadAll(z)
	f.Close()
	in := write(t, dir, "adult.csv", string(data))
	args := []string{"anonymize", "--in", in, "--sep", ";"}
	for _, q := range []string{"sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"} {
		args = append(args, "--qi", q+"=testdata/adult/adult_hierarchy_"+q+".csv")
	}
	out, rep := filepath.Join(dir, "out.csv"), filepath.Join(dir, "report.json")
	args = append(args, "--k", "5", "--max-suppression", "0.04", "--metric", "entropy", "--out", out, "--report", rep)
	if code, _, stderr := hygie(t, args...); code != 0 {
		t.Fatal(stderr)
	}
	var r struct {
		Levels      map[string]int `json:"levels"`
		Suppressed  int            `json:"suppressed"`
		MetricValue float64        `json:"metric_value"`
		RiskAfter   struct {
			K int `json:"k"`
		} `json:"risk_after"`
	}
	b, _ := os.ReadFile(rep)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"sex": 1, "age": 0, "race": 1, "marital-status": 1, "education": 3, "native-country": 2, "workclass": 2, "occupation": 0}
	if !reflect.DeepEqual(r.Levels, want) || r.Suppressed != 906 || r.MetricValue < 231141.7299 || r.MetricValue > 231141.7300 {
		t.Fatalf("report %+v", r)
	}
	// The suppressed records are one class of "*"s, so the output is 5-anonymous.
	if r.RiskAfter.K < 5 {
		t.Fatalf("k after = %d", r.RiskAfter.K)
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	in := write(t, dir, "in.csv", patients)
	age := write(t, dir, "age.csv", "21;20-24;*\n22;20-24;*\n23;20-24;*\n24;20-24;*\n31;30-34;*\n32;30-34;*\n")
	ageShort := write(t, dir, "age-short.csv", "21;20-24;*\n22;20-24;*\n23;20-24;*\n24;20-24;*\n31;30-34;*\n")
	ageRagged := write(t, dir, "age-ragged.csv", "21;20-24;*\n22;20-24;*\n23;20-24\n")
	out, rep := filepath.Join(dir, "out.csv"), filepath.Join(dir, "report.json")
	base := func(extra ...string) []string {
		a := []string{"anonymize", "--in", in, "--sep", ";", "--out", out, "--report", rep}
		return append(a, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing --in", []string{"anonymize", "--qi", "age=" + age, "--k", "2", "--out", out, "--report", rep}, 2, "--in"},
		{"no --qi", base("--k", "2"), 2, "--qi"},
		{"bad --qi", base("--qi", "age", "--k", "2"), 2, "COLUMN=HIERARCHY"},
		{"unknown metric", base("--qi", "age="+age, "--k", "2", "--metric", "utility"), 2, "unknown metric"},
		{"k zero", base("--qi", "age="+age, "--k", "0"), 2, "--k"},
		{"l without sensitive", base("--qi", "age="+age, "--k", "2", "--l", "2"), 2, "--sensitive"},
		{"suppression above 1", base("--qi", "age="+age, "--k", "2", "--max-suppression", "4"), 2, "fraction"},
		{"unknown flag", base("--qi", "age="+age, "--kk", "2"), 2, "unknown flag"},
		{"no model", base("--qi", "age="+age), 2, "no privacy model"},
		{"value missing from hierarchy", base("--qi", "age="+ageShort, "--k", "2"), 1, `in.csv line 7: column "age": value "32" is missing from hierarchy ` + ageShort},
		{"inconsistent depth", base("--qi", "age="+ageRagged, "--k", "2"), 1, ageRagged + " line 3: inconsistent depth"},
		{"no such column", base("--qi", "agee="+age, "--k", "2"), 1, `no column "agee"`},
		{"no such sensitive column", base("--qi", "age="+age, "--k", "2", "--sensitive", "diag"), 1, `no column "diag"`},
		{"no hierarchy file", base("--qi", "age="+filepath.Join(dir, "nope.csv"), "--k", "2"), 1, "cannot open hierarchy"},
		{"no input file", []string{"anonymize", "--in", filepath.Join(dir, "nope.csv"), "--qi", "age=" + age, "--k", "2", "--out", out, "--report", rep}, 1, "cannot open"},
		{"no solution", base("--qi", "age="+age, "--k", "7"), 1, "highest achievable k is 6"},
		{"no solution, suppression", base("--qi", "age="+age, "--sensitive", "diagnosis", "--l", "4"), 1, "would suppress 6 records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := hygie(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want %d; stderr %q should contain %q", code, tc.code, stderr, tc.want)
			}
			for _, p := range []string{out, rep} {
				if _, err := os.Stat(p); err == nil {
					t.Fatalf("%s was written", p)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					t.Fatalf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

func TestCLIRisk(t *testing.T) {
	dir := t.TempDir()
	in := write(t, dir, "in.csv", patients)
	code, stdout, stderr := hygie(t, "risk", "--in", in, "--sep", ";", "--qi", "age", "--qi", "sex", "--sensitive", "diagnosis", "--sampling-fraction", "0.05")
	if code != 0 {
		t.Fatal(stderr)
	}
	var r struct {
		K           int `json:"k"`
		SinglingOut struct {
			Pass    bool   `json:"pass"`
			Verdict string `json:"verdict"`
		} `json:"singling_out"`
		Prosecutor struct {
			Highest float64 `json:"highest"`
		} `json:"prosecutor"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.K != 1 || r.SinglingOut.Pass || r.Prosecutor.Highest != 1 {
		t.Fatalf("%+v", r)
	}
	if code, _, _ := hygie(t, "risk", "--in", in, "--sep", ";"); code != 2 {
		t.Fatalf("risk without --qi: exit %d", code)
	}
	if code, _, _ := hygie(t, "risk", "--in", in, "--sep", ";", "--qi", "nope"); code != 1 {
		t.Fatalf("risk with an unknown column: exit %d", code)
	}
}
