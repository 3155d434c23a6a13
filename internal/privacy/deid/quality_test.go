package deid_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/privacy/deid"
	"github.com/hygie-health/hygie/internal/privacy/deid/synth"
)

// Regression guard on documents the default model has never seen: the
// held-out template families with their disjoint name and place lists.
// (The full measurement is in bench/deid; this keeps tests fast.)
func TestHeldOutQuality(t *testing.T) {
	d, err := deid.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ev deid.Evaluator
	for _, doc := range synth.Generate(synth.Options{Seed: 3, Split: synth.HeldOut, N: 300}) {
		ev.Add(doc.Entities, d.Detect(doc.Text), utf8.RuneCountInString(doc.Text))
	}
	r := ev.Report()
	if r.Micro.F1 < 0.97 || r.Leak > 0.005 {
		t.Fatalf("held-out micro F1 %.4f, leak %.4f%%", r.Micro.F1, 100*r.Leak)
	}
}

// The same documents with their names and places removed from the
// gazetteer: only context, shape and affixes can find them.
func TestHeldOutQualityUnknownNames(t *testing.T) {
	d, err := deid.NewWithout(nil, synth.HeldOutNames())
	if err != nil {
		t.Fatal(err)
	}
	var ev deid.Evaluator
	for _, doc := range synth.Generate(synth.Options{Seed: 3, Split: synth.HeldOut, N: 300}) {
		ev.Add(doc.Entities, d.Detect(doc.Text), utf8.RuneCountInString(doc.Text))
	}
	r := ev.Report()
	if r.Micro.F1 < 0.97 || r.Leak > 0.005 {
		t.Fatalf("held-out, unknown names: micro F1 %.4f, leak %.4f%%", r.Micro.F1, 100*r.Leak)
	}
}

// Invented names in the usual places, and capitalised words that are no
// names (unknown drugs, eponyms, acronyms, headers).
func TestContexts(t *testing.T) {
	d, err := deid.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		text string
		want []string // "LABEL text", in order
	}{
		{"Patient vu par le Dr Kerbrat, adressé par Mme Zlotnicka.", []string{"NOM Kerbrat", "NOM Zlotnicka"}},
		{"Cordialement,\nYannick Le Floch\nInfirmière coordinatrice", []string{"PRENOM Yannick", "NOM Le Floch"}},
		{"Rendez-vous avec l'ergothérapeute Maëlys demain.", []string{"PRENOM Maëlys"}},
		{"Nom : TCHOUBARIAN\nPrénom : Vadimir", []string{"NOM TCHOUBARIAN", "PRENOM Vadimir"}},
		{"Relais par Zorvexa 20 mg le soir. Suivi pour une maladie de Parkinson, signe de Babinski négatif.", nil},
		{"Transport en VSL. Bonne tolérance. Score ASA 2, EVA 3/10.", nil},
		{"ÉCHOGRAPHIE TRANS-THORACIQUE\nIndication : dyspnée.", nil},
	}
	for _, c := range cases {
		var got []string
		for _, e := range d.Detect(c.text) {
			got = append(got, e.Label.String()+" "+e.Text)
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: got %q, want %q", c.text, got, c.want)
		}
	}
}

// The shared annotated sample, when present beside the repository.
func TestSampleQuality(t *testing.T) {
	var path string
	for _, p := range []string{"/work/shared/data/deid/sample.jsonl", "../../../../shared/data/deid/sample.jsonl", "../../../../../shared/data/deid/sample.jsonl"} {
		if _, err := os.Stat(p); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("shared/data/deid/sample.jsonl not found")
	}
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := deid.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ev deid.Evaluator
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var doc deid.Document
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		ev.Add(doc.Entities, d.Detect(doc.Text), utf8.RuneCountInString(doc.Text))
	}
	r := ev.Report()
	if r.Micro.F1 < 0.97 || r.Leak > 0.005 {
		t.Fatalf("sample micro F1 %.4f, leak %.4f%%", r.Micro.F1, 100*r.Leak)
	}
}
