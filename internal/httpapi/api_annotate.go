package httpapi

// Annotation projects: creation, task import, assignment, the annotator's
// queue, submissions, adjudication, agreement and exports. The service
// checks every permission again and audits; these handlers only translate.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/deid"
)

type annotation struct {
	svc      *annotate.Service
	deidOnce sync.Once
	deid     *deid.Deidentifier
	deidErr  error
}

// AddAnnotationAPI registers the annotation routes.
func (s *Server) AddAnnotationAPI(svc *annotate.Service) {
	a := &annotation{svc: svc}
	const tag = "annotation"
	const base = "/api/v1/projects/{project}/annotation"
	const one = base + "/{name}"
	const task = one + "/tasks/{task}"
	s.Add(
		Route{Method: "GET", Pattern: base, Summary: "Annotation projects of a project", Tag: tag, Scope: Project, Perm: auth.PermProjectRead, Handler: a.list},
		Route{Method: "POST", Pattern: base, Summary: `Create an annotation project (body: {"name", "kind": span|classification|multilabel|rows, "labels": [{"name", "color", "shortcut"}], "guidelines", "overlap"}; "labels": "deid" for the de-identification labels)`, Tag: tag, Scope: Project, Perm: auth.PermAnnotationManage, Handler: a.create},
		Route{Method: "GET", Pattern: one, Summary: "An annotation project: label schema and guidelines", Tag: tag, Scope: Project, Perm: auth.PermProjectRead, Handler: a.get},
		Route{Method: "PUT", Pattern: one + "/guidelines", Summary: "Replace the guidelines (body: Markdown); bumps their version", Tag: tag, Scope: Project, Perm: auth.PermAnnotationManage, Handler: a.guidelines},
		Route{Method: "POST", Pattern: one + "/tasks", Summary: `Import tasks: ?format=jsonl (id, text, entities), labelstudio (JSON export), dataset (body {"dataset", "version", "column"}) or feedback (body [{"prediction_id", "text" or "input", "model", "predicted"}]: predictions flagged incorrect); ?preannotate=deid adds the de-identifier's suggestions`, Tag: tag, Scope: Project, Perm: auth.PermAnnotationManage, Handler: a.importTasks},
		Route{Method: "POST", Pattern: one + "/assign", Summary: `Assign tasks to annotators, overlap N, balanced (body: {"annotators": [...]})`, Tag: tag, Scope: Project, Perm: auth.PermAnnotationManage, Handler: a.assign},
		Route{Method: "GET", Pattern: one + "/queue", Summary: "The caller's unfinished assigned tasks, with guidelines and suggestions", Tag: tag, Scope: Project, Perm: auth.PermAnnotationWrite, Handler: a.queue},
		Route{Method: "POST", Pattern: task + "/submit", Summary: `Submit an answer (body: {"spans": [{"start", "end", "label"}]} or {"choices": [...]})`, Tag: tag, Scope: Project, Perm: auth.PermAnnotationWrite, Handler: a.submit},
		Route{Method: "POST", Pattern: task + "/skip", Summary: `Skip a task (body: {"reason"})`, Tag: tag, Scope: Project, Perm: auth.PermAnnotationWrite, Handler: a.skip},
		Route{Method: "GET", Pattern: one + "/adjudication", Summary: "Tasks awaiting adjudication, with every answer side by side", Tag: tag, Scope: Project, Perm: auth.PermAnnotationAdjudicate, Handler: a.forAdjudication},
		Route{Method: "POST", Pattern: task + "/adjudicate", Summary: "Record a task's gold result (body: a result, picked or edited)", Tag: tag, Scope: Project, Perm: auth.PermAnnotationAdjudicate, Handler: a.adjudicate},
		Route{Method: "GET", Pattern: one + "/progress", Summary: "Progress per annotator and for the project", Tag: tag, Scope: Project, Perm: auth.PermAnnotationManage, Handler: a.progress},
		Route{Method: "GET", Pattern: one + "/agreement", Summary: "Agreement report: Cohen, Fleiss, Krippendorff; span F1 and unitizing alpha; warnings", Tag: tag, Scope: Project, Perm: auth.PermAnnotationManage, Handler: a.agreement},
		Route{Method: "GET", Pattern: one + "/export", Summary: "Export: ?format=jsonl (gold), conll (gold, span projects) or labelstudio (everything)", Tag: tag, Scope: Project, Perm: auth.PermAnnotationManage, Handler: a.export},
		Route{Method: "POST", Pattern: one + "/export/dataset", Summary: `Save the gold data as a new dataset version (body: {"dataset", "level"}; level defaults to identifying)`, Tag: tag, Scope: Project, Perm: auth.PermAnnotationManage, Handler: a.exportDataset},
	)
}

func (a *annotation) list(w http.ResponseWriter, r *http.Request) error {
	ps, err := a.svc.List(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"projects": ps})
}

func (a *annotation) create(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name       string          `json:"name"`
		Kind       string          `json:"kind"`
		Labels     json.RawMessage `json:"labels"`
		Guidelines string          `json:"guidelines"`
		Overlap    int             `json:"overlap"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	p := annotate.Project{Project: r.PathValue("project"), Name: in.Name, Kind: in.Kind, Guidelines: in.Guidelines, Overlap: in.Overlap}
	if string(bytes.TrimSpace(in.Labels)) == `"deid"` {
		p.Labels = annotate.DeidSchema()
	} else if err := json.Unmarshal(in.Labels, &p.Labels); err != nil {
		return errs.Invalidf("labels: want a list of {name, color, shortcut} or \"deid\"")
	}
	p, err := a.svc.Create(r.Context(), p)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, p)
}

func (a *annotation) get(w http.ResponseWriter, r *http.Request) error {
	p, err := a.svc.Get(r.Context(), r.PathValue("project"), r.PathValue("name"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, p)
}

func (a *annotation) guidelines(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	p, err := a.svc.SetGuidelines(r.Context(), r.PathValue("project"), r.PathValue("name"), string(b))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, p)
}

func (a *annotation) importTasks(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	p, err := a.svc.Get(ctx, project, name)
	if err != nil {
		return err
	}
	var tasks []annotate.NewTask
	switch f := r.URL.Query().Get("format"); f {
	case "", "jsonl":
		b, err := readBody(r)
		if err != nil {
			return err
		}
		tasks, err = annotate.ReadJSONL(bytes.NewReader(b))
		if err != nil {
			return err
		}
	case "labelstudio":
		b, err := readBody(r)
		if err != nil {
			return err
		}
		if tasks, err = annotate.ReadLabelStudio(bytes.NewReader(b), p.Kind); err != nil {
			return err
		}
	case "feedback":
		var in []annotate.Flagged
		if err := DecodeJSON(r, &in); err != nil {
			return err
		}
		tasks = annotate.FeedbackTasks(in)
	case "dataset":
		var in struct {
			Dataset string `json:"dataset"`
			Version int    `json:"version"`
			Column  string `json:"column"`
		}
		if err := DecodeJSON(r, &in); err != nil {
			return err
		}
		if tasks, err = a.svc.DatasetTasks(ctx, project, in.Dataset, in.Version, in.Column); err != nil {
			return err
		}
	default:
		return errs.Invalidf("format %q: want jsonl, labelstudio, dataset or feedback", f)
	}
	switch pre := r.URL.Query().Get("preannotate"); pre {
	case "":
	case "deid":
		if p.Kind != annotate.KindSpan {
			return errs.Invalidf("de-identification suggestions are for span projects")
		}
		a.deidOnce.Do(func() { a.deid, a.deidErr = deid.New(nil) })
		if a.deidErr != nil {
			return a.deidErr
		}
		annotate.PreAnnotate(tasks, a.deid)
	default:
		return errs.Invalidf("preannotate %q: want deid", pre)
	}
	res, err := a.svc.AddTasks(ctx, project, name, tasks)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, res)
}

func (a *annotation) assign(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Annotators []string `json:"annotators"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	res, err := a.svc.Assign(r.Context(), r.PathValue("project"), r.PathValue("name"), in.Annotators)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, res)
}

func (a *annotation) queue(w http.ResponseWriter, r *http.Request) error {
	q, err := a.svc.Queue(r.Context(), r.PathValue("project"), r.PathValue("name"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"tasks": q})
}

func (a *annotation) submit(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "task")
	if err != nil {
		return err
	}
	var res annotate.Result
	if err := DecodeJSON(r, &res); err != nil {
		return err
	}
	if err := a.svc.Submit(r.Context(), r.PathValue("project"), r.PathValue("name"), int64(id), res); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"task": id, "submitted": true})
}

func (a *annotation) skip(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "task")
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := a.svc.Skip(r.Context(), r.PathValue("project"), r.PathValue("name"), int64(id), in.Reason); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"task": id, "skipped": true})
}

func (a *annotation) forAdjudication(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.svc.ForAdjudication(r.Context(), r.PathValue("project"), r.PathValue("name"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"tasks": rs})
}

func (a *annotation) adjudicate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "task")
	if err != nil {
		return err
	}
	var res annotate.Result
	if err := DecodeJSON(r, &res); err != nil {
		return err
	}
	g, err := a.svc.Adjudicate(r.Context(), r.PathValue("project"), r.PathValue("name"), int64(id), res)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, g)
}

func (a *annotation) progress(w http.ResponseWriter, r *http.Request) error {
	p, err := a.svc.Progress(r.Context(), r.PathValue("project"), r.PathValue("name"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, p)
}

func (a *annotation) agreement(w http.ResponseWriter, r *http.Request) error {
	rep, err := a.svc.Agreement(r.Context(), r.PathValue("project"), r.PathValue("name"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, rep)
}

func (a *annotation) export(w http.ResponseWriter, r *http.Request) error {
	format := r.URL.Query().Get("format")
	switch format {
	case "", "jsonl", "conll", "labelstudio":
	default:
		return errs.Invalidf("format %q: want jsonl, conll or labelstudio", format)
	}
	p, rs, err := a.svc.Reviews(r.Context(), r.PathValue("project"), r.PathValue("name"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	ct := "application/x-ndjson"
	switch format {
	case "conll":
		ct = "text/plain; charset=utf-8"
		_, err = annotate.WriteCoNLL(&buf, p, rs)
	case "labelstudio":
		ct = "application/json"
		err = annotate.WriteLabelStudio(&buf, p, rs)
	default:
		_, err = annotate.WriteGold(&buf, p, rs)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ct)
	_, err = w.Write(buf.Bytes())
	return err
}

func (a *annotation) exportDataset(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Dataset string `json:"dataset"`
		Level   string `json:"level"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	res, n, err := a.svc.ExportDataset(r.Context(), r.PathValue("project"), r.PathValue("name"), annotate.ExportOptions{Dataset: in.Dataset, Level: dataset.Level(in.Level)})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, map[string]any{"version": res.Version, "created": res.Created, "documents": n})
}
