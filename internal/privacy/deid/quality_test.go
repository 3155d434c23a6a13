package deid_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
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
