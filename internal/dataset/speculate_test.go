package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readAll reads every frame of a CSV import, exact or speculative.
func readAll(t *testing.T, path string, exact bool) ([]Column, [][]string, error) {
	t.Helper()
	o := &ImportOptions{exact: exact}
	in, err := openInput(context.Background(), File(path, "csv"), o)
	if err != nil {
		t.Fatal(err)
	}
	defer in.close()
	tr, _, err := openSource(context.Background(), File(path, "csv"), in, o)
	if err != nil {
		return nil, nil, err
	}
	defer tr.Close()
	var rows [][]string
	for {
		f, err := tr.Next()
		if err == io.EOF {
			return tr.Columns(), rows, nil
		}
		if err != nil {
			return nil, nil, err
		}
		for r := range f.Rows() {
			var row []string
			for _, v := range f.Vecs {
				s := v.String(r)
				if v.IsNull(r) {
					s = "∅"
				}
				row = append(row, s)
			}
			rows = append(rows, row)
		}
	}
}

// The speculation on types never changes the result: when it holds, the
// columns and values are those of the exact two passes; when it does not,
// it says so.
func TestSpeculationIsExact(t *testing.T) {
	defer func(n int64) { sampleRows = n }(sampleRows)
	sampleRows = 3
	r := rand.New(rand.NewPCG(5, 6))
	// Values by kind; a column draws from one or two kinds, some late.
	kinds := [][]string{
		{"1", "-2", "30", "0"},
		{"1.5", "2,5", "-0.25", "1e3"},
		{"oui", "non", "True", "false"},
		{"2024-01-01", "17/01/1950", "1/2/2003"},
		{"2024-01-01 10:00", "2024-01-01T10:00:00Z"},
		{"x", "Hélène", "0123", "NA"},
		{"", "", "NULL"},
		{"H\xe9l\xe8ne"},
	}
	dir := t.TempDir()
	spec, fell := 0, 0
	for i := range 400 {
		ncol := 1 + r.IntN(4)
		sep := [...]string{",", ";", "\t"}[r.IntN(3)]
		var b strings.Builder
		for c := range ncol {
			if c > 0 {
				b.WriteString(sep)
			}
			fmt.Fprintf(&b, "c%d", c)
		}
		b.WriteString("\n")
		type plan struct {
			early, late []string
			switchAt    int
		}
		plans := make([]plan, ncol)
		for c := range plans {
			plans[c] = plan{kinds[r.IntN(len(kinds))], kinds[r.IntN(len(kinds))], r.IntN(10)}
		}
		rows := 1 + r.IntN(10)
		for row := range rows {
			for c, p := range plans {
				if c > 0 {
					b.WriteString(sep)
				}
				vals := p.early
				if row >= p.switchAt {
					vals = p.late
				}
				v := vals[r.IntN(len(vals))]
				if strings.Contains(v, sep) || strings.Contains(v, ",") {
					v = `"` + v + `"`
				}
				b.WriteString(v)
			}
			b.WriteString("\n")
		}
		path := filepath.Join(dir, fmt.Sprintf("f%d.csv", i))
		if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		wantCols, wantRows, wantErr := readAll(t, path, true)
		gotCols, gotRows, gotErr := readAll(t, path, false)
		if errors.Is(gotErr, errSpeculation) {
			fell++
			continue
		}
		spec++
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: speculative error %v, exact error %v", b.String(), gotErr, wantErr)
		}
		if gotErr != nil {
			continue
		}
		if !slices.Equal(gotCols, wantCols) || !slices.EqualFunc(gotRows, wantRows, slices.Equal[[]string]) {
			t.Fatalf("%q:\nspeculative %v %q\nexact       %v %q", b.String(), gotCols, gotRows, wantCols, wantRows)
		}
	}
	t.Logf("%d speculations held, %d fell back", spec, fell)
	if spec == 0 || fell == 0 {
		t.Errorf("%d speculations held, %d fell back: the test does not cover both", spec, fell)
	}
}
