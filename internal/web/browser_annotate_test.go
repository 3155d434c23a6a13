package web_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/hygie-health/hygie/internal/annotate"
)

// selectWord selects the first occurrence of word in the task's text, as
// a drag of the mouse would: a DOM range on the text node holding it.
func selectWord(word string) chromedp.Action[bool] {
	q := strconv.Quote(word)
	return chromedp.Evaluate[bool](`(function (word) {
  const el = document.getElementById('task-text');
  const w = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = w.nextNode())) {
    const i = n.data.indexOf(word);
    if (i >= 0) {
      const r = document.createRange();
      r.setStart(n, i); r.setEnd(n, i + word.length);
      const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
      return true;
    }
  }
  return false;
})(` + q + `)`)
}

// TestBrowserAnnotate drives the annotation page as a clinician would: two
// names of a note are selected and labelled by their shortcut keys, the
// de-identifier's suggestion is rejected with R, Enter submits and opens
// the next task, where a hospital name is selected with Shift and the
// arrow keys, labelled, and submitted. The stored answers have the spans
// at the right code-point offsets (the note starts with a character
// outside the Basic Multilingual Plane, two UTF-16 units in JavaScript).
func TestBrowserAnnotate(t *testing.T) {
	ctx := newBrowser(t, 60*time.Second)
	d := driver{t: t, ctx: ctx}
	step, text := d.step, d.text
	e := newAnnotEnv(t)
	texts := []string{"🏥 Patient Jean Dupont, vu le 12/03/2024 pour fièvre.", "Clinique Sud : Mme Claire Moreau, née en 1950."}
	e.spanProject("notes", "Mark every first name (PRENOM) and last name (NOM).", texts, "anna")
	q := e.queue("anna", "notes")
	if len(q) != 2 {
		t.Fatalf("queue of %d", len(q))
	}
	url := e.srv.URL
	nom, prenom, hopital := deidLabel(t, "NOM"), deidLabel(t, "PRENOM"), deidLabel(t, "HOPITAL")

	step("sign in as the annotator",
		chromedp.Navigate(url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "anna"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#project-list")),
	)
	step("open the annotation projects, then the queue",
		chromedp.Navigate(url+"/projects/sepsis/annotate"),
		chromedp.WaitVisible(chromedp.CSS("#annotation-projects")),
		chromedp.Click(chromedp.CSS(`#annotation-projects a[href="/projects/sepsis/annotate/notes"]`)),
		chromedp.WaitVisible(chromedp.CSS("#task-text")),
		chromedp.WaitVisible(chromedp.CSS(`#suggestions .ann-sugg-actions`)), // the script runs
	)
	if got := text("#task-text"); !strings.Contains(got, "Jean Dupont") {
		t.Fatalf("task text %q", got)
	}
	if got := text("#legend"); !strings.Contains(got, "NOM") || !strings.Contains(got, "PRENOM") {
		t.Errorf("legend %q", got)
	}

	mark := func(word, key string) {
		t.Helper()
		ok, err := chromedp.Run(ctx, selectWord(word))
		if err != nil || !ok {
			t.Fatalf("select %q: %v %v", word, ok, err)
		}
		step("label "+word+" with "+key, chromedp.KeyEvent(key),
			chromedp.WaitVisible(chromedp.CSS(`#task-text mark.ann[data-label="`+map[string]string{prenom.Shortcut: "PRENOM", nom.Shortcut: "NOM", hopital.Shortcut: "HOPITAL"}[key]+`"]`)))
	}
	mark("Jean", prenom.Shortcut)
	mark("Dupont", nom.Shortcut)
	// Click a span to change it, or delete it.
	step("click Jean and relabel it NOM", chromedp.Click(chromedp.CSS(`#task-text mark[data-start="10"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#task-text mark.ann.selected`)), chromedp.KeyEvent(nom.Shortcut),
		chromedp.WaitVisible(chromedp.CSS(`#span-list li[data-start="10"][data-label="NOM"]`)))
	step("and back to PRENOM", chromedp.KeyEvent(prenom.Shortcut), chromedp.WaitVisible(chromedp.CSS(`#span-list li[data-start="10"][data-label="PRENOM"]`)))
	step("click Dupont and delete it", chromedp.Click(chromedp.CSS(`#task-text mark[data-start="15"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#task-text mark.ann.selected[data-start="15"]`)), chromedp.KeyEvent(kb.Delete),
		chromedp.WaitNotPresent(chromedp.CSS(`#span-list li[data-start="15"]`)))
	mark("Dupont", nom.Shortcut)
	step("reject the suggestion", chromedp.KeyEvent("r"), chromedp.WaitVisible(chromedp.CSS(`#suggestions .ann-sugg.rejected`)))
	answer, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('answer').value`))
	if err != nil {
		t.Fatal(err)
	}
	// 🏥 is one code point: Jean starts at 10, not 11 (UTF-16).
	want := `{"spans":[{"start":10,"end":14,"label":"PRENOM"},{"start":15,"end":21,"label":"NOM"}]}`
	if answer != want {
		t.Errorf("answer %s, want %s", answer, want)
	}
	if got := text("#span-list"); !strings.Contains(got, "PRENOM “Jean” 10–14") || !strings.Contains(got, "NOM “Dupont” 15–21") {
		t.Errorf("span list %q", got)
	}
	screenshot(t, ctx, "annotate.png")

	step("submit with Enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#flash")), chromedp.WaitVisible(chromedp.CSS("#task-text")))
	got := e.answers("notes", q[0].ID)
	if len(got) != 1 || got[0].Skipped {
		t.Fatalf("stored answers %+v", got)
	}
	spans := got[0].Result.Spans
	wantSpans := []annotate.Span{{Start: 10, End: 14, Label: "PRENOM", Text: "Jean"}, {Start: 15, End: 21, Label: "NOM", Text: "Dupont"}}
	if len(spans) != 2 || spans[0] != wantSpans[0] || spans[1] != wantSpans[1] {
		t.Fatalf("stored spans %+v, want %+v", spans, wantSpans)
	}
	if r := []rune(texts[0]); string(r[spans[1].Start:spans[1].End]) != "Dupont" || utf8.RuneCountInString(texts[0][:strings.Index(texts[0], "Jean")]) != 10 {
		t.Fatalf("offsets do not match the text")
	}
	if got := text("#task-text"); !strings.Contains(got, "Claire Moreau") {
		t.Fatalf("the next task is not shown: %q", got)
	}

	// The keyboard only: Home, then Shift+→ eight times selects "Clinique".
	keys := []chromedp.Action[chromedp.Void]{chromedp.Focus(chromedp.CSS("#task-text")), chromedp.KeyEvent(kb.Home)}
	for range 8 {
		keys = append(keys, chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierShift)))
	}
	step("select with the keyboard", keys...)
	step("label it", chromedp.KeyEvent(hopital.Shortcut), chromedp.WaitVisible(chromedp.CSS(`#task-text mark.ann[data-label="HOPITAL"]`)))
	step("submit: the queue is empty", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#queue-empty")))
	got = e.answers("notes", q[1].ID)
	if len(got) != 1 || len(got[0].Result.Spans) != 1 || got[0].Result.Spans[0] != (annotate.Span{Start: 0, End: 8, Label: "HOPITAL", Text: "Clinique"}) {
		t.Fatalf("second answer %+v", got)
	}

	// A classification task: A accepts the model's suggested label, a
	// number key picks another one, Enter submits.
	actx := e.as("alice")
	labels := []annotate.Label{{Name: "sepsis", Color: "#e6194b"}, {Name: "no_sepsis", Color: "#3cb44b"}}
	if _, err := e.svc.Create(actx, annotate.Project{Project: "sepsis", Name: "triage", Kind: annotate.KindClassification, Labels: labels, Overlap: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddTasks(actx, "sepsis", "triage", []annotate.NewTask{{Ref: "n1", Data: annotate.TaskData{Text: "Fièvre à 39,5, lactates à 4."},
		Predictions: []annotate.Prediction{{Model: "sepsis-risk", Result: annotate.Result{Choices: []string{"sepsis"}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Assign(actx, "sepsis", "triage", []string{"anna"}); err != nil {
		t.Fatal(err)
	}
	tq := e.queue("anna", "triage")
	step("open the classification task", chromedp.Navigate(url+"/projects/sepsis/annotate/triage"), chromedp.WaitVisible(chromedp.CSS(`#suggestions .ann-sugg-actions`)))
	step("accept the suggestion", chromedp.KeyEvent("a"), chromedp.WaitVisible(chromedp.CSS(`#suggestions .ann-sugg.accepted`)))
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('input[name="choice"]:checked').value`)); err != nil || v != "sepsis" {
		t.Errorf("after accepting: %q %v", v, err)
	}
	step("pick the second label, submit", chromedp.KeyEvent("2"), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#queue-empty")))
	if a := e.answers("triage", tq[0].ID); len(a) != 1 || len(a[0].Result.Choices) != 1 || a[0].Result.Choices[0] != "no_sepsis" {
		t.Fatalf("classification answer %+v", a)
	}
}
