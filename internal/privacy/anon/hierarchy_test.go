package anon

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
)

func TestParseHierarchy(t *testing.T) {
	h, err := ParseHierarchy(strings.NewReader("\ufeff1;0-4;*\n2;0-4;*\n\n7;5-9;*\n"), ';', "age.csv")
	if err != nil {
		t.Fatal(err)
	}
	if h.Levels() != 3 || len(h.Rows) != 3 {
		t.Fatalf("levels %d rows %d", h.Levels(), len(h.Rows))
	}
	if g, ok := h.Generalize("7", 1); !ok || g != "5-9" {
		t.Fatalf("Generalize(7, 1) = %q %v", g, ok)
	}
	if _, ok := h.Generalize("1", 3); ok {
		t.Fatal("level 3 does not exist")
	}
	if _, ok := h.Lookup("\ufeff1"); ok {
		t.Fatal("BOM not stripped")
	}
}

func TestParseHierarchyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", []string{"h.csv", "no values"}},
		{"depth", "a;x;*\nb;y;*\nc;*\n", []string{"h.csv line 3", "inconsistent depth", "2 levels", "line 1 has 3"}},
		{"duplicate", "a;x;*\nb;x;*\na;y;*\n", []string{"h.csv line 3", `value "a" already defined at h.csv line 1`}},
		{"not a function", "a;x;A;*\nb;x;B;*\n", []string{"h.csv line 2", `"x" generalises to "B" at level 2`, `to "A" at h.csv line 1`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHierarchy(strings.NewReader(tc.in), ';', "h.csv")
			if err == nil || errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("err = %v, want invalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs.MessageOf(err), w) {
					t.Errorf("error %q does not contain %q", errs.MessageOf(err), w)
				}
			}
		})
	}
}

func TestBuilders(t *testing.T) {
	for _, tc := range []struct {
		spec   string
		values []string
		want   map[string][]string
	}{
		{"interval:5,10", []string{"23", "27", "3", "-1"}, map[string][]string{
			"23": {"23", "20-24", "20-29", "*"}, "27": {"27", "25-29", "20-29", "*"}, "-1": {"-1", "-5--1", "-10--1", "*"}}},
		{"interval:0.5,1", []string{"1.2", "1.7"}, map[string][]string{
			"1.2": {"1.2", "[1, 1.5)", "[1, 2)", "*"}, "1.7": {"1.7", "[1.5, 2)", "[1, 2)", "*"}}},
		{"mask", []string{"75013", "I21"}, map[string][]string{
			"75013": {"75013", "7501*", "750**", "75***", "7****", "*****", "*"}, "I21": {"I21", "I2*", "I**", "***", "***", "***", "*"}}},
		{"mask:2", []string{"I21.4", "I21.0", "J45"}, map[string][]string{"I21.4": {"I21.4", "I21.*", "I21**", "*"}}},
		{"date", []string{"2024-03-15", "2023-12-01"}, map[string][]string{"2024-03-15": {"2024-03-15", "2024-03", "2024", "*"}}},
		{"date:02/01/2006", []string{"15/03/2024"}, map[string][]string{"15/03/2024": {"15/03/2024", "2024-03", "2024", "*"}}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			h, err := BuildHierarchy(tc.spec, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			for v, want := range tc.want {
				r, ok := h.Lookup(v)
				if !ok || !reflect.DeepEqual(h.Rows[r], want) {
					t.Errorf("%s: got %v, want %v", v, h.Rows[r], want)
				}
			}
		})
	}
	for _, bad := range []struct{ spec, value string }{
		{"interval:5,7", "1"}, {"interval:0", "1"}, {"interval:x", "1"}, {"interval:5", "abc"},
		{"date", "15/03/2024"}, {"mask:0", "1"}, {"pixelate", "1"},
	} {
		if _, err := BuildHierarchy(bad.spec, []string{bad.value}); err == nil {
			t.Errorf("%s on %q: want an error", bad.spec, bad.value)
		}
	}
}

func FuzzParseHierarchy(f *testing.F) {
	f.Add("1;0-4;0-9;*\n2;0-4;0-9;*\n")
	f.Add("a;x\nb;x\n")
	f.Add("a;\"x;y\";*\n")
	f.Add("a;x;A\nb;x;B\n")
	f.Fuzz(func(t *testing.T, in string) {
		h, err := ParseHierarchy(strings.NewReader(in), ';', "fuzz.csv")
		if err != nil {
			if errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("error without the invalid code: %v", err)
			}
			return
		}
		// A parsed hierarchy is rectangular, keyed and functional.
		d := h.Levels()
		parent := map[string]string{}
		for _, row := range h.Rows {
			if len(row) != d {
				t.Fatal("ragged hierarchy accepted")
			}
			if r, ok := h.Lookup(row[0]); !ok || h.Rows[r][0] != row[0] {
				t.Fatal("lookup broken")
			}
			for l := 1; l+1 < d; l++ {
				k := fmt.Sprint(l, "\x00", row[l])
				if p, ok := parent[k]; ok && p != row[l+1] {
					t.Fatal("non-functional hierarchy accepted")
				}
				parent[k] = row[l+1]
			}
		}
	})
}
