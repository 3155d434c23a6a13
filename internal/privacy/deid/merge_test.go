package deid

import (
	"strings"
	"testing"
)

func TestOverlapsResolvedLongestRuleWins(t *testing.T) {
	d := testDeid(t)
	// The date inside the address and the name inside the e-mail stay
	// inside the longer span.
	for _, c := range []struct{ text, want string }{
		{"demeurant 3 rue du 8 Mai 1945, 38000 Grenoble", "ADRESSE:3 rue du 8 Mai 1945"},
		{"écrire à claire.dupont@orange.fr", "MAIL:claire.dupont@orange.fr"},
		{"Transfert à l'Hôpital Marie Lannelongue.", "HOPITAL:Hôpital Marie Lannelongue"},
	} {
		got := ents(t, d, c.text)
		if !has(got, c.want) {
			t.Errorf("%q: want %s, got %v", c.text, c.want, got)
		}
		es := d.Detect(c.text)
		for i := 1; i < len(es); i++ {
			if es[i].Start < es[i-1].End {
				t.Errorf("%q: overlapping entities %v", c.text, es)
			}
		}
	}
}

func TestPropagation(t *testing.T) {
	d := testDeid(t)
	text := "Patient : DUPONT Marcel, né le 12/03/1950.\nLe patient Dupont a bien évolué. Sa femme a vu DUPONT hier.\nIPP : 80012345 ; rappel du dossier 80012345.\nLe petit nodule est stable."
	got := ents(t, d, text)
	n := 0
	for _, g := range got {
		if g == "NOM:Dupont" || g == "NOM:DUPONT" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("name found once must be masked everywhere: %d of 3 occurrences in %v", n, got)
	}
	ipp := 0
	for _, g := range got {
		if g == "IPP:80012345" {
			ipp++
		}
	}
	if ipp != 2 {
		t.Errorf("identifier must be masked everywhere: %v", got)
	}
	for _, g := range got {
		if strings.Contains(g, "petit") {
			t.Errorf("lower-case common word masked: %v", got)
		}
	}
	// Not into eponyms: the surname Parkinson of a patient does not mask
	// the disease.
	text = "M. Marc PARKINSON, 70 ans.\nSuivi pour une maladie de Parkinson."
	for _, e := range d.Detect(text) {
		if e.Start > strings.Index(text, "maladie") {
			t.Errorf("eponym masked by propagation: %v", e)
		}
	}
}
