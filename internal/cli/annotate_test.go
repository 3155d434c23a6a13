package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/privacy/deid"
)

// annSpan is a span of sub in text, in code points.
func annSpan(text, sub, label string) map[string]any {
	i := strings.Index(text, sub)
	s := utf8.RuneCountInString(text[:i])
	return map[string]any{"start": s, "end": s + utf8.RuneCountInString(sub), "label": label}
}

func writeJSONL(t *testing.T, path string, lines ...any) {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		j, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAnnotateEndToEnd: a span project on the de-identification labels,
// JSONL import with the de-identifier's suggestions, two annotators
// submitting from files, agreement, adjudication, gold exports (JSONL read
// back as de-identification documents, CoNLL, dataset version) and a Label
// Studio round trip.
func TestAnnotateEndToEnd(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	env := map[string]string{"HYGIE_DATA": data, "HYGIE_LOG_LEVEL": "error"}
	texts := map[string]string{
		"d1": "Nom : LEROY  Prénom : Nicolas\nDate : 08/04/2019",
		"d2": "Patiente MARTIN Julie, née le 12/03/1950, vue à Lyon.",
		"d3": "Hôpital Édouard Herriot, tél 04 72 11 22 33.",
	}
	var docs []any
	for _, id := range []string{"d1", "d2", "d3"} {
		docs = append(docs, map[string]any{"id": id, "text": texts[id]})
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	writeJSONL(t, p("docs.jsonl"), docs...)
	os.WriteFile(p("guide.md"), []byte("# Guide\nMark every name.\n"), 0o600)
	sp := func(id, sub, label string) map[string]any { return annSpan(texts[id], sub, label) }
	writeJSONL(t, p("ann.jsonl"),
		map[string]any{"ref": "d1", "spans": []any{sp("d1", "LEROY", "NOM"), sp("d1", "Nicolas", "PRENOM"), sp("d1", "08/04/2019", "DATE")}},
		map[string]any{"ref": "d2", "spans": []any{sp("d2", "MARTIN", "NOM"), sp("d2", "Julie", "PRENOM"), sp("d2", "12/03/1950", "DATE_NAISSANCE"), sp("d2", "Lyon", "VILLE")}},
		map[string]any{"ref": "d3", "spans": []any{sp("d3", "Hôpital Édouard Herriot", "HOPITAL"), sp("d3", "04 72 11 22 33", "TEL")}},
	)
	writeJSONL(t, p("bob.jsonl"),
		map[string]any{"ref": "d1", "spans": []any{sp("d1", "LEROY", "NOM"), sp("d1", "Nicolas", "PRENOM"), sp("d1", "08/04/2019", "DATE")}},
		map[string]any{"ref": "d2", "spans": []any{sp("d2", "MARTIN Julie", "NOM"), sp("d2", "12/03/1950", "DATE")}},
		map[string]any{"ref": "d3", "skip": "unsure whether the hospital counts"},
	)
	writeJSONL(t, p("bad.jsonl"), map[string]any{"ref": "d1", "spans": []any{sp("d1", "LEROY", "NOM"), map[string]any{"start": 8, "end": 12, "label": "NOM"}}})
	writeJSONL(t, p("gold.jsonl"),
		map[string]any{"ref": "d2", "spans": []any{sp("d2", "MARTIN", "NOM"), sp("d2", "Julie", "PRENOM"), sp("d2", "12/03/1950", "DATE_NAISSANCE"), sp("d2", "Lyon", "VILLE")}},
	)
	steps := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"migrate"}, 0, ""},
		{[]string{"user", "create", "marc"}, 0, ""},
		{[]string{"user", "create", "ann"}, 0, ""},
		{[]string{"user", "create", "bob"}, 0, ""},
		{[]string{"user", "create", "claire"}, 0, ""},
		{[]string{"user", "create", "sophie"}, 0, ""},
		{[]string{"project", "create", "notes"}, 0, ""},
		{[]string{"grant", "notes", "marc", "scientist"}, 0, ""},
		{[]string{"grant", "notes", "ann", "annotator"}, 0, ""},
		{[]string{"grant", "notes", "bob", "annotator"}, 0, ""},
		{[]string{"grant", "notes", "claire", "clinician-validator"}, 0, ""},
		{[]string{"grant", "notes", "sophie", "steward"}, 0, ""},
		{[]string{"grant", "notes", "sophie", "scientist"}, 0, ""},
		{[]string{"annotate", "create", "deid-notes", "-p", "notes", "--as", "ann", "--labels", "deid"}, 1, ""},
		{[]string{"annotate", "create", "deid-notes", "-p", "notes", "--as", "marc"}, 2, ""},
		{[]string{"annotate", "create", "deid-notes", "-p", "notes", "--as", "marc", "--kind", "span", "--labels", "deid", "--guidelines", p("guide.md")}, 0, "created annotation project deid-notes (span, 13 labels, overlap 2)"},
		{[]string{"annotate", "import", "deid-notes", "-p", "notes", "--as", "marc", "--in", p("docs.jsonl"), "--preannotate", "deid"}, 0, "added 3 tasks"},
		{[]string{"annotate", "assign", "deid-notes", "-p", "notes", "--as", "marc", "--to", "ann,bob"}, 0, "assigned 6 tasks"},
		{[]string{"annotate", "queue", "deid-notes", "-p", "notes", "--as", "ann"}, 0, "3 tasks waiting"},
		{[]string{"annotate", "queue", "deid-notes", "-p", "notes", "--as", "claire"}, 1, ""},
		{[]string{"annotate", "submit", "deid-notes", "-p", "notes", "--as", "ann", "--in", p("bad.jsonl")}, 1, ""},
		{[]string{"annotate", "submit", "deid-notes", "-p", "notes", "--as", "ann", "--in", p("ann.jsonl")}, 0, "submitted 3 answers"},
		{[]string{"annotate", "submit", "deid-notes", "-p", "notes", "--as", "bob", "--in", p("bob.jsonl")}, 0, "submitted 3 answers"},
		{[]string{"annotate", "queue", "deid-notes", "-p", "notes", "--as", "ann"}, 0, "0 tasks waiting"},
		{[]string{"annotate", "progress", "deid-notes", "-p", "notes", "--as", "marc"}, 0, "3 tasks: 3 assigned, 3 complete, 0 adjudicated"},
		{[]string{"annotate", "agreement", "deid-notes", "-p", "notes", "--as", "marc"}, 0, "0.667"},
		{[]string{"annotate", "agreement", "deid-notes", "-p", "notes", "--as", "ann"}, 1, ""},
		{[]string{"annotate", "adjudicate", "deid-notes", "-p", "notes", "--as", "ann", "--pick", "ann"}, 1, ""},
		{[]string{"annotate", "adjudicate", "deid-notes", "-p", "notes", "--as", "claire"}, 0, "3 tasks awaiting adjudication"},
		{[]string{"annotate", "adjudicate", "deid-notes", "-p", "notes", "--as", "claire", "--in", p("gold.jsonl")}, 0, "adjudicated 1 tasks"},
		{[]string{"annotate", "adjudicate", "deid-notes", "-p", "notes", "--as", "claire", "--pick", "ann"}, 0, "adjudicated 2 tasks"},
		{[]string{"annotate", "submit", "deid-notes", "-p", "notes", "--as", "bob", "--in", p("bob.jsonl")}, 1, ""},
		{[]string{"annotate", "export", "deid-notes", "-p", "notes", "--as", "marc", "--out", p("out-gold.jsonl")}, 0, ""},
		{[]string{"annotate", "export", "deid-notes", "-p", "notes", "--as", "marc", "--format", "conll"}, 0, "LEROY\tB-NOM\n"},
		{[]string{"annotate", "export", "deid-notes", "-p", "notes", "--as", "marc", "--dataset", "notes_gold"}, 1, ""},
		{[]string{"annotate", "export", "deid-notes", "-p", "notes", "--as", "sophie", "--dataset", "notes_gold"}, 0, "saved 3 gold documents as notes_gold@1 (identifying)"},
		{[]string{"annotate", "labelstudio-export", "deid-notes", "-p", "notes", "--as", "marc", "--out", p("ls.json"), "--config", p("config.xml")}, 0, ""},
		{[]string{"annotate", "create", "ls-copy", "-p", "notes", "--as", "marc", "--labels", "deid"}, 0, ""},
		{[]string{"annotate", "labelstudio-import", "ls-copy", "-p", "notes", "--as", "marc", "--in", p("ls.json")}, 0, "added 3 tasks (0 already there, 5 annotations imported)"},
		// The gold version retrains the de-identifier through a job; it is
		// identifying text, so the steward runs it.
		{[]string{"deid", "train", "-p", "notes", "--as", "marc", "--dataset", "notes_gold@1", "--synthetic", "40", "--epochs", "1"}, 1, ""},
		{[]string{"deid", "train", "-p", "notes", "--as", "sophie", "--dataset", "notes_gold@1", "--synthetic", "40", "--epochs", "1"}, 0, "span precision"},
	}
	for _, s := range steps {
		code, out, errOut := run(t, env, "", s.args...)
		if code != s.code || !strings.Contains(out, s.out) {
			t.Fatalf("hygie %s = %d\nstdout: %s\nstderr: %s\nwant code %d and %q", strings.Join(s.args, " "), code, out, errOut, s.code, s.out)
		}
	}
	f, err := os.Open(p("out-gold.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gold, err := deid.ReadDocuments(f, "gold", 1<<20)
	if err != nil || len(gold) != 3 {
		t.Fatalf("gold: %v %v", gold, err)
	}
	if gold[1].ID != "d2" || len(gold[1].Entities) != 4 || gold[1].Entities[3].Text != "Lyon" || gold[2].Entities[1].Label != deid.Tel {
		t.Fatalf("gold documents: %+v", gold)
	}
	// The de-identifier's suggestions were stored and exported as predictions.
	b, _ := os.ReadFile(p("ls.json"))
	if !strings.Contains(string(b), `"model_version": "hygie-deid"`) {
		t.Fatalf("label studio export has no suggestions:\n%.2000s", b)
	}
}

// TestAnnotateClassificationFromDataset: tasks from a dataset version's text
// column, single-choice answers, gold saved as a pseudonymized version.
func TestAnnotateClassificationFromDataset(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	env := map[string]string{"HYGIE_DATA": data, "HYGIE_LOG_LEVEL": "error"}
	p := func(name string) string { return filepath.Join(dir, name) }
	os.WriteFile(p("notes.csv"), []byte("num,note\n1,Patient stable ce matin\n2,Fièvre à 39 depuis hier\n3,\n"), 0o600)
	os.WriteFile(p("labels.json"), []byte(`[{"name": "stable", "color": "#00aa00", "shortcut": "s"}, {"name": "alert", "color": "#aa0000", "shortcut": "a"}]`), 0o600)
	writeJSONL(t, p("ann.jsonl"), map[string]any{"ref": "1", "choices": []string{"stable"}}, map[string]any{"ref": "2", "choices": []string{"alert"}},
		map[string]any{"ref": "prediction:ab12", "choices": []string{"alert"}})
	os.WriteFile(p("flagged.json"), []byte(`[{"prediction_id": "ab12", "text": "Douleur thoracique", "model": "triage", "predicted": "stable"}]`), 0o600)
	writeJSONL(t, p("two.jsonl"), map[string]any{"ref": "1", "choices": []string{"stable", "alert"}})
	steps := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"migrate"}, 0, ""},
		{[]string{"user", "create", "marc"}, 0, ""},
		{[]string{"user", "create", "ann"}, 0, ""},
		{[]string{"user", "create", "claire"}, 0, ""},
		{[]string{"project", "create", "notes"}, 0, ""},
		{[]string{"grant", "notes", "marc", "scientist"}, 0, ""},
		{[]string{"grant", "notes", "ann", "annotator"}, 0, ""},
		{[]string{"grant", "notes", "claire", "clinician-validator"}, 0, ""},
		{[]string{"dataset", "import", p("notes.csv"), "--name", "notes_csv", "-p", "notes", "--level", "pseudonymized", "--as", "marc"}, 0, ""},
		{[]string{"annotate", "create", "triage", "-p", "notes", "--as", "marc", "--kind", "classification", "--labels", p("labels.json"), "--overlap", "1"}, 0, "overlap 1"},
		{[]string{"annotate", "import", "triage", "-p", "notes", "--as", "marc", "--dataset", "notes_csv", "--column", "nope"}, 1, ""},
		{[]string{"annotate", "import", "triage", "-p", "notes", "--as", "marc", "--dataset", "notes_csv", "--column", "note"}, 0, "added 2 tasks"},
		{[]string{"annotate", "import", "triage", "-p", "notes", "--as", "marc", "--dataset", "notes_csv@1", "--column", "note"}, 0, "added 0 tasks (2 already there"},
		{[]string{"annotate", "import", "triage", "-p", "notes", "--as", "marc", "--feedback", p("flagged.json"), "--in", p("ann.jsonl")}, 2, ""},
		{[]string{"annotate", "import", "triage", "-p", "notes", "--as", "marc", "--feedback", p("flagged.json")}, 0, "added 1 tasks"},
		{[]string{"annotate", "assign", "triage", "-p", "notes", "--as", "marc", "--to", "ann"}, 0, "assigned 3 tasks"},
		{[]string{"annotate", "submit", "triage", "-p", "notes", "--as", "ann", "--in", p("two.jsonl")}, 1, ""},
		{[]string{"annotate", "submit", "triage", "-p", "notes", "--as", "ann", "--in", p("ann.jsonl")}, 0, "submitted 3 answers"},
		{[]string{"annotate", "agreement", "triage", "-p", "notes", "--as", "marc"}, 0, "0 items with two or more answers"},
		{[]string{"annotate", "adjudicate", "triage", "-p", "notes", "--as", "claire", "--pick", "ann"}, 0, "adjudicated 3 tasks"},
		{[]string{"annotate", "export", "triage", "-p", "notes", "--as", "marc", "--dataset", "triage_gold", "--level", "pseudonymized"}, 0, "saved 3 gold documents as triage_gold@1 (pseudonymized)"},
		{[]string{"annotate", "export", "triage", "-p", "notes", "--as", "marc"}, 0, `{"id":"2","label":"alert","text":"Fièvre à 39 depuis hier"}`},
		{[]string{"annotate", "export", "triage", "-p", "notes", "--as", "marc", "--format", "conll"}, 1, ""},
	}
	for _, s := range steps {
		code, out, errOut := run(t, env, "", s.args...)
		if code != s.code || !strings.Contains(out, s.out) {
			t.Fatalf("hygie %s = %d\nstdout: %s\nstderr: %s\nwant code %d and %q", strings.Join(s.args, " "), code, out, errOut, s.code, s.out)
		}
	}
}
