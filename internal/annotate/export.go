package annotate

// Exports: gold data as JSONL (spans: the de-identification document
// format) and as a new dataset version; CoNLL for span projects; Label
// Studio JSON both ways.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/deid"
)

// Reviews returns every task with its answers and gold (annotation.manage),
// for exports; the read is audited.
func (s *Service) Reviews(ctx context.Context, project, name string) (Project, []Review, error) {
	if err := auth.Require(ctx, project, auth.PermAnnotationManage); err != nil {
		return Project{}, nil, err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return p, nil, err
	}
	rs, err := s.reviews(ctx, p)
	if err != nil {
		return p, nil, err
	}
	return p, rs, s.audit.Append(ctx, s.event(ctx, "annotation.read", p, "", map[string]any{"tasks": len(rs)}))
}

// WriteGold writes the adjudicated tasks as JSONL, one object per line,
// in task order. Span projects: {"id", "text", "entities": [{"start",
// "end", "label", "text"}]} (the format of hygie deid train --in);
// classification and rows: {"id", "text" or "row", "label"}; multi-label:
// {"id", "text", "labels"}. It returns the number of documents.
func WriteGold(w io.Writer, p Project, rs []Review) (int, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	for _, r := range rs {
		if r.Gold == nil {
			continue
		}
		var v any
		switch p.Kind {
		case KindSpan:
			ents := r.Gold.Result.Spans
			if ents == nil {
				ents = []Span{}
			}
			v = GoldDocument{ID: r.Ref, Text: r.Data.Text, Entities: ents}
		case KindMultiLabel:
			ls := r.Gold.Result.Choices
			if ls == nil {
				ls = []string{}
			}
			v = map[string]any{"id": r.Ref, "text": r.Data.Text, "labels": ls}
		case KindRows:
			v = map[string]any{"id": r.Ref, "row": r.Data.Row, "label": first(r.Gold.Result.Choices)}
		default:
			v = map[string]any{"id": r.Ref, "text": r.Data.Text, "label": first(r.Gold.Result.Choices)}
		}
		if err := enc.Encode(v); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// DeidDocuments converts a span project's gold to de-identification
// documents; every label must be a de-identification label.
func DeidDocuments(rs []Review) ([]deid.Document, error) {
	var out []deid.Document
	for _, r := range rs {
		if r.Gold == nil {
			continue
		}
		d := deid.Document{ID: r.Ref, Text: r.Data.Text, Entities: []deid.Entity{}}
		for _, s := range r.Gold.Result.Spans {
			l, ok := deid.ParseLabel(s.Label)
			if !ok {
				return nil, errs.Invalidf("label %q is not a de-identification label", s.Label)
			}
			d.Entities = append(d.Entities, deid.Entity{Start: s.Start, End: s.End, Label: l, Text: s.Text})
		}
		out = append(out, d)
	}
	return out, nil
}

// ExportOptions describes a gold export as a dataset version.
type ExportOptions struct {
	Dataset string
	// Level is the version's privacy level; "" means identifying, the
	// safe default for clinical text (set pseudonymized when the tasks came
	// from a pseudonymized version).
	Level dataset.Level
}

// ExportDataset imports the gold JSONL (WriteGold) as a new version of a
// dataset (annotation.manage; the dataset service also checks the level:
// an identifying version takes a steward's dataset.identifying). The text
// column gets the text role; span entities are a column of JSON text.
func (s *Service) ExportDataset(ctx context.Context, project, name string, o ExportOptions) (dataset.ImportResult, int, error) {
	if s.datasets == nil {
		return dataset.ImportResult{}, 0, errs.Invalidf("no dataset service")
	}
	p, rs, err := s.Reviews(ctx, project, name)
	if err != nil {
		return dataset.ImportResult{}, 0, err
	}
	var buf bytes.Buffer
	n, err := WriteGold(&buf, p, rs)
	if err != nil {
		return dataset.ImportResult{}, 0, err
	}
	if n == 0 {
		return dataset.ImportResult{}, 0, errs.Invalidf("%s has no adjudicated task: nothing to export", name)
	}
	if o.Level == "" {
		o.Level = dataset.Identifying
	}
	if o.Dataset == "" {
		o.Dataset = strings.ReplaceAll(name, "-", "_") + "_gold"
	}
	roles := map[string]dataset.Role{}
	if p.Kind != KindRows {
		roles["text"] = dataset.RoleText
	}
	if p.Kind == KindClassification || p.Kind == KindRows {
		roles["label"] = dataset.RoleTarget
	}
	res, err := s.datasets.Import(ctx, dataset.Stream(name+"-gold.jsonl", dataset.FormatJSONL, &buf), dataset.ImportOptions{
		Project: project, Dataset: o.Dataset, Level: o.Level, Roles: roles,
	})
	if err != nil {
		return res, 0, err
	}
	return res, n, s.audit.Append(ctx, s.event(ctx, "annotation.export", p, "", map[string]any{"dataset": o.Dataset, "version": res.Version.Version, "documents": n}))
}

// Tokens splits text on white space (unicode.IsSpace): each token is a
// maximal run of other characters, with code-point offsets.
func Tokens(text string) []Span {
	var out []Span
	start := -1
	i := 0
	for _, r := range text {
		if unicode.IsSpace(r) {
			if start >= 0 {
				out = append(out, Span{Start: start, End: i})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i++
	}
	if start >= 0 {
		out = append(out, Span{Start: start, End: i})
	}
	runes := []rune(text)
	for k := range out {
		out[k].Text = string(runes[out[k].Start:out[k].End])
	}
	return out
}

// WriteCoNLL writes span gold as CoNLL: one "token<TAB>tag" line per
// white-space token, BIO tags (B-LABEL on the first token a span overlaps,
// I-LABEL on the next ones, O elsewhere; a span that cuts a token tags the
// whole token), a "# id = REF" line before each document and a blank line
// after it.
func WriteCoNLL(w io.Writer, p Project, rs []Review) (int, error) {
	if p.Kind != KindSpan {
		return 0, errs.Invalidf("CoNLL export is for span projects, %s is %s", p.Name, p.Kind)
	}
	n := 0
	for _, r := range rs {
		if r.Gold == nil {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# id = %s\n", strings.ReplaceAll(r.Ref, "\n", " "))
		spans := r.Gold.Result.Spans
		prev := -1
		for _, t := range Tokens(r.Data.Text) {
			tag := "O"
			for k, s := range spans {
				if s.Start < t.End && t.Start < s.End {
					if k == prev {
						tag = "I-" + s.Label
					} else {
						tag = "B-" + s.Label
					}
					prev = k
					break
				}
			}
			if tag == "O" {
				prev = -1
			}
			fmt.Fprintf(&b, "%s\t%s\n", t.Text, tag)
		}
		b.WriteString("\n")
		if _, err := io.WriteString(w, b.String()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Label Studio JSON (the "JSON" export of a Label Studio project): a list
// of tasks with data, annotations and predictions. Results: "labels"
// (value start, end, text, labels) for spans, "choices" (value choices)
// otherwise. Offsets are code points (Label Studio counts UTF-16 units:
// the same for every character of the Basic Multilingual Plane, which
// covers clinical French; texts with emoji would differ).

type lsTask struct {
	ID          int64           `json:"id,omitempty"`
	Data        map[string]any  `json:"data"`
	Annotations []lsAnnotation  `json:"annotations"`
	Predictions []lsAnnotation  `json:"predictions"`
	Meta        json.RawMessage `json:"meta,omitempty"`
}

type lsAnnotation struct {
	ID           int64           `json:"id,omitempty"`
	CompletedBy  json.RawMessage `json:"completed_by,omitempty"`
	ModelVersion string          `json:"model_version,omitempty"`
	WasCancelled bool            `json:"was_cancelled,omitempty"`
	Result       []lsResult      `json:"result"`
}

type lsResult struct {
	ID       string  `json:"id,omitempty"`
	FromName string  `json:"from_name"`
	ToName   string  `json:"to_name"`
	Type     string  `json:"type"`
	Value    lsValue `json:"value"`
}

type lsValue struct {
	Start   *int     `json:"start,omitempty"`
	End     *int     `json:"end,omitempty"`
	Text    string   `json:"text,omitempty"`
	Labels  []string `json:"labels,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

func toLS(r Result) []lsResult {
	out := []lsResult{}
	for i, s := range r.Spans {
		st, en := s.Start, s.End
		out = append(out, lsResult{ID: fmt.Sprintf("s%d", i+1), FromName: "label", ToName: "text", Type: "labels",
			Value: lsValue{Start: &st, End: &en, Text: s.Text, Labels: []string{s.Label}}})
	}
	if len(r.Choices) > 0 {
		out = append(out, lsResult{ID: "c1", FromName: "choice", ToName: "text", Type: "choices", Value: lsValue{Choices: r.Choices}})
	}
	return out
}

func fromLS(rs []lsResult) (Result, error) {
	var r Result
	for _, x := range rs {
		switch x.Type {
		case "labels":
			if x.Value.Start == nil || x.Value.End == nil || len(x.Value.Labels) != 1 {
				return r, errs.Invalidf("a labels result needs start, end and one label")
			}
			r.Spans = append(r.Spans, Span{Start: *x.Value.Start, End: *x.Value.End, Label: x.Value.Labels[0]})
		case "choices":
			r.Choices = append(r.Choices, x.Value.Choices...)
		default:
			return r, errs.Invalidf("result type %q: hygie reads labels and choices", x.Type)
		}
	}
	return r, nil
}

// WriteLabelStudio writes every task with its (non-skipped) annotations,
// one per annotator (completed_by: {"email": username}), and its
// suggestions as predictions (model_version: the model). Gold results are
// written as an annotation by the adjudicator with meta {"gold": true}
// on the task.
func WriteLabelStudio(w io.Writer, p Project, rs []Review) error {
	out := make([]lsTask, 0, len(rs))
	for _, r := range rs {
		t := lsTask{ID: r.ID, Data: map[string]any{}, Annotations: []lsAnnotation{}, Predictions: []lsAnnotation{}}
		if r.Data.Row != nil {
			for k, v := range r.Data.Row {
				t.Data[k] = v
			}
		} else {
			t.Data["text"] = r.Data.Text
		}
		t.Data["ref"] = r.Ref
		for _, a := range r.Annotations {
			if a.Skipped {
				continue
			}
			by, _ := json.Marshal(map[string]string{"email": a.Annotator})
			t.Annotations = append(t.Annotations, lsAnnotation{CompletedBy: by, Result: toLS(a.Result)})
		}
		for _, pr := range r.Predictions {
			t.Predictions = append(t.Predictions, lsAnnotation{ModelVersion: pr.Model, Result: toLS(pr.Result)})
		}
		if r.Gold != nil {
			t.Meta, _ = json.Marshal(map[string]any{"gold": toLS(r.Gold.Result), "adjudicator": r.Gold.Adjudicator})
		}
		out = append(out, t)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ReadLabelStudio reads a Label Studio JSON export as tasks: data.text (or
// for rows projects, the whole data object; "ref" names the task, else the
// Label Studio id), annotations as their author's answers (completed_by:
// an object's email or username, a string, or a number read as
// "labelstudio-user-N"; cancelled annotations are left out), predictions
// as suggestions. Validation against the schema happens in AddTasks.
func ReadLabelStudio(r io.Reader, kind string) ([]NewTask, error) {
	var in []lsTask
	dec := json.NewDecoder(r)
	if err := dec.Decode(&in); err != nil {
		return nil, errs.Invalidf("not a Label Studio JSON export (a list of tasks): %v", err)
	}
	out := make([]NewTask, 0, len(in))
	for i, t := range in {
		nt := NewTask{Source: "labelstudio"}
		if ref, ok := t.Data["ref"].(string); ok && ref != "" {
			nt.Ref = ref
		} else if t.ID != 0 {
			nt.Ref = fmt.Sprint(t.ID)
		} else {
			nt.Ref = fmt.Sprint(i + 1)
		}
		if kind == KindRows {
			nt.Data.Row = map[string]any{}
			for k, v := range t.Data {
				if k != "ref" {
					nt.Data.Row[k] = v
				}
			}
		} else {
			txt, ok := t.Data["text"].(string)
			if !ok {
				return nil, errs.Invalidf("task %d: data has no text", i+1)
			}
			nt.Data.Text = txt
		}
		for _, a := range t.Annotations {
			if a.WasCancelled {
				continue
			}
			res, err := fromLS(a.Result)
			if err != nil {
				return nil, errs.Invalidf("task %d: %s", i+1, errs.MessageOf(err))
			}
			who := lsUser(a.CompletedBy)
			if who == "" {
				return nil, errs.Invalidf("task %d: an annotation has no completed_by", i+1)
			}
			if slices.ContainsFunc(nt.Annotations, func(x Imported) bool { return x.Annotator == who }) {
				return nil, errs.Invalidf("task %d: two annotations by %s", i+1, who)
			}
			nt.Annotations = append(nt.Annotations, Imported{Annotator: who, Result: res})
		}
		for _, pr := range t.Predictions {
			res, err := fromLS(pr.Result)
			if err != nil {
				return nil, errs.Invalidf("task %d: prediction: %s", i+1, errs.MessageOf(err))
			}
			m := pr.ModelVersion
			if m == "" {
				m = "labelstudio"
			}
			nt.Predictions = append(nt.Predictions, Prediction{Model: m, Result: res})
		}
		out = append(out, nt)
	}
	return out, nil
}

func lsUser(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return fmt.Sprintf("labelstudio-user-%d", n)
	}
	var o struct {
		Email    string `json:"email"`
		Username string `json:"username"`
		ID       int64  `json:"id"`
	}
	if json.Unmarshal(raw, &o) == nil {
		switch {
		case o.Email != "":
			return o.Email
		case o.Username != "":
			return o.Username
		case o.ID != 0:
			return fmt.Sprintf("labelstudio-user-%d", o.ID)
		}
	}
	return ""
}

// LabelStudioConfig is the Label Studio labeling configuration (XML) of a
// project: the schema with colours and hotkeys, so that an exported
// project opens in Label Studio as it was in hygie. from_name/to_name
// match WriteLabelStudio's results ("label" or "choice", "text").
func LabelStudioConfig(p Project) string {
	var b strings.Builder
	esc := func(s string) string {
		var x bytes.Buffer
		_ = xml.EscapeText(&x, []byte(s))
		return strings.ReplaceAll(x.String(), `"`, "&#34;")
	}
	b.WriteString("<View>\n")
	switch p.Kind {
	case KindSpan:
		b.WriteString(`  <Labels name="label" toName="text">` + "\n")
		for _, l := range p.Labels {
			fmt.Fprintf(&b, `    <Label value="%s" background="%s"`, esc(l.Name), esc(l.Color))
			if l.Shortcut != "" {
				fmt.Fprintf(&b, ` hotkey="%s"`, esc(l.Shortcut))
			}
			b.WriteString("/>\n")
		}
		b.WriteString("  </Labels>\n")
		b.WriteString(`  <Text name="text" value="$text"/>` + "\n")
	default:
		if p.Kind == KindRows {
			b.WriteString(`  <Text name="text" value="$ref"/>` + "\n")
		} else {
			b.WriteString(`  <Text name="text" value="$text"/>` + "\n")
		}
		choice := "single"
		if p.Kind == KindMultiLabel {
			choice = "multiple"
		}
		fmt.Fprintf(&b, `  <Choices name="choice" toName="text" choice="%s">`+"\n", choice)
		for _, l := range p.Labels {
			fmt.Fprintf(&b, `    <Choice value="%s"`, esc(l.Name))
			if l.Shortcut != "" {
				fmt.Fprintf(&b, ` hotkey="%s"`, esc(l.Shortcut))
			}
			b.WriteString("/>\n")
		}
		b.WriteString("  </Choices>\n")
	}
	b.WriteString("</View>\n")
	return b.String()
}
