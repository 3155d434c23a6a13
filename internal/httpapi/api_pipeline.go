package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/pipeline"
)

// AddPipelineAPI registers the pipelines endpoints: store and validate a
// pipeline file, its status (the plan), start, list, show and cancel runs,
// and its triggers' firings. trackingURI is where the runs' jobs report.
func (s *Server) AddPipelineAPI(p *pipeline.Service, trackingURI string) {
	a := &pipelineAPI{svc: p, tracking: trackingURI}
	const tag = "pipelines"
	const base = "/api/v1/projects/{project}/pipelines"
	s.Add(
		Route{Method: "GET", Pattern: base, Summary: "Stored pipelines", Tag: tag, Scope: Project, Perm: auth.PermProjectRead, Handler: a.list},
		Route{Method: "POST", Pattern: base + "/validate", Summary: "Validate a pipeline file (body: hygie.yaml; query: param.NAME=VALUE): 200 with its steps, 400 with the problems (line, step, message)", Tag: tag, Scope: Project, Perm: auth.PermProjectRead, Handler: a.validate},
		Route{Method: "PUT", Pattern: base + "/{pipeline}", Summary: "Store a pipeline file (body: hygie.yaml whose pipeline: is {pipeline}); validated first", Tag: tag, Scope: Project, Perm: auth.PermRunWrite, Handler: a.put},
		Route{Method: "GET", Pattern: base + "/{pipeline}", Summary: "A stored pipeline: its file and each step's status (up to date or stale, and why)", Tag: tag, Scope: Project, Perm: auth.PermProjectRead, Handler: a.get},
		Route{Method: "POST", Pattern: base + "/{pipeline}/runs", Summary: `Run a stored pipeline (body: {"params": {...}, "dry_run": bool}); 202 with the run's id, or 200 with the plan for a dry run`, Tag: tag, Scope: Project, Perm: auth.PermRunWrite, Handler: a.run},
		Route{Method: "GET", Pattern: base + "/{pipeline}/runs", Summary: "A pipeline's runs, newest first", Tag: tag, Scope: Project, Perm: auth.PermProjectRead, Handler: a.runs},
		Route{Method: "GET", Pattern: base + "/{pipeline}/triggers", Summary: "A pipeline's trigger firings, newest first, with the runs they started", Tag: tag, Scope: Project, Perm: auth.PermProjectRead, Handler: a.fires},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/pipeline-runs/{run}", Summary: "A pipeline run with its steps: state, cache key, cached, job, attempts, outputs", Tag: tag, Scope: Project, Perm: auth.PermProjectRead, Handler: a.show},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/pipeline-runs/{run}/cancel", Summary: "Cancel a running pipeline run and its jobs (409 if it has ended)", Tag: tag, Scope: Project, Perm: auth.PermRunWrite, Handler: a.cancel},
	)
}

type pipelineAPI struct {
	svc      *pipeline.Service
	tracking string
}

func (a *pipelineAPI) list(w http.ResponseWriter, r *http.Request) error {
	ps, err := a.svc.List(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"pipelines": orEmpty(ps)})
}

func queryParams(r *http.Request) map[string]string {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		if name, ok := cutPrefix(k, "param."); ok && len(v) > 0 {
			out[name] = v[0]
		}
	}
	return out
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

// problems writes a validation failure with its located problems.
func problems(w http.ResponseWriter, err error) error {
	var pe *pipeline.ProblemsError
	if errors.As(err, &pe) {
		return WriteJSON(w, http.StatusBadRequest, map[string]any{"valid": false, "error": map[string]any{"code": errs.Invalid, "message": pe.Error()}, "problems": pe.Problems})
	}
	return err
}

func (a *pipelineAPI) validate(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	spec, _, err := a.svc.Load(r.Context(), r.PathValue("project"), pipeline.DefaultFile, b, queryParams(r))
	if err != nil {
		return problems(w, err)
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"valid": true, "pipeline": spec.Name, "steps": spec.Order()})
}

func (a *pipelineAPI) put(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	project, name := r.PathValue("project"), r.PathValue("pipeline")
	spec, _, err := a.svc.Load(r.Context(), project, name+".yaml", b, nil)
	if err != nil {
		return problems(w, err)
	}
	if spec.Name != name {
		return errs.Invalidf("the file declares pipeline %q, not %q", spec.Name, name)
	}
	p, err := a.svc.Save(r.Context(), project, spec)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, p)
}

func (a *pipelineAPI) get(w http.ResponseWriter, r *http.Request) error {
	project, name := r.PathValue("project"), r.PathValue("pipeline")
	p, err := a.svc.Get(r.Context(), project, name)
	if err != nil {
		return err
	}
	spec, _, err := a.svc.LoadStored(r.Context(), project, name, nil)
	if err != nil {
		return err
	}
	plans, err := a.svc.Plan(r.Context(), project, spec, ".")
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"pipeline": p, "status": plans})
}

func (a *pipelineAPI) run(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Params map[string]string `json:"params"`
		DryRun bool              `json:"dry_run"`
	}
	if r.ContentLength != 0 {
		if err := DecodeJSON(r, &body); err != nil {
			return err
		}
	}
	project, name := r.PathValue("project"), r.PathValue("pipeline")
	id, plans, err := StartPipeline(r.Context(), a.svc, project, name, body.Params, body.DryRun, "api", a.tracking)
	if err != nil {
		return problems(w, err)
	}
	if body.DryRun {
		return WriteJSON(w, http.StatusOK, map[string]any{"plan": plans})
	}
	return WriteJSON(w, http.StatusAccepted, map[string]any{"run_id": id})
}

// StartPipeline starts a run of a stored pipeline in the background, as
// the request's principal, and returns its id once it is recorded (or the
// plan of a dry run). The UI's Run button calls it too.
func StartPipeline(ctx context.Context, svc *pipeline.Service, project, name string, params map[string]string, dryRun bool, trigger, tracking string) (int64, []pipeline.StepPlan, error) {
	spec, values, err := svc.LoadStored(ctx, project, name, params)
	if err != nil {
		return 0, nil, err
	}
	if dryRun {
		plans, err := svc.Plan(ctx, project, spec, ".")
		return 0, plans, err
	}
	started := make(chan int64, 1)
	errc := make(chan error, 1)
	bg := context.WithoutCancel(ctx)
	go func() {
		_, _, err := svc.Run(bg, project, spec, pipeline.RunOptions{Dir: ".", Trigger: trigger, Params: values, TrackingURI: tracking,
			OnStart: func(id int64) { started <- id }})
		errc <- err
	}()
	select {
	case id := <-started:
		return id, nil, nil
	case err := <-errc:
		return 0, nil, err
	}
}

func (a *pipelineAPI) runs(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.svc.Runs(r.Context(), r.PathValue("project"), r.PathValue("pipeline"), 0)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"runs": orEmpty(rs)})
}

func (a *pipelineAPI) fires(w http.ResponseWriter, r *http.Request) error {
	fs, err := a.svc.Fires(r.Context(), r.PathValue("project"), r.PathValue("pipeline"), 0)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"fires": orEmpty(fs)})
}

func runID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("run"), 10, 64)
	if err != nil || id < 1 {
		return 0, errs.Invalidf("run: want a positive number, got %q", r.PathValue("run"))
	}
	return id, nil
}

func (a *pipelineAPI) show(w http.ResponseWriter, r *http.Request) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	rec, err := a.svc.GetRun(r.Context(), r.PathValue("project"), id)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, rec)
}

func (a *pipelineAPI) cancel(w http.ResponseWriter, r *http.Request) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	rec, err := a.svc.RequestCancel(r.Context(), r.PathValue("project"), id)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusAccepted, rec)
}
