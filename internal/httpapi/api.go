package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/dataset/profile"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/jobs"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/recipe"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/train"
)

// Services are the feature services the API exposes.
type Services struct {
	Auth     *auth.Service
	Audit    *audit.Log
	Projects *project.Service
	Datasets *dataset.Service
	Pseudo   *pseudo.Service
	Runs     *track.Service
	Registry *registry.Service
	Serve    *serve.Service
	Monitor  *monitor.Service
	// Train submits a built-in training job (see train.Submit).
	Train func(ctx context.Context, spec train.Spec, experiment string) (jobs.Job, train.Spec, error)
}

// AddAPI registers the REST API (/api/v1) and the Open Inference Protocol
// (/v2, see api_oip.go).
func (s *Server) AddAPI(svc Services) {
	a := &api{Services: svc}
	const (
		admin = "administration"
		proj  = "projects"
		data  = "datasets"
		model = "models"
	)
	s.Add(
		Route{Method: "GET", Pattern: "/api/v1/me", Summary: "The authenticated user and their roles", Tag: admin, Scope: Authenticated, Handler: a.me},
		Route{Method: "GET", Pattern: "/api/v1/users", Summary: "List users", Tag: admin, Scope: Instance, Perm: auth.PermUsersManage, Handler: a.listUsers},
		Route{Method: "POST", Pattern: "/api/v1/users", Summary: "Create a user", Tag: admin, Scope: Instance, Perm: auth.PermUsersManage, Handler: a.createUser},
		Route{Method: "GET", Pattern: "/api/v1/tokens", Summary: "List my API tokens", Tag: admin, Scope: Authenticated, Handler: a.listTokens},
		Route{Method: "POST", Pattern: "/api/v1/tokens", Summary: "Create an API token for myself (the secret is shown once)", Tag: admin, Scope: Authenticated, Handler: a.createToken},
		Route{Method: "DELETE", Pattern: "/api/v1/tokens/{id}", Summary: "Revoke one of my tokens", Tag: admin, Scope: Authenticated, Handler: a.revokeToken},
		Route{Method: "GET", Pattern: "/api/v1/audit", Summary: "Audit events (filters: user, project, action, since, until, limit)", Tag: admin, Scope: Instance, Perm: auth.PermAuditReadAll, Handler: a.listAudit},
		Route{Method: "GET", Pattern: "/api/v1/audit/verify", Summary: "Verify the audit hash chain", Tag: admin, Scope: Instance, Perm: auth.PermAuditReadAll, Handler: a.verifyAudit},

		Route{Method: "GET", Pattern: "/api/v1/projects", Summary: "Projects I can see", Tag: proj, Scope: Authenticated, Handler: a.listProjects},
		Route{Method: "POST", Pattern: "/api/v1/projects", Summary: "Create a project", Tag: proj, Scope: Instance, Perm: auth.PermProjectCreate, Handler: a.createProject},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}", Summary: "A project", Tag: proj, Scope: Project, Perm: auth.PermProjectRead, Handler: a.getProject},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/members", Summary: "Members and roles (grants: each role and its source, \"directory\" when it follows a directory group, \"\" when given by hand)", Tag: proj, Scope: Project, Perm: auth.PermProjectRead, Handler: a.listMembers},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/members", Summary: "Grant a role", Tag: proj, Scope: Project, Perm: auth.PermProjectManage, Handler: a.grant},
		Route{Method: "DELETE", Pattern: "/api/v1/projects/{project}/members/{username}/{role}", Summary: "Revoke a role", Tag: proj, Scope: Project, Perm: auth.PermProjectManage, Handler: a.revoke},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/audit", Summary: "The project's audit events", Tag: proj, Scope: Project, Perm: auth.PermAuditRead, Handler: a.projectAudit},

		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/datasets", Summary: "Datasets (latest versions)", Tag: data, Scope: Project, Perm: auth.PermDatasetRead, Handler: a.listDatasets},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/datasets/{dataset}/versions", Summary: "Import a table (body: CSV, JSON Lines or Parquet) as a new version (query: level, format=csv|jsonl|parquet, sep, encoding, decimal, role.<column>=<role>, type.<column>=<type>)", Tag: data, Scope: Project, Perm: auth.PermDatasetWrite, Handler: a.importDataset},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/datasets/{dataset}/versions", Summary: "Versions of a dataset", Tag: data, Scope: Project, Perm: auth.PermDatasetRead, Handler: a.listVersions},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/datasets/{dataset}/versions/{version}", Summary: "A dataset version's metadata", Tag: data, Scope: Project, Perm: auth.PermDatasetRead, Handler: a.getVersion},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/datasets/{dataset}/versions/{version}/lineage", Summary: "A version and its ancestors", Tag: data, Scope: Project, Perm: auth.PermDatasetRead, Handler: a.lineage},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/datasets/{dataset}/versions/{version}/content", Summary: "Export a version (query: format=csv|parquet|jsonl; identifying versions: stewards only, audited)", Tag: data, Scope: Project, Perm: auth.PermDatasetRead, Handler: a.exportVersion},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/datasets/{dataset}/versions/{version}/profile", Summary: "Privacy-aware profile of a version (small cells suppressed, identifiers never listed)", Tag: data, Scope: Project, Perm: auth.PermDatasetRead, Handler: a.profileVersion},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/datasets/{dataset}/versions/{version}/pseudonymize", Summary: "Derive a pseudonymized version", Tag: data, Scope: Project, Perm: auth.PermIdentifyingData, Handler: a.pseudonymize},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/datasets/{dataset}/versions/{version}/transform", Summary: "Apply a YAML recipe (body) to derive a new version (query: output)", Tag: data, Scope: Project, Perm: auth.PermDatasetWrite, Handler: a.transform},

		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/runs", Summary: "Runs", Tag: model, Scope: Project, Perm: auth.PermRunRead, Handler: a.listRuns},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/runs", Summary: "Train a built-in learner on a dataset version as a job (body: dataset NAME@VERSION, target, learner, params, cv, group…); 202 with the job", Tag: model, Scope: Project, Perm: auth.PermRunWrite, Handler: a.trainRun},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/runs/{run}", Summary: "A run with params, metrics and artifacts", Tag: model, Scope: Project, Perm: auth.PermRunRead, Handler: a.getRun},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/models", Summary: "Model versions and their environments", Tag: model, Scope: Project, Perm: auth.PermModelRead, Handler: a.listModels},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/models", Summary: "Register a run's model as a new model version", Tag: model, Scope: Project, Perm: auth.PermModelWrite, Handler: a.registerModel},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/models/{model}/versions/{version}/promote", Summary: "Promote to the next environment, checking the gates (body: {\"to\", \"override_reason\"}); 409 with the promotion report when refused", Tag: model, Scope: Project, Perm: auth.PermModelPromote, Handler: a.promote},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/gates", Summary: "Validation gate rules", Tag: model, Scope: Project, Perm: auth.PermModelRead, Handler: a.listGates},
		Route{Method: "PUT", Pattern: "/api/v1/projects/{project}/gates", Summary: "Set a validation gate rule", Tag: model, Scope: Project, Perm: auth.PermProjectManage, Handler: a.setGate},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/predictions", Summary: "Latest logged predictions", Tag: model, Scope: Project, Perm: auth.PermPredictionsRead, Handler: a.listPredictions},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/predictions/{id}/feedback", Summary: `A clinician's verdict on a prediction (body: {"verdict": correct|incorrect|unsure, "corrected", "comment", "annotation"}; with "annotation", an incorrect prediction becomes a task of that annotation project, added on the clinician's behalf; without it, the model's feedback annotation project when set, "" for none)`, Tag: model, Scope: Project, Perm: auth.PermFeedbackWrite, Handler: a.feedback},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/models/{model}/retrain", Summary: `Retrain from the latest gold data (body: {"version", "annotation", "experiment"}, all optional): the version's training set plus the adjudicated feedback becomes a new dataset version, and a training job starts on it; 202 with the job`, Tag: model, Scope: Project, Perm: auth.PermRunWrite, Handler: a.retrain},
	)
	s.AddOIP(svc)
	s.AddPrivacyIAPI(svc)
}

type api struct{ Services }

func (a *api) me(w http.ResponseWriter, r *http.Request) error {
	return WriteJSON(w, http.StatusOK, auth.FromContext(r.Context()))
}

func (a *api) listUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := a.Auth.Users(r.Context())
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"users": us})
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		Password    string `json:"password"`
		Admin       bool   `json:"admin"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	u, err := a.Auth.CreateUser(r.Context(), in.Username, in.DisplayName, in.Password, in.Admin)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, u)
}

func (a *api) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.Auth.Tokens(r.Context(), auth.FromContext(r.Context()).Username)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"tokens": ts})
}

func (a *api) createToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name      string `json:"name"`
		ExpiresIn string `json:"expires_in"` // Go duration, e.g. 720h; empty: never
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	var ttl time.Duration
	if in.ExpiresIn != "" {
		d, err := time.ParseDuration(in.ExpiresIn)
		if err != nil || d <= 0 {
			return errs.Invalidf("expires_in %q: want a positive duration such as 720h", in.ExpiresIn)
		}
		ttl = d
	}
	t, secret, err := a.Auth.CreateToken(r.Context(), auth.FromContext(r.Context()).Username, in.Name, auth.KindAPI, ttl, "")
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret, "note": "store the secret now: it is not shown again"})
}

func (a *api) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	if err := a.Auth.RevokeToken(r.Context(), auth.FromContext(r.Context()).Username, int64(id)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func auditFilter(r *http.Request) (audit.Filter, error) {
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("user"), Project: q.Get("project"), Action: q.Get("action")}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				return f, errs.Invalidf("query %s: want RFC 3339 time or YYYY-MM-DD, got %q", name, v)
			}
			*dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return f, errs.Invalidf("query limit: want a positive integer")
		}
		f.Limit = n
	}
	return f, nil
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, v)
}

func (a *api) listAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	ev, err := a.Audit.List(r.Context(), f)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"events": ev})
}

func (a *api) projectAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	f.Project = r.PathValue("project")
	ev, err := a.Audit.List(r.Context(), f)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"events": ev})
}

func (a *api) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	rep, err := a.Audit.Verify(r.Context())
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, rep)
}

func (a *api) listProjects(w http.ResponseWriter, r *http.Request) error {
	p := auth.FromContext(r.Context())
	all, err := a.Projects.List(r.Context())
	if err != nil {
		return err
	}
	out := []project.Project{}
	for _, pr := range all {
		if p.Can(pr.Name, auth.PermProjectRead) {
			out = append(out, pr)
		}
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"projects": out})
}

func (a *api) createProject(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        string `json:"name"`
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	p, err := a.Projects.Create(r.Context(), in.Name, in.Title, in.Description)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, p)
}

func (a *api) getProject(w http.ResponseWriter, r *http.Request) error {
	p, err := a.Projects.Get(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, p)
}

func (a *api) listMembers(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.Projects.Get(r.Context(), r.PathValue("project")); err != nil {
		return err
	}
	m, err := a.Auth.Members(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"members": m})
}

func (a *api) grant(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username string    `json:"username"`
		Role     auth.Role `json:"role"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := a.Auth.Grant(r.Context(), r.PathValue("project"), in.Username, in.Role); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, in)
}

func (a *api) revoke(w http.ResponseWriter, r *http.Request) error {
	if err := a.Auth.Revoke(r.Context(), r.PathValue("project"), r.PathValue("username"), auth.Role(r.PathValue("role"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) listDatasets(w http.ResponseWriter, r *http.Request) error {
	vs, err := a.Datasets.List(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"datasets": orEmpty(vs)})
}

func (a *api) importDataset(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	level := dataset.Level(q.Get("level"))
	if level == "" {
		return errs.Invalidf("query level is required (identifying, pseudonymized, anonymized or aggregate)")
	}
	o := dataset.ImportOptions{Project: r.PathValue("project"), Dataset: r.PathValue("dataset"), Level: level,
		Roles: map[string]dataset.Role{}, Types: map[string]dataset.Type{}, Encoding: q.Get("encoding")}
	for k, v := range q {
		if name, ok := strings.CutPrefix(k, "role."); ok && len(v) > 0 {
			o.Roles[name] = dataset.Role(v[0])
		}
		if name, ok := strings.CutPrefix(k, "type."); ok && len(v) > 0 {
			o.Types[name] = dataset.Type(v[0])
		}
	}
	var err error
	if o.Separator, err = oneByte(q.Get("sep"), "sep"); err != nil {
		return err
	}
	if o.Decimal, err = oneByte(q.Get("decimal"), "decimal"); err != nil {
		return err
	}
	format := q.Get("format")
	if format == "" {
		format = dataset.FormatCSV
	}
	res, err := a.Datasets.Import(r.Context(), dataset.Stream("request body", format, r.Body), o)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !res.Created {
		status = http.StatusOK
	}
	return WriteJSON(w, status, map[string]any{"version": res.Version, "created": res.Created, "suggested_roles": res.Suggested, "dialect": res.Dialect})
}

// oneByte reads a one-character query parameter ("tab" or "\t" is a tab).
func oneByte(s, name string) (byte, error) {
	switch s {
	case "":
		return 0, nil
	case "tab", `\t`, "\t":
		return '\t', nil
	}
	if len(s) != 1 {
		return 0, errs.Invalidf("query %s: want one character", name)
	}
	return s[0], nil
}

func (a *api) listVersions(w http.ResponseWriter, r *http.Request) error {
	vs, err := a.Datasets.Versions(r.Context(), r.PathValue("project"), r.PathValue("dataset"))
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return errs.NotFoundf("dataset %q not found", r.PathValue("dataset"))
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

func (a *api) version(r *http.Request) (dataset.Version, error) {
	n, err := pathInt(r, "version")
	if err != nil {
		return dataset.Version{}, err
	}
	return a.Datasets.Get(r.Context(), r.PathValue("project"), r.PathValue("dataset"), n)
}

func (a *api) getVersion(w http.ResponseWriter, r *http.Request) error {
	v, err := a.version(r)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, v)
}

func (a *api) lineage(w http.ResponseWriter, r *http.Request) error {
	v, err := a.version(r)
	if err != nil {
		return err
	}
	l, err := a.Datasets.Lineage(r.Context(), v)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"lineage": l})
}

func (a *api) exportVersion(w http.ResponseWriter, r *http.Request) error {
	v, err := a.version(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = dataset.ExportCSV
	}
	ctype := map[string]string{dataset.ExportCSV: "text/csv; charset=utf-8", dataset.ExportJSONL: "application/jsonl; charset=utf-8",
		dataset.ExportParquet: "application/vnd.apache.parquet"}[format]
	// Headers go out with the first byte, once access is granted: a refusal
	// still answers with a JSON error.
	lw := &lazyHeaders{w: w, set: func(h http.Header) {
		h.Set("Content-Type", ctype)
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("%s-v%d.%s", v.Dataset, v.Version, format)))
		h.Set("Cache-Control", "no-store")
	}}
	// Access and the stored content are checked before the first byte; a
	// failure past it (content altered at rest) ends the body with the error.
	return a.Datasets.Export(r.Context(), v, format, lw)
}

// lazyHeaders sets response headers just before the first write.
type lazyHeaders struct {
	w       http.ResponseWriter
	set     func(http.Header)
	started bool
}

func (l *lazyHeaders) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.set(l.w.Header())
	}
	return l.w.Write(p)
}

func (a *api) profileVersion(w http.ResponseWriter, r *http.Request) error {
	v, err := a.version(r)
	if err != nil {
		return err
	}
	rep, err := profile.OfVersion(r.Context(), a.Datasets, v)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, rep)
}

func (a *api) pseudonymize(w http.ResponseWriter, r *http.Request) error {
	v, err := a.version(r)
	if err != nil {
		return err
	}
	res, err := pseudonymizeWithBody(a.Pseudo, r, v)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, res)
}

func (a *api) transform(w http.ResponseWriter, r *http.Request) error {
	v, err := a.version(r)
	if err != nil {
		return err
	}
	text, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	out, created, err := recipe.Transform(r.Context(), a.Datasets, v, text, r.URL.Query().Get("output"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, map[string]any{"version": out, "created": created})
}

func (a *api) listRuns(w http.ResponseWriter, r *http.Request) error {
	runs, err := a.Runs.List(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"runs": orEmpty(runs)})
}

func (a *api) getRun(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "run")
	if err != nil {
		return err
	}
	run, err := a.Runs.Get(r.Context(), int64(id))
	if err != nil || run.Project != r.PathValue("project") {
		return errs.NotFoundf("run %d not found in project %q", id, r.PathValue("project"))
	}
	return WriteJSON(w, http.StatusOK, run)
}

// trainRun submits a built-in training job; the run appears when the job
// starts, and the response names the job to follow.
func (a *api) trainRun(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Experiment string `json:"experiment"`
		train.Spec
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if a.Train == nil {
		return errs.Conflictf("this server does not run training jobs")
	}
	in.Spec.Project = r.PathValue("project")
	j, spec, err := a.Train(r.Context(), in.Spec, in.Experiment)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusAccepted, map[string]any{"job": j, "spec": spec})
}

func (a *api) listModels(w http.ResponseWriter, r *http.Request) error {
	vs, err := a.Registry.ListVersions(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"versions": orEmpty(vs)})
}

func (a *api) registerModel(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Model     string             `json:"model"`
		RunID     int64              `json:"run_id"`
		Artifact  string             `json:"artifact"`
		Flavor    string             `json:"flavor"`
		Signature registry.Signature `json:"signature"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Artifact == "" {
		in.Artifact = train.ModelArtifact
	}
	if in.Flavor == "" {
		in.Flavor = hmodel.Format // the signature then comes from the model
	}
	v, err := a.Registry.Register(r.Context(), r.PathValue("project"), in.Model, in.RunID, in.Artifact, in.Flavor, in.Signature)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, v)
}

func (a *api) promote(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		To       string `json:"to"`
		Override string `json:"override_reason"` // project admins: promote past failing gates
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	n, err := pathInt(r, "version")
	if err != nil {
		return err
	}
	name := r.PathValue("model")
	if p, err := a.Registry.ProjectOfModel(r.Context(), name); err != nil || p != r.PathValue("project") {
		return errs.NotFoundf("model %q not found in project %q", name, r.PathValue("project"))
	}
	var p registry.Promotion
	if in.Override != "" {
		p, err = a.Registry.PromoteOverride(r.Context(), name, n, in.To, in.Override)
	} else {
		p, err = a.Registry.Promote(r.Context(), name, n, in.To)
	}
	if done, werr := writeRefusal(w, r, err); done {
		return werr
	}
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, p)
}

func (a *api) listGates(w http.ResponseWriter, r *http.Request) error {
	g, err := a.Registry.Gates(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"rules": orEmpty(g)})
}

func (a *api) setGate(w http.ResponseWriter, r *http.Request) error {
	var in registry.Rule
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := a.Registry.SetGate(r.Context(), r.PathValue("project"), in); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, in)
}

func (a *api) listPredictions(w http.ResponseWriter, r *http.Request) error {
	ps, err := a.Monitor.Predictions(r.Context(), r.PathValue("project"), 100)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"predictions": orEmpty(ps)})
}

func pathInt(r *http.Request, name string) (int, error) {
	v := r.PathValue(name)
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, errs.Invalidf("path parameter %s: want a positive integer, got %q", name, v)
	}
	return n, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
