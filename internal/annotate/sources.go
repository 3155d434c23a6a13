package annotate

// Task sources: uploaded JSONL (the de-identification document format), a
// dataset version (a text column, or whole rows), clinicians' feedback on
// predictions; and pre-annotation with hygie's de-identifier.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/deid"
)

// GoldDocument is a span document in the format of the de-identification
// JSONL (docs/deid.md): code-point offsets, End exclusive; labels are
// strings so that any span schema fits (deid.Document when they are the
// de-identification labels).
type GoldDocument struct {
	ID       string `json:"id"`
	Text     string `json:"text"`
	Entities []Span `json:"entities"`
}

// MaxLine is the longest JSONL line read (a document).
const MaxLine = 16 << 20

// ReadJSONL reads documents, one JSON object per line: id, text and
// optional entities (start, end, label). Entities become suggestions of
// the model "jsonl", never answers. A "label" or "labels" field (text
// classification) becomes a suggested choice likewise. Errors give the
// line, never the content.
func ReadJSONL(r io.Reader) ([]NewTask, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	var out []NewTask
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > MaxLine {
			return nil, errs.Invalidf("line %d: longer than %d bytes", n, MaxLine)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			var d struct {
				ID       json.RawMessage `json:"id"`
				Text     *string         `json:"text"`
				Entities []Span          `json:"entities"`
				Label    string          `json:"label"`
				Labels   []string        `json:"labels"`
			}
			if jerr := json.Unmarshal(line, &d); jerr != nil {
				return nil, errs.Invalidf("line %d: not a JSON object with id, text and entities", n)
			}
			if d.Text == nil {
				return nil, errs.Invalidf("line %d: no text", n)
			}
			t := NewTask{Ref: rawID(d.ID, len(out)+1), Data: TaskData{Text: *d.Text}, Source: "jsonl"}
			var sug Result
			for _, e := range d.Entities {
				sug.Spans = append(sug.Spans, Span{Start: e.Start, End: e.End, Label: e.Label})
			}
			if d.Label != "" {
				sug.Choices = []string{d.Label}
			}
			sug.Choices = append(sug.Choices, d.Labels...)
			if len(sug.Spans) > 0 || len(sug.Choices) > 0 {
				t.Predictions = []Prediction{{Model: "jsonl", Result: sug}}
			}
			out = append(out, t)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func rawID(id json.RawMessage, n int) string {
	if len(id) == 0 || string(id) == "null" {
		return strconv.Itoa(n)
	}
	var s string
	if json.Unmarshal(id, &s) == nil {
		return s
	}
	return string(id)
}

// DatasetTasks reads a dataset version as tasks: one task per row with a
// non-empty value in column (a text column), or, with column "", one
// table-row task per row (rows projects). The acting user must be allowed
// to read the version (the dataset service checks and audits it: an
// identifying version takes a steward). References are row numbers from 1.
func (s *Service) DatasetTasks(ctx context.Context, project, name string, version int, column string) ([]NewTask, error) {
	if s.datasets == nil {
		return nil, errs.Invalidf("no dataset service")
	}
	if err := auth.Require(ctx, project, auth.PermAnnotationManage); err != nil {
		return nil, err
	}
	v, err := s.datasets.Get(ctx, project, name, version)
	if err != nil {
		return nil, err
	}
	f, err := s.datasets.ReadFrame(ctx, v)
	if err != nil {
		return nil, err
	}
	src := fmt.Sprintf("dataset:%s/%d", name, version)
	var out []NewTask
	if column != "" {
		i := f.Index(column)
		if i < 0 {
			return nil, errs.Invalidf("dataset %s version %d has no column %q", name, version, column)
		}
		for r := 0; r < f.Rows(); r++ {
			if f.Vecs[i].IsNull(r) || f.Vecs[i].String(r) == "" {
				continue
			}
			out = append(out, NewTask{Ref: strconv.Itoa(r + 1), Data: TaskData{Text: f.Vecs[i].String(r)}, Source: src})
		}
		return out, nil
	}
	for r := 0; r < f.Rows(); r++ {
		row := map[string]any{}
		for i, c := range f.Columns {
			if f.Vecs[i].IsNull(r) {
				row[c.Name] = nil
			} else {
				row[c.Name] = f.Vecs[i].String(r)
			}
		}
		out = append(out, NewTask{Ref: strconv.Itoa(r + 1), Data: TaskData{Row: row}, Source: src})
	}
	return out, nil
}

// Flagged is a prediction a clinician flagged as incorrect: its id, its
// input (a text, or the input row) and optionally the model's answer.
type Flagged struct {
	PredictionID string         `json:"prediction_id"`
	Text         string         `json:"text,omitempty"`
	Input        map[string]any `json:"input,omitempty"`
	Model        string         `json:"model,omitempty"`
	Predicted    string         `json:"predicted,omitempty"` // a label of the schema, shown as a suggestion
}

// FeedbackTasks turns flagged predictions into tasks (references
// "prediction:ID", source "feedback"); the model's answer, when given, is a
// suggestion to accept or reject.
func FeedbackTasks(fs []Flagged) []NewTask {
	out := make([]NewTask, 0, len(fs))
	for _, f := range fs {
		t := NewTask{Ref: "prediction:" + f.PredictionID, Source: "feedback", Data: TaskData{Text: f.Text, Row: f.Input}}
		if f.Input != nil {
			t.Data.Text = ""
		}
		if f.Predicted != "" {
			m := f.Model
			if m == "" {
				m = "model"
			}
			t.Predictions = []Prediction{{Model: m, Result: Result{Choices: []string{f.Predicted}}}}
		}
		out = append(out, t)
	}
	return out
}

// DeidModelName names the suggestions of hygie's de-identifier.
const DeidModelName = "hygie-deid"

// PreAnnotate runs the de-identifier on every text task and adds its
// entities as suggestions (model DeidModelName), replacing earlier ones of
// that model. For span projects on the de-identification labels.
func PreAnnotate(tasks []NewTask, d *deid.Deidentifier) {
	for i := range tasks {
		t := &tasks[i]
		if t.Data.Row != nil {
			continue
		}
		var r Result
		for _, e := range d.Detect(t.Data.Text) {
			r.Spans = append(r.Spans, Span{Start: e.Start, End: e.End, Label: e.Label.String()})
		}
		kept := t.Predictions[:0]
		for _, p := range t.Predictions {
			if p.Model != DeidModelName {
				kept = append(kept, p)
			}
		}
		t.Predictions = append(kept, Prediction{Model: DeidModelName, Result: r})
	}
}
