package mlflowapi

// The MLflow model registry API, mapped onto hygie's registry: a
// registered model is a hygie model (its project given by the tag
// hygie.project, or the caller's only project with model.write), a model
// version is registered from a run's artifact, and stages map onto hygie's
// environments — None: none or dev, Staging: test or integration,
// Production: production, Archived: archived. A transition runs hygie's
// gated promotion one environment at a time; a refusal is INVALID_STATE
// with the failing gates.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/httpapi"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

type regAPI struct {
	reg  *registry.Service
	runs *track.Service
}

// RegistryRoutes returns the MLflow-compatible model registry routes.
func RegistryRoutes(reg *registry.Service, runs *track.Service) []httpapi.Route {
	a := &regAPI{reg: reg, runs: runs}
	rt := func(method, path, summary string, h func(r *http.Request) (any, error)) httpapi.Route {
		return httpapi.Route{Method: method, Pattern: Prefix + path, Summary: "MLflow registry: " + summary, Tag: "mlflow", Scope: httpapi.Authenticated, Handler: handle(h)}
	}
	return []httpapi.Route{
		rt("POST", "registered-models/create", "create a registered model (tag hygie.project names its project)", a.createModel),
		rt("GET", "registered-models/get", "get a registered model", a.getModel),
		rt("GET", "registered-models/search", "search registered models", a.searchModels),
		rt("POST", "registered-models/search", "search registered models", a.searchModels),
		rt("POST", "registered-models/get-latest-versions", "latest version per stage", a.latestVersions),
		rt("GET", "registered-models/get-latest-versions", "latest version per stage", a.latestVersions),
		rt("POST", "model-versions/create", "register a run's model as a new version", a.createVersion),
		rt("GET", "model-versions/get", "get a model version", a.getVersion),
		rt("GET", "model-versions/search", "search model versions", a.searchVersions),
		rt("POST", "model-versions/search", "search model versions", a.searchVersions),
		rt("POST", "model-versions/transition-stage", "move a version to a stage through hygie's gated promotions", a.transition),
	}
}

type registeredModelJSON struct {
	Name                 string             `json:"name"`
	CreationTimestamp    int64              `json:"creation_timestamp"`
	LastUpdatedTimestamp int64              `json:"last_updated_timestamp"`
	Description          string             `json:"description,omitempty"`
	LatestVersions       []modelVersionJSON `json:"latest_versions,omitempty"`
	Tags                 []kv               `json:"tags,omitempty"`
}

type modelVersionJSON struct {
	Name                 string `json:"name"`
	Version              string `json:"version"`
	CreationTimestamp    int64  `json:"creation_timestamp"`
	LastUpdatedTimestamp int64  `json:"last_updated_timestamp"`
	UserID               string `json:"user_id"`
	CurrentStage         string `json:"current_stage"`
	Source               string `json:"source"`
	RunID                string `json:"run_id,omitempty"`
	Status               string `json:"status"`
	Tags                 []kv   `json:"tags,omitempty"`
}

// Stage maps a hygie environment to an MLflow stage.
func Stage(env string) string {
	switch env {
	case "test", "integration":
		return "Staging"
	case "production":
		return "Production"
	case "archived":
		return "Archived"
	}
	return "None"
}

func toVersion(v registry.Version) modelVersionJSON {
	j := modelVersionJSON{Name: v.Model, Version: strconv.Itoa(v.Version), CreationTimestamp: ms(v.CreatedAt), LastUpdatedTimestamp: ms(v.CreatedAt),
		UserID: v.CreatedBy, CurrentStage: Stage(v.Environment), Status: "READY",
		Tags: []kv{{"hygie.environment", v.Environment}, {"hygie.flavor", v.Flavor}}}
	if v.RunID != nil {
		j.RunID = strconv.FormatInt(*v.RunID, 10)
		j.Source = "runs:/" + j.RunID + "/"
	}
	return j
}

func (a *regAPI) toModel(r *http.Request, m registry.Model, latest bool) (registeredModelJSON, error) {
	j := registeredModelJSON{Name: m.Name, CreationTimestamp: ms(m.CreatedAt), LastUpdatedTimestamp: ms(m.CreatedAt), Description: m.Description,
		Tags: []kv{{"hygie.project", m.Project}}}
	if latest {
		vs, err := a.latestPerStage(r, m.Name, nil)
		if err != nil {
			return j, err
		}
		j.LatestVersions = vs
	}
	return j, nil
}

func (a *regAPI) createModel(r *http.Request) (any, error) {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Tags        []kv   `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, invalid("missing value for required parameter 'name'")
	}
	project := ""
	for _, t := range req.Tags {
		if t.Key == "hygie.project" {
			project = t.Value
		}
	}
	if project == "" {
		p := auth.FromContext(r.Context())
		var writable []string
		for _, name := range p.Projects() {
			if p.Can(name, auth.PermModelWrite) {
				writable = append(writable, name)
			}
		}
		if len(writable) == 0 {
			return nil, &Error{"PERMISSION_DENIED", "you cannot write models in any project (permission model.write)", http.StatusForbidden}
		}
		if len(writable) != 1 {
			return nil, invalid("say which project the model belongs to with the tag hygie.project (you can write models in %d projects)", len(writable))
		}
		project = writable[0]
	}
	m, err := a.reg.CreateModel(r.Context(), project, req.Name, req.Description)
	if err != nil {
		return nil, err
	}
	j, err := a.toModel(r, m, false)
	return map[string]any{"registered_model": j}, err
}

func (a *regAPI) getModel(r *http.Request) (any, error) {
	name := r.URL.Query().Get("name")
	if name == "" {
		return nil, invalid("missing value for required parameter 'name'")
	}
	m, err := a.reg.GetModel(r.Context(), name)
	if err != nil {
		return nil, err
	}
	j, err := a.toModel(r, m, true)
	return map[string]any{"registered_model": j}, err
}

// nameFilter reads the filters MLflow clients send to the registry:
// name = 'x', name LIKE 'x%' (ILIKE too), run_id = 'n'.
var nameFilterRE = regexp.MustCompile(`^\s*(name|run_id)\s*(=|LIKE|ILIKE)\s*'([^']*)'\s*$`)

type regFilter struct{ field, op, value string }

func parseRegFilter(s string) (*regFilter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := nameFilterRE.FindStringSubmatch(s)
	if m == nil {
		return nil, invalid("unsupported filter %q: hygie's registry accepts name = '…', name LIKE '…' or run_id = '…'", s)
	}
	return &regFilter{m[1], m[2], m[3]}, nil
}

func (f *regFilter) match(field, v string) bool {
	if f == nil || f.field != field {
		return true
	}
	switch f.op {
	case "=":
		return v == f.value
	case "ILIKE":
		return like(strings.ToLower(v), strings.ToLower(f.value))
	}
	return like(v, f.value)
}

// like matches SQL LIKE patterns: % any run, _ one character.
func like(s, pattern string) bool {
	var re strings.Builder
	re.WriteString("^")
	for _, c := range pattern {
		switch c {
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	ok, _ := regexp.MatchString(re.String(), s)
	return ok
}

// registryQuery reads a search request (query string for GET, JSON body
// for POST): its filter, page size and page token.
func registryQuery(r *http.Request) (f *regFilter, maxResults i64, token string, err error) {
	var req struct {
		Filter     string `json:"filter"`
		MaxResults i64    `json:"max_results"`
		PageToken  string `json:"page_token"`
	}
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		n, _ := strconv.ParseInt(q.Get("max_results"), 10, 64)
		req.Filter, req.MaxResults, req.PageToken = q.Get("filter"), i64(n), q.Get("page_token")
	} else if err := decode(r, &req); err != nil {
		return nil, 0, "", err
	}
	f, err = parseRegFilter(req.Filter)
	return f, req.MaxResults, req.PageToken, err
}

func (a *regAPI) searchModels(r *http.Request) (any, error) {
	f, max, token, err := registryQuery(r)
	if err != nil {
		return nil, err
	}
	if f != nil && f.field != "name" {
		return nil, invalid("registered models are searched by name")
	}
	models, err := a.reg.Models(r.Context())
	if err != nil {
		return nil, err
	}
	var out []registeredModelJSON
	for _, m := range models {
		if f.match("name", m.Name) {
			j, err := a.toModel(r, m, true)
			if err != nil {
				return nil, err
			}
			out = append(out, j)
		}
	}
	return pageOf("registered_models", out, max, token)
}

// pageOf cuts a result list into MLflow pages.
func pageOf[T any](key string, items []T, max i64, token string) (any, error) {
	limit, offset, err := page(max, token)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{key: []T{}}
	if offset < len(items) {
		end := min(len(items), offset+limit)
		resp[key] = items[offset:end]
		if end < len(items) {
			resp["next_page_token"] = strconv.Itoa(end)
		}
	}
	return resp, nil
}

func (a *regAPI) latestPerStage(r *http.Request, name string, stages []string) ([]modelVersionJSON, error) {
	vs, err := a.reg.Versions(r.Context(), name)
	if err != nil {
		return nil, err
	}
	latest := map[string]registry.Version{}
	for _, v := range vs {
		st := Stage(v.Environment)
		if cur, ok := latest[st]; !ok || v.Version > cur.Version {
			latest[st] = v
		}
	}
	var out []modelVersionJSON
	for _, st := range []string{"None", "Staging", "Production", "Archived"} {
		v, ok := latest[st]
		if ok && (len(stages) == 0 || slices.ContainsFunc(stages, func(s string) bool { return strings.EqualFold(s, st) })) {
			out = append(out, toVersion(v))
		}
	}
	return out, nil
}

func (a *regAPI) latestVersions(r *http.Request) (any, error) {
	var req struct {
		Name   string   `json:"name"`
		Stages []string `json:"stages"`
	}
	if r.Method == http.MethodGet {
		req.Name, req.Stages = r.URL.Query().Get("name"), r.URL.Query()["stages"]
	} else if err := decode(r, &req); err != nil {
		return nil, err
	}
	if _, err := a.reg.GetModel(r.Context(), req.Name); err != nil {
		return nil, err
	}
	vs, err := a.latestPerStage(r, req.Name, req.Stages)
	if vs == nil {
		vs = []modelVersionJSON{}
	}
	return map[string]any{"model_versions": vs}, err
}

// artifactOf reads the artifact path of a version's source: runs:/ID/PATH,
// mlflow-artifacts:/EXP/ID/artifacts/PATH, or a path inside the run. A
// directory is taken to hold hygie's model.json.
func (a *regAPI) artifactOf(r *http.Request, runID int64, source string) (string, error) {
	p := source
	if u, err := url.Parse(source); err == nil && u.Scheme != "" {
		switch u.Scheme {
		case "runs":
			parts := strings.SplitN(strings.TrimPrefix(u.Opaque+u.Path, "/"), "/", 2)
			if len(parts) < 1 || parts[0] != strconv.FormatInt(runID, 10) {
				return "", invalid("source %q names another run than run_id %d", source, runID)
			}
			p = ""
			if len(parts) == 2 {
				p = parts[1]
			}
		case "mlflow-artifacts":
			_, after, ok := strings.Cut(u.Path, "/artifacts/")
			if !ok {
				return "", invalid("source %q: want mlflow-artifacts:/EXP/RUN/artifacts/PATH", source)
			}
			p = after
		default:
			return "", invalid("source %q: hygie registers models from its runs (runs:/RUN_ID/PATH)", source)
		}
	}
	p = strings.Trim(p, "/")
	run, err := a.runs.Get(r.Context(), runID)
	if err != nil {
		return "", err
	}
	for _, art := range run.Artifacts {
		if art.Path == p {
			return p, nil
		}
	}
	for _, cand := range []string{p + "/model.json", p + "/model/model.json"} {
		for _, art := range run.Artifacts {
			if art.Path == strings.TrimPrefix(cand, "/") {
				return art.Path, nil
			}
		}
	}
	return "", &Error{"RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("run %d has no artifact %q", runID, p), http.StatusNotFound}
}

func (a *regAPI) createVersion(r *http.Request) (any, error) {
	var req struct {
		Name   string `json:"name"`
		Source string `json:"source"`
		RunID  string `json:"run_id"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	m, err := a.reg.GetModel(r.Context(), req.Name)
	if err != nil {
		return nil, err
	}
	runID, err := parseID("run_id", req.RunID)
	if err != nil {
		return nil, err
	}
	art, err := a.artifactOf(r, runID, req.Source)
	if err != nil {
		return nil, err
	}
	flavor := "mlflow.external"
	if strings.HasSuffix(art, "model.json") {
		flavor = hmodel.Format
	}
	v, err := a.reg.Register(r.Context(), m.Project, m.Name, runID, art, flavor, registry.Signature{})
	if err != nil && flavor == hmodel.Format {
		// Not hygie's format after all: keep it registered, not servable.
		if v, err = a.reg.Register(r.Context(), m.Project, m.Name, runID, art, "mlflow.external", registry.Signature{}); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return map[string]any{"model_version": toVersion(v)}, nil
}

func (a *regAPI) version(r *http.Request, name, version string) (registry.Version, error) {
	n, err := strconv.Atoi(version)
	if err != nil || n < 1 {
		return registry.Version{}, invalid("version %q: want a positive integer", version)
	}
	if _, err := a.reg.GetModel(r.Context(), name); err != nil {
		return registry.Version{}, err
	}
	return a.reg.Version(r.Context(), name, n)
}

func (a *regAPI) getVersion(r *http.Request) (any, error) {
	q := r.URL.Query()
	v, err := a.version(r, q.Get("name"), q.Get("version"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"model_version": toVersion(v)}, nil
}

func (a *regAPI) searchVersions(r *http.Request) (any, error) {
	f, max, token, err := registryQuery(r)
	if err != nil {
		return nil, err
	}
	models, err := a.reg.Models(r.Context())
	if err != nil {
		return nil, err
	}
	var out []modelVersionJSON
	for _, m := range models {
		if !f.match("name", m.Name) {
			continue
		}
		vs, err := a.reg.Versions(r.Context(), m.Name)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			j := toVersion(v)
			if !f.match("run_id", j.RunID) {
				continue
			}
			out = append(out, j)
		}
	}
	return pageOf("model_versions", out, max, token)
}

// stageTargets are the hygie environments a transition walks through.
var stageTargets = map[string][]string{
	"staging":    {"dev", "test"},
	"production": {"dev", "test", "integration", "production"},
}

func (a *regAPI) transition(r *http.Request) (any, error) {
	var req struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Stage   string `json:"stage"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	v, err := a.version(r, req.Name, req.Version)
	if err != nil {
		return nil, err
	}
	path, ok := stageTargets[strings.ToLower(req.Stage)]
	if !ok {
		return nil, invalid("stage %q: hygie moves versions to Staging or Production through its gates; a version is archived when another replaces it in production, and rolled back with hygie model rollback", req.Stage)
	}
	at := slices.Index(registry.Environments, v.Environment)
	for _, env := range path {
		if slices.Index(registry.Environments, env) <= at {
			continue
		}
		if _, err := a.reg.Promote(r.Context(), v.Model, v.Version, env); err != nil {
			var ref *registry.RefusedError
			if errors.As(err, &ref) {
				return nil, &Error{"INVALID_STATE", err.Error(), http.StatusBadRequest}
			}
			return nil, err
		}
	}
	if v, err = a.reg.Version(r.Context(), v.Model, v.Version); err != nil {
		return nil, err
	}
	return map[string]any{"model_version": toVersion(v)}, nil
}
