package synth

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestGenerateReproducibleAndConsistent(t *testing.T) {
	for _, sp := range []Split{Train, HeldOut} {
		a := Generate(Options{Seed: 5, Split: sp, N: 40})
		b := Generate(Options{Seed: 5, Split: sp, N: 40})
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("split %d: same seed, different documents", sp)
		}
		for _, d := range a {
			runes := []rune(d.Text)
			for _, e := range d.Entities {
				if e.End > len(runes) || string(runes[e.Start:e.End]) != e.Text {
					t.Fatalf("%s: entity %+v does not index the text", d.ID, e)
				}
			}
			if !utf8.ValidString(d.Text) {
				t.Fatalf("%s: invalid UTF-8", d.ID)
			}
		}
	}
}

func TestSplitsAreDisjoint(t *testing.T) {
	tr, ho := getPools(Train), getPools(HeldOut)
	seen := map[string]bool{}
	for _, n := range tr.last {
		seen[n] = true
	}
	for _, c := range tr.communes {
		seen[c.Name] = true
	}
	for _, n := range ho.last {
		if seen[n] {
			t.Fatalf("family name %q in both splits", n)
		}
	}
	for _, c := range ho.communes {
		if seen[c.Name] {
			t.Fatalf("commune %q in both splits", c.Name)
		}
	}
	names := map[string]bool{}
	for _, f := range trainFamilies {
		names[f.name] = true
	}
	for _, f := range heldOutFamilies {
		if names[f.name] {
			t.Fatalf("family %q in both splits", f.name)
		}
	}
}
