// Package annotate is hygie's annotation core: annotation projects with a
// label schema and versioned guidelines, tasks (texts or table rows) with
// model suggestions, balanced assignment with overlap, annotations,
// agreement statistics, adjudication into gold data, and the interchange
// formats (de-identification JSONL, Label Studio JSON, CoNLL).
//
// Clinicians annotate; the figures say how far they agree before their
// answers become training data. See docs/annotation.md.
package annotate

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/deid"
)

// Project kinds.
const (
	KindSpan           = "span"           // labelled character spans of a text
	KindClassification = "classification" // one label per text
	KindMultiLabel     = "multilabel"     // any number of labels per text
	KindRows           = "rows"           // one label per table row
)

// Kinds lists the project kinds.
var Kinds = []string{KindSpan, KindClassification, KindMultiLabel, KindRows}

// DefaultOverlap is the number of annotators each task goes to.
const DefaultOverlap = 2

// Label is an entry of the label schema.
type Label struct {
	Name     string `json:"name"`
	Color    string `json:"color"`    // #rrggbb
	Shortcut string `json:"shortcut"` // one character, unique in the schema
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// ValidateSchema checks a label schema: at least one label, names unique
// and without spaces, #rrggbb colours, single-character unique shortcuts
// (case-insensitive; empty allowed).
func ValidateSchema(labels []Label) error {
	if len(labels) == 0 {
		return errs.Invalidf("the label schema is empty")
	}
	names := map[string]bool{}
	keys := map[string]string{}
	for _, l := range labels {
		if l.Name == "" || strings.ContainsAny(l.Name, " \t\n") || len(l.Name) > 64 {
			return errs.Invalidf("label %q: a name is 1 to 64 characters without spaces", l.Name)
		}
		if names[l.Name] {
			return errs.Invalidf("label %q appears twice", l.Name)
		}
		names[l.Name] = true
		if !colorRE.MatchString(l.Color) {
			return errs.Invalidf("label %s: colour %q: want #rrggbb", l.Name, l.Color)
		}
		if l.Shortcut != "" {
			if utf8.RuneCountInString(l.Shortcut) != 1 {
				return errs.Invalidf("label %s: shortcut %q: want a single character", l.Name, l.Shortcut)
			}
			k := strings.ToLower(l.Shortcut)
			if o, ok := keys[k]; ok {
				return errs.Invalidf("labels %s and %s share the shortcut %q", o, l.Name, l.Shortcut)
			}
			keys[k] = l.Name
		}
	}
	return nil
}

// DeidSchema is the label schema of the de-identification labels
// (internal/privacy/deid), with colours and shortcuts 1–9, a, b, c, d.
func DeidSchema() []Label {
	colors := []string{"#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#800000"}
	keys := "123456789abcd"
	var out []Label
	for i, l := range deid.Labels() {
		out = append(out, Label{Name: l.String(), Color: colors[i%len(colors)], Shortcut: string(keys[i%len(keys)])})
	}
	return out
}

// Span is a labelled span of a task's text: code-point offsets, End
// exclusive, as in internal/privacy/deid.
type Span struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Label string `json:"label"`
	Text  string `json:"text,omitempty"`
}

// Result is an answer: spans (span projects) or choices (the others).
type Result struct {
	Spans   []Span   `json:"spans,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

// Validate checks r against the project's kind and schema and the task's
// text (spans: in range, non-empty, non-overlapping, labels in the schema;
// classification and rows: exactly one choice; multi-label: distinct
// choices, possibly none). It fills span texts and sorts spans.
func (p Project) Validate(r *Result, text string) error {
	in := func(l string) bool {
		return slices.ContainsFunc(p.Labels, func(x Label) bool { return x.Name == l })
	}
	switch p.Kind {
	case KindSpan:
		if len(r.Choices) > 0 {
			return errs.Invalidf("a span project takes spans, not choices")
		}
		runes := []rune(text)
		slices.SortFunc(r.Spans, func(a, b Span) int {
			if a.Start != b.Start {
				return a.Start - b.Start
			}
			return a.End - b.End
		})
		for i, s := range r.Spans {
			if !in(s.Label) {
				return errs.Invalidf("span %d–%d: label %q is not in the schema", s.Start, s.End, s.Label)
			}
			if s.Start < 0 || s.End > len(runes) || s.Start >= s.End {
				return errs.Invalidf("span %d–%d (%s): outside the text of %d characters or empty", s.Start, s.End, s.Label, len(runes))
			}
			if i > 0 && s.Start < r.Spans[i-1].End {
				q := r.Spans[i-1]
				return errs.Invalidf("spans %d–%d (%s) and %d–%d (%s) overlap", q.Start, q.End, q.Label, s.Start, s.End, s.Label)
			}
			r.Spans[i].Text = string(runes[s.Start:s.End])
		}
	default:
		if len(r.Spans) > 0 {
			return errs.Invalidf("a %s project takes choices, not spans", p.Kind)
		}
		seen := map[string]bool{}
		for _, c := range r.Choices {
			if !in(c) {
				return errs.Invalidf("choice %q is not in the schema", c)
			}
			if seen[c] {
				return errs.Invalidf("choice %q given twice", c)
			}
			seen[c] = true
		}
		if p.Kind != KindMultiLabel && len(r.Choices) != 1 {
			return errs.Invalidf("a %s project takes exactly one choice, got %d", p.Kind, len(r.Choices))
		}
	}
	return nil
}

// TaskData is what an annotator sees: a text, or a table row.
type TaskData struct {
	Text string         `json:"text,omitempty"`
	Row  map[string]any `json:"row,omitempty"`
}

// text is the task's text (for rows: the row as JSON, for display).
func (d TaskData) text() string {
	if d.Row != nil {
		b, _ := json.Marshal(d.Row)
		return string(b)
	}
	return d.Text
}

// NewTask is a task to add.
type NewTask struct {
	Ref    string   `json:"ref"` // the source's id (document id, row number, prediction id)
	Data   TaskData `json:"data"`
	Source string   `json:"source"` // jsonl, dataset:NAME/VERSION, labelstudio, feedback
	// Predictions are model suggestions, shown to annotators to accept or
	// reject, never counted as an annotation.
	Predictions []Prediction `json:"predictions,omitempty"`
	// Annotations brought from another tool (Label Studio import).
	Annotations []Imported `json:"-"`
}

// Prediction is a model's suggestion for a task.
type Prediction struct {
	Model  string `json:"model"`
	Result Result `json:"result"`
}

// Imported is an annotation brought from another tool.
type Imported struct {
	Annotator string
	Result    Result
}

func checkKind(kind string) error {
	if !slices.Contains(Kinds, kind) {
		return errs.Invalidf("kind %q: want one of %s", kind, strings.Join(Kinds, ", "))
	}
	return nil
}

func spanUnits(ss []Span) []Unit {
	out := make([]Unit, len(ss))
	for i, s := range ss {
		out[i] = Unit{Start: s.Start, End: s.End, Label: s.Label}
	}
	return out
}

func labelNames(ls []Label) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}
