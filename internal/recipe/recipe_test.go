package recipe

import (
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

func table() *dataset.Table {
	t, _ := dataset.ReadCSV(strings.NewReader("id,taille_cm,poids_kg\nPS1,170,70\nPS2,,80\n"), "t.csv")
	return t
}

func TestApply(t *testing.T) {
	r, err := Parse([]byte("name: units\nsteps:\n  - convert: {column: taille_cm, from: cm, to: m, as: taille_m}\n  - rename: {poids_kg: poids}\n  - drop: [id]\n"))
	if err != nil {
		t.Fatal(err)
	}
	in := table()
	out, err := r.Apply(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(out.Names(), ","); got != "taille_m,poids" {
		t.Fatalf("columns = %s", got)
	}
	if out.Rows[0][0] != "1.7" || out.Rows[1][0] != "" || out.Rows[1][1] != "80" {
		t.Fatalf("rows = %v", out.Rows)
	}
	if in.Names()[1] != "taille_cm" || in.Rows[0][1] != "170" {
		t.Fatal("Apply changed its input")
	}
}

func TestBadRecipes(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"empty":          {"name: x\n", "no steps"},
		"unknown field":  {"steps:\n  - explode: {}\n", "explode"},
		"unknown unit":   {"steps:\n  - convert: {column: a, from: cm, to: parsec}\n", "unknown unit"},
		"mixed dims":     {"steps:\n  - convert: {column: a, from: cm, to: kg}\n", "cannot convert"},
		"two ops":        {"steps:\n  - {drop: [a], rename: {a: b}}\n", "exactly one"},
		"missing column": {"steps:\n  - convert: {from: cm, to: m}\n", "column is required"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want %q", err, tc.want)
			}
		})
	}
	r, _ := Parse([]byte("steps:\n  - convert: {column: nope, from: cm, to: m}\n"))
	if _, err := r.Apply(table()); err == nil || !strings.Contains(err.Error(), `step 1: unknown column "nope"`) {
		t.Fatalf("unknown column: %v", err)
	}
	r, _ = Parse([]byte("steps:\n  - convert: {column: id, from: cm, to: m}\n"))
	if _, err := r.Apply(table()); err == nil || !strings.Contains(err.Error(), `row 1, column "id"`) {
		t.Fatalf("non-numeric: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("steps:\n  - convert: {column: a, from: cm, to: m}\n"))
	f.Add([]byte("steps:\n  - drop: [a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		_, _ = r.Apply(table())
	})
}
