package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/privacy/deid"
	"github.com/hygie-health/hygie/internal/privacy/deid/synth"
)

// The de-identification sequence labeller's training job.
const (
	DeidJobCommand     = "deid-train-job"
	DeidModelArtifact  = "model/deid.bin.gz"
	DeidReportArtifact = "evaluation/deid_report.json"
)

// DeidSpec is a training job of the de-identifier's statistical layer: the
// synthetic corpus of a recipe plus annotated documents (JSONL files that
// must be readable where the job runs), evaluated on gold documents.
type DeidSpec struct {
	Project string `json:"project"`
	In      string `json:"in,omitempty"`      // annotated JSONL added to the training corpus
	Dataset string `json:"dataset,omitempty"` // or a gold dataset version NAME@V (id, text, entities), read through the API
	Eval    string `json:"eval,omitempty"`    // gold JSONL to evaluate on ("" → the synthetic held-out corpus)
	Docs    int    `json:"docs"`              // synthetic training documents
	Epochs  int    `json:"epochs"`
	Seed    uint64 `json:"seed"`
}

// heldOutDocs is the size of the synthetic evaluation corpus.
const heldOutDocs = 300

// Check validates the spec and that its files can be read.
func (s *DeidSpec) Check() error {
	if s.Docs < 0 || s.Epochs < 1 || s.Epochs > 100 {
		return errs.Invalidf("de-identification training: docs must be ≥ 0 and epochs in [1, 100]")
	}
	if s.In != "" && s.Dataset != "" {
		return errs.Invalidf("de-identification training: give annotated documents as a file or a dataset version, not both")
	}
	if s.Dataset != "" {
		if _, _, err := ParseRef(s.Dataset); err != nil {
			return err
		}
	}
	if s.Docs == 0 && s.In == "" && s.Dataset == "" {
		return errs.Invalidf("de-identification training: nothing to train on (no synthetic documents and no --in)")
	}
	for _, p := range []string{s.In, s.Eval} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return errs.Invalidf("de-identification training: cannot read %s", p)
		}
	}
	return nil
}

func readDocFile(path string) ([]deid.Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return deid.ReadDocuments(f, path, 64<<20)
}

// RunDeidJob trains the sequence labeller, evaluates it on gold documents
// and records the run through the MLflow API: parameters, mislabelled
// segments per epoch (metric series), span precision/recall/F1 micro and
// per label, the leak and over-masking rates, the model and the report.
func RunDeidJob(ctx context.Context, spec DeidSpec, log io.Writer) (*deid.Report, error) {
	rm, err := RemoteFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	if err := spec.Check(); err != nil {
		return nil, err
	}
	var extra, gold []deid.Document
	switch {
	case spec.In != "":
		if extra, err = readDocFile(spec.In); err != nil {
			return nil, err
		}
	case spec.Dataset != "":
		if extra, err = rm.goldDocuments(spec.Project, spec.Dataset); err != nil {
			return nil, fmt.Errorf("reading %s: %w", spec.Dataset, err)
		}
	}
	r := synth.DefaultRecipe
	r.Docs, r.Epochs, r.Seed = spec.Docs, spec.Epochs, spec.Seed
	evalName := "synthetic held-out corpus"
	if spec.Eval != "" {
		if gold, err = readDocFile(spec.Eval); err != nil {
			return nil, err
		}
		evalName = spec.Eval
	} else {
		gold = synth.Generate(synth.Options{Seed: r.Seed, Split: synth.HeldOut, N: heldOutDocs})
	}
	if err := rm.LogParams(map[string]string{"kind": "deid_sequence_labeller", "synthetic_documents": strconv.Itoa(r.Docs),
		"annotated_documents": strconv.Itoa(len(extra)), "annotated_dataset": spec.Dataset, "epochs": strconv.Itoa(r.Epochs), "seed": strconv.FormatUint(r.Seed, 10),
		"evaluation": evalName, "evaluation_documents": strconv.Itoa(len(gold))}); err != nil {
		return nil, fmt.Errorf("logging parameters: %w", err)
	}
	fmt.Fprintf(log, "training the de-identifier on %d synthetic + %d annotated documents, %d epochs\n", r.Docs, len(extra), r.Epochs)
	var perEpoch []Metric
	m, err := synth.TrainModel(r, extra, func(ep, mistakes, segs int) {
		fmt.Fprintf(log, "epoch %d: %d of %d segments mislabelled\n", ep, mistakes, segs)
		perEpoch = append(perEpoch, Metric{Key: "train_mislabelled_segments", Value: float64(mistakes), Step: int64(ep)})
	})
	if err != nil {
		return nil, err
	}
	d, err := deid.New(m)
	if err != nil {
		return nil, err
	}
	var ev deid.Evaluator
	for _, g := range gold {
		ev.Add(g.Entities, d.Detect(g.Text), utf8.RuneCountInString(g.Text))
	}
	rep := ev.Report()
	ms := append(perEpoch,
		Metric{Key: "span_precision", Value: rep.Micro.Precision}, Metric{Key: "span_recall", Value: rep.Micro.Recall},
		Metric{Key: "span_f1", Value: rep.Micro.F1}, Metric{Key: "leak", Value: rep.Leak}, Metric{Key: "over_mask", Value: rep.OverMask},
		Metric{Key: "model_features", Value: float64(m.Features())})
	labels := make([]string, 0, len(rep.Labels))
	for l := range rep.Labels {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		ms = append(ms, Metric{Key: "span_f1_" + l, Value: rep.Labels[l].F1})
	}
	if err := rm.LogMetrics(ms); err != nil {
		return nil, fmt.Errorf("logging metrics: %w", err)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return nil, err
	}
	if err := rm.PutArtifact(DeidModelArtifact, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("saving the model: %w", err)
	}
	rb, _ := json.MarshalIndent(rep, "", "  ")
	if err := rm.PutArtifact(DeidReportArtifact, rb); err != nil {
		return nil, fmt.Errorf("saving the report: %w", err)
	}
	fmt.Fprintf(log, "on %s (%d documents): span precision %.4f, recall %.4f, F1 %.4f; leak %.4f%%, over-masking %.4f%%\n",
		evalName, len(gold), rep.Micro.Precision, rep.Micro.Recall, rep.Micro.F1, 100*rep.Leak, 100*rep.OverMask)
	return &rep, nil
}

// SubmitDeid checks spec and submits the training job (`exe
// deid-train-job --spec JSON`); the principal needs run.write.
func SubmitDeid(ctx context.Context, js *jobs.Service, exe string, spec DeidSpec, req jobs.Request) (jobs.Job, error) {
	if err := auth.Require(ctx, spec.Project, auth.PermRunWrite); err != nil {
		return jobs.Job{}, err
	}
	if err := spec.Check(); err != nil {
		return jobs.Job{}, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return jobs.Job{}, err
	}
	req.Project = spec.Project
	req.Command = []string{exe, DeidJobCommand, "--spec", string(b)}
	return js.Submit(ctx, req)
}

// goldDocuments reads a gold dataset version (the annotation export: id,
// text, entities) through the API as annotated documents. The version is
// usually identifying: the job's user needs the right to read it.
func (r *Remote) goldDocuments(project, ref string) ([]deid.Document, error) {
	name, ver, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := r.do("GET", fmt.Sprintf("/api/v1/projects/%s/datasets/%s/versions/%d/content?format=jsonl", url.PathEscape(project), url.PathEscape(name), ver), nil, "", &buf); err != nil {
		return nil, err
	}
	var docs []deid.Document
	dec := json.NewDecoder(&buf)
	for n := 1; dec.More(); n++ {
		var row struct {
			ID       any             `json:"id"`
			Text     string          `json:"text"`
			Entities json.RawMessage `json:"entities"`
		}
		if err := dec.Decode(&row); err != nil {
			return nil, errs.Invalidf("%s row %d: %v", ref, n, err)
		}
		raw := row.Entities
		var asText string
		if json.Unmarshal(raw, &asText) == nil { // stored as a JSON text column
			raw = json.RawMessage(asText)
		}
		var ents []deid.Entity
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &ents); err != nil {
				return nil, errs.Invalidf("%s row %d: the entities column is not a list of spans", ref, n)
			}
		}
		cps := utf8.RuneCountInString(row.Text)
		for _, e := range ents {
			if e.Start < 0 || e.End > cps || e.Start >= e.End {
				return nil, errs.Invalidf("%s row %d: entity offsets outside the text", ref, n)
			}
		}
		docs = append(docs, deid.Document{ID: fmt.Sprint(row.ID), Text: row.Text, Entities: ents})
	}
	if len(docs) == 0 {
		return nil, errs.Invalidf("%s has no documents", ref)
	}
	return docs, nil
}
