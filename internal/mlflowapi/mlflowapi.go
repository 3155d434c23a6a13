// Package mlflowapi is an MLflow-compatible REST API over hygie's
// experiment tracking, so that unmodified MLflow clients and scripts log to
// hygie (MLFLOW_TRACKING_URI=https://hygie…, MLFLOW_TRACKING_TOKEN=<hygie
// API token>, or MLFLOW_TRACKING_USERNAME/PASSWORD = user and token).
//
// Mapping:
//   - An MLflow experiment is a hygie experiment; its MLflow name is
//     "PROJECT/NAME" (the hygie project, a slash, the experiment's name in
//     the project) and its experiment_id is hygie's experiment id as a
//     string. Creating "PROJECT/NAME" needs run.write in PROJECT; a name
//     without a project is refused (there is no MLflow "Default"
//     experiment 0).
//   - A run_id (and run_uuid) is hygie's run id as a string; statuses are
//     RUNNING, FINISHED, FAILED and KILLED.
//   - A run's artifact_uri is mlflow-artifacts:/EXPERIMENT/RUN/artifacts:
//     clients upload and download through /api/2.0/mlflow-artifacts/
//     artifacts/EXPERIMENT/RUN/artifacts/PATH (proxied artifacts); the
//     files land in hygie's blob store as run artifacts, write-once.
//
// Authorization: the routes are declared Authenticated in hygie's route
// table (the server authenticates Bearer or Basic credentials and answers
// 401 without them); each handler resolves the project of the experiment or
// run named in the request and requires run.read (reads) or run.write
// (writes) there, answering PERMISSION_DENIED (403) otherwise.
//
// Errors use MLflow's shape {"error_code": "...", "message": "..."}:
// INVALID_PARAMETER_VALUE 400, RESOURCE_ALREADY_EXISTS 400,
// RESOURCE_DOES_NOT_EXIST 404, PERMISSION_DENIED 403, UNAUTHENTICATED 401,
// INTERNAL_ERROR 500.
//
// Logging (runs/log-batch, log-metric, log-parameter, set-tag) answers
// only once the data is committed; concurrent requests share transactions
// (track.LogBatch's group commit) but not failures. A log-batch holds at
// most 1000 metrics, 100 params and 100 tags in at most 1 MB, as MLflow's.
//
// Run search (runs/search) supports a filter of comparisons joined by AND:
// metrics.KEY with =, !=, <, <=, >, >= and a number; params.KEY, tags.KEY,
// attributes.status and attributes.run_name with = or != and a quoted
// string. Keys may be quoted with backquotes or double quotes. Results are
// newest first (order_by is ignored); page_token is an offset. Experiment
// search supports no filter other than name = '...'. data.metrics of a run
// carry the latest value of each metric with step and timestamp 0; the
// metric history has them all.
package mlflowapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/track"
)

// MaxBody is the largest request body of the tracking endpoints (MLflow's
// log-batch limit); artifact uploads follow the server's limit.
const MaxBody = 1 << 20

// Prefixes of the two APIs.
const (
	Prefix          = "/api/2.0/mlflow/"
	ArtifactsPrefix = "/api/2.0/mlflow-artifacts/artifacts"
)

type api struct{ runs *track.Service }

// Routes returns the MLflow-compatible routes, to add to hygie's server.
func Routes(runs *track.Service) []httpapi.Route {
	a := &api{runs: runs}
	rt := func(method, path, summary string, h func(r *http.Request) (any, error)) httpapi.Route {
		return httpapi.Route{Method: method, Pattern: Prefix + path, Summary: "MLflow: " + summary, Tag: "mlflow", Scope: httpapi.Authenticated, Handler: handle(h)}
	}
	return []httpapi.Route{
		rt("POST", "experiments/create", "create an experiment PROJECT/NAME", a.createExperiment),
		rt("GET", "experiments/get", "get an experiment", a.getExperiment),
		rt("GET", "experiments/get-by-name", "get an experiment by PROJECT/NAME", a.getExperimentByName),
		rt("POST", "experiments/search", "search experiments", a.searchExperiments),
		rt("GET", "experiments/search", "search experiments", a.searchExperiments),
		rt("POST", "runs/create", "create a run", a.createRun),
		rt("GET", "runs/get", "get a run", a.getRun),
		rt("POST", "runs/update", "update a run's status or name", a.updateRun),
		rt("POST", "runs/search", "search runs", a.searchRuns),
		rt("POST", "runs/log-metric", "log a metric", a.logMetric),
		rt("POST", "runs/log-parameter", "log a parameter", a.logParam),
		rt("POST", "runs/log-batch", "log metrics, params and tags at once", a.logBatch),
		rt("POST", "runs/set-tag", "set a run tag", a.setTag),
		rt("GET", "metrics/get-history", "a metric's history", a.metricHistory),
		rt("GET", "artifacts/list", "list a run's artifacts", a.listArtifacts),
		{Method: "GET", Pattern: ArtifactsPrefix, Summary: "MLflow: list artifacts (?path=EXP/RUN/artifacts/DIR)", Tag: "mlflow", Scope: httpapi.Authenticated, Handler: a.artifactList},
		{Method: "GET", Pattern: ArtifactsPrefix + "/", Summary: "MLflow: download an artifact (EXP/RUN/artifacts/PATH after the slash)", Tag: "mlflow", Scope: httpapi.Authenticated, Handler: a.artifactDownload},
		{Method: "PUT", Pattern: ArtifactsPrefix + "/", Summary: "MLflow: upload an artifact (EXP/RUN/artifacts/PATH after the slash)", Tag: "mlflow", Scope: httpapi.Authenticated, Handler: a.artifactUpload},
	}
}

// Error is an MLflow error.
type Error struct {
	Code    string `json:"error_code"`
	Message string `json:"message"`
	status  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(format string, args ...any) *Error {
	return &Error{Code: "INVALID_PARAMETER_VALUE", Message: fmt.Sprintf(format, args...), status: http.StatusBadRequest}
}

// toError maps hygie errors to MLflow's.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return invalid("request body larger than %d bytes", mbe.Limit)
	}
	msg := errs.MessageOf(err)
	switch errs.CodeOf(err) {
	case errs.Invalid:
		return invalid("%s", msg)
	case errs.NotFound:
		return &Error{"RESOURCE_DOES_NOT_EXIST", msg, http.StatusNotFound}
	case errs.Conflict:
		return &Error{"RESOURCE_ALREADY_EXISTS", msg, http.StatusBadRequest}
	case errs.Forbidden:
		return &Error{"PERMISSION_DENIED", msg, http.StatusForbidden}
	case errs.Unauthenticated:
		return &Error{"UNAUTHENTICATED", msg, http.StatusUnauthorized}
	case errs.RateLimited:
		return &Error{"REQUEST_LIMIT_EXCEEDED", msg, http.StatusTooManyRequests}
	case errs.Unavailable:
		return &Error{"TEMPORARILY_UNAVAILABLE", msg, http.StatusServiceUnavailable}
	}
	return &Error{"INTERNAL_ERROR", "internal error", http.StatusInternalServerError}
}

// handle writes the handler's result as JSON, or its error MLflow's way.
// Internal errors go to the server, which logs them and answers 500 in its
// own shape.
func handle(h func(r *http.Request) (any, error)) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		}
		out, err := h(r)
		if err != nil {
			if toError(err).status == http.StatusInternalServerError {
				return err // the server logs it and answers 500
			}
			writeError(w, err)
			return nil
		}
		if out == nil {
			out = struct{}{}
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

func writeError(w http.ResponseWriter, err error) {
	e := toError(err)
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", httpapi.RetryAfterUnavailable)
	}
	_ = writeJSON(w, e.status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body; unknown fields are ignored (clients of newer
// MLflow versions send more), an empty body is an empty request.
func decode(r *http.Request, v any) error {
	err := json.NewDecoder(r.Body).Decode(v)
	if err == io.EOF {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	if err != nil {
		return invalid("malformed JSON body: %v", err)
	}
	return nil
}

// i64 is an int64 given as a JSON number or, as protobuf's JSON mapping
// writes it, a string.
type i64 int64

func (n *i64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return invalid("%s is not an integer", b)
	}
	*n = i64(v)
	return nil
}

// f64 is a double given as a number or a string ("NaN", "Infinity"), and
// written as protobuf's JSON mapping does: a number, or the strings "NaN",
// "Infinity" and "-Infinity" (which encoding/json refuses as numbers).
type f64 float64

func (f f64) MarshalJSON() ([]byte, error) {
	switch v := float64(f); {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	default:
		return json.Marshal(v)
	}
}

func (f *f64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return invalid("%s is not a number", b)
	}
	*f = f64(v)
	return nil
}

func parseID(kind, s string) (int64, error) {
	if s == "" {
		return 0, invalid("missing value for required parameter '%s'", kind)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, &Error{"RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("%s %q not found", kind, s), http.StatusNotFound}
	}
	return id, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v i64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(v)).UTC()
}

// splitName splits an MLflow experiment name PROJECT/NAME.
func splitName(name string) (project, exp string, err error) {
	project, exp, ok := strings.Cut(name, "/")
	if !ok || project == "" || exp == "" {
		return "", "", invalid("experiment name %q: hygie names experiments PROJECT/NAME (the hygie project, a slash, the experiment name)", name)
	}
	return project, exp, nil
}

// Wire shapes.

type kv struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type experimentJSON struct {
	ID               string `json:"experiment_id"`
	Name             string `json:"name"`
	ArtifactLocation string `json:"artifact_location"`
	LifecycleStage   string `json:"lifecycle_stage"`
	CreationTime     int64  `json:"creation_time"`
	LastUpdateTime   int64  `json:"last_update_time"`
	Tags             []kv   `json:"tags,omitempty"`
}

func tagList(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	return out
}

func toExperiment(e track.Experiment) experimentJSON {
	return experimentJSON{ID: strconv.FormatInt(e.ID, 10), Name: e.Project + "/" + e.Name, ArtifactLocation: fmt.Sprintf("mlflow-artifacts:/%d", e.ID),
		LifecycleStage: "active", CreationTime: ms(e.CreatedAt), LastUpdateTime: ms(e.CreatedAt), Tags: tagList(e.Tags)}
}

type runInfo struct {
	RunID          string `json:"run_id"`
	RunUUID        string `json:"run_uuid"`
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      int64  `json:"start_time"`
	EndTime        int64  `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

type metricJSON struct {
	Key       string `json:"key"`
	Value     f64    `json:"value"`
	Timestamp int64  `json:"timestamp"`
	Step      int64  `json:"step"`
}

type runJSON struct {
	Info runInfo `json:"info"`
	Data struct {
		Metrics []metricJSON `json:"metrics"`
		Params  []kv         `json:"params"`
		Tags    []kv         `json:"tags"`
	} `json:"data"`
	Inputs struct{} `json:"inputs"`
}

func toInfo(r track.Run) runInfo {
	id := strconv.FormatInt(r.ID, 10)
	i := runInfo{RunID: id, RunUUID: id, RunName: r.Name, ExperimentID: strconv.FormatInt(r.ExperimentID, 10), UserID: r.CreatedBy,
		Status: strings.ToUpper(r.Status), StartTime: ms(r.StartedAt), ArtifactURI: fmt.Sprintf("mlflow-artifacts:/%d/%d/artifacts", r.ExperimentID, r.ID),
		LifecycleStage: "active"}
	if r.EndedAt != nil {
		i.EndTime = ms(*r.EndedAt)
	}
	return i
}

func toRun(r track.Run) runJSON {
	var out runJSON
	out.Info = toInfo(r)
	out.Data.Metrics = make([]metricJSON, 0, len(r.Metrics))
	for k, v := range r.Metrics {
		out.Data.Metrics = append(out.Data.Metrics, metricJSON{Key: k, Value: f64(v)})
	}
	out.Data.Params = tagList(r.Params)
	out.Data.Tags = tagList(r.Tags)
	return out
}

// Permission checks.

func (a *api) experiment(r *http.Request, idStr string, perm auth.Perm) (track.Experiment, error) {
	id, err := parseID("experiment_id", idStr)
	if err != nil {
		return track.Experiment{}, err
	}
	e, err := a.runs.GetExperiment(r.Context(), id)
	if err != nil {
		return e, err
	}
	return e, auth.Require(r.Context(), e.Project, perm)
}

// run checks perm on the run named by run_id (or run_uuid) and returns its id.
// runRef is how MLflow requests name a run: run_id, or the older run_uuid.
type runRef struct {
	RunID   string `json:"run_id"`
	RunUUID string `json:"run_uuid"`
}

func (rr *runRef) ref() *runRef { return rr }

// decodeRun decodes a request body that names a run and resolves the run,
// checking perm in its project.
func (a *api) decodeRun(r *http.Request, req interface{ ref() *runRef }, perm auth.Perm) (int64, error) {
	if err := decode(r, req); err != nil {
		return 0, err
	}
	rr := req.ref()
	return a.run(r, rr.RunID, rr.RunUUID, perm)
}

func (a *api) run(r *http.Request, runID, runUUID string, perm auth.Perm) (int64, error) {
	if runID == "" {
		runID = runUUID
	}
	id, err := parseID("run_id", runID)
	if err != nil {
		return 0, err
	}
	project, _, err := a.runs.RunLocation(r.Context(), id)
	if err != nil {
		return 0, err
	}
	return id, auth.Require(r.Context(), project, perm)
}

// Experiments.

func (a *api) createExperiment(r *http.Request) (any, error) {
	var req struct {
		Name             string `json:"name"`
		ArtifactLocation string `json:"artifact_location"`
		Tags             []kv   `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, invalid("missing value for required parameter 'name'")
	}
	if req.ArtifactLocation != "" {
		return nil, invalid("artifact_location is not supported: hygie keeps artifacts in its own store")
	}
	project, name, err := splitName(req.Name)
	if err != nil {
		return nil, err
	}
	if err := auth.Require(r.Context(), project, auth.PermRunWrite); err != nil {
		return nil, err
	}
	tags := make([]track.KV, len(req.Tags))
	for i, t := range req.Tags {
		tags[i] = track.KV(t)
	}
	e, err := a.runs.CreateExperiment(r.Context(), project, name, tags)
	if err != nil {
		return nil, err
	}
	return map[string]string{"experiment_id": strconv.FormatInt(e.ID, 10)}, nil
}

func (a *api) getExperiment(r *http.Request) (any, error) {
	e, err := a.experiment(r, r.URL.Query().Get("experiment_id"), auth.PermRunRead)
	if err != nil {
		return nil, err
	}
	return map[string]any{"experiment": toExperiment(e)}, nil
}

func (a *api) getExperimentByName(r *http.Request) (any, error) {
	full := r.URL.Query().Get("experiment_name")
	if full == "" {
		return nil, invalid("missing value for required parameter 'experiment_name'")
	}
	project, name, err := splitName(full)
	if err != nil {
		return nil, err
	}
	if err := auth.Require(r.Context(), project, auth.PermRunRead); err != nil {
		return nil, err
	}
	e, err := a.runs.ExperimentByName(r.Context(), project, name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"experiment": toExperiment(e)}, nil
}

var nameFilter = regexp.MustCompile(`^\s*(?:attributes\.)?name\s*=\s*['"](.*)['"]\s*$`)

func (a *api) searchExperiments(r *http.Request) (any, error) {
	var req struct {
		MaxResults i64    `json:"max_results"`
		PageToken  string `json:"page_token"`
		Filter     string `json:"filter"`
	}
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		req.PageToken, req.Filter = q.Get("page_token"), q.Get("filter")
		if v := q.Get("max_results"); v != "" {
			if err := req.MaxResults.UnmarshalJSON([]byte(v)); err != nil {
				return nil, err
			}
		}
	} else if err := decode(r, &req); err != nil {
		return nil, err
	}
	var byName string
	if req.Filter != "" {
		m := nameFilter.FindStringSubmatch(req.Filter)
		if m == nil {
			return nil, invalid("experiment filter %q: only name = '...' is supported", req.Filter)
		}
		byName = m[1]
	}
	limit, offset, err := page(req.MaxResults, req.PageToken)
	if err != nil {
		return nil, err
	}
	all, err := a.runs.ListExperiments(r.Context())
	if err != nil {
		return nil, err
	}
	p := auth.FromContext(r.Context())
	out := []experimentJSON{}
	next := ""
	skipped := 0
	for _, e := range all {
		if !p.Can(e.Project, auth.PermRunRead) || (byName != "" && e.Project+"/"+e.Name != byName) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		if len(out) == limit {
			next = strconv.Itoa(offset + limit)
			break
		}
		out = append(out, toExperiment(e))
	}
	res := map[string]any{"experiments": out}
	if next != "" {
		res["next_page_token"] = next
	}
	return res, nil
}

func page(maxResults i64, token string) (limit, offset int, err error) {
	limit = int(maxResults)
	if limit <= 0 {
		limit = 1000
	}
	if limit > 50000 {
		return 0, 0, invalid("max_results must be at most 50000")
	}
	if token != "" {
		if offset, err = strconv.Atoi(token); err != nil || offset < 0 {
			return 0, 0, invalid("invalid page_token %q", token)
		}
	}
	return limit, offset, nil
}

// Runs.

func (a *api) createRun(r *http.Request) (any, error) {
	var req struct {
		ExperimentID string `json:"experiment_id"`
		UserID       string `json:"user_id"`
		RunName      string `json:"run_name"`
		StartTime    i64    `json:"start_time"`
		Tags         []kv   `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	e, err := a.experiment(r, req.ExperimentID, auth.PermRunWrite)
	if err != nil {
		return nil, err
	}
	tags := make([]track.KV, 0, len(req.Tags))
	for _, t := range req.Tags {
		if t.Key == "mlflow.runName" && req.RunName == "" {
			req.RunName = t.Value
		}
		tags = append(tags, track.KV(t))
	}
	// user_id is the client's claim; hygie records the authenticated user.
	run, err := a.runs.StartRunIn(r.Context(), e.ID, req.RunName, fromMS(req.StartTime), tags)
	if err != nil {
		return nil, err
	}
	return map[string]any{"run": toRun(run)}, nil
}

func (a *api) getRun(r *http.Request) (any, error) {
	q := r.URL.Query()
	id, err := a.run(r, q.Get("run_id"), q.Get("run_uuid"), auth.PermRunRead)
	if err != nil {
		return nil, err
	}
	run, err := a.runs.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"run": toRun(run)}, nil
}

var statuses = map[string]string{"RUNNING": track.Running, "FINISHED": track.Finished, "FAILED": track.Failed, "KILLED": track.Killed}

func (a *api) updateRun(r *http.Request) (any, error) {
	var req struct {
		runRef
		Status  string `json:"status"`
		EndTime i64    `json:"end_time"`
		RunName string `json:"run_name"`
	}
	id, err := a.decodeRun(r, &req, auth.PermRunWrite)
	if err != nil {
		return nil, err
	}
	status, ok := statuses[req.Status]
	if req.Status != "" && !ok {
		return nil, invalid("status %q: want RUNNING, FINISHED, FAILED or KILLED", req.Status)
	}
	if err := a.runs.UpdateRun(r.Context(), id, status, req.RunName, fromMS(req.EndTime)); err != nil {
		return nil, err
	}
	run, err := a.runs.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"run_info": toInfo(run)}, nil
}

var (
	andRE  = regexp.MustCompile(`(?i)\s+and\s+`)
	condRE = regexp.MustCompile("^\\s*(metrics?|params?|parameters?|tags?|attributes?|attr|run)\\.(`[^`]+`|\"[^\"]+\"|[\\w.\\-/]+)\\s*(<=|>=|!=|=|<|>)\\s*(.+?)\\s*$")
)

// ParseFilter parses a run search filter (the supported subset).
func ParseFilter(filter string) ([]track.Cond, error) {
	if strings.TrimSpace(filter) == "" {
		return nil, nil
	}
	var conds []track.Cond
	for _, clause := range andRE.Split(strings.TrimSpace(filter), -1) {
		m := condRE.FindStringSubmatch(clause)
		if m == nil {
			return nil, invalid("filter clause %q: want metrics.KEY, params.KEY, tags.KEY or attributes.status compared with a value", clause)
		}
		c := track.Cond{Key: strings.Trim(m[2], "`\""), Op: m[3], Value: m[4]}
		switch m[1][0] {
		case 'm':
			c.Kind = "metric"
		case 'p':
			c.Kind = "param"
		case 't':
			c.Kind = "tag"
		default:
			c.Kind = "attribute"
		}
		if c.Kind == "metric" {
			if _, err := strconv.ParseFloat(c.Value, 64); err != nil {
				return nil, invalid("filter clause %q: metrics compare with a number", clause)
			}
		} else {
			v := c.Value
			if len(v) < 2 || (v[0] != '\'' && v[0] != '"') || v[len(v)-1] != v[0] {
				return nil, invalid("filter clause %q: the value must be a quoted string", clause)
			}
			c.Value = v[1 : len(v)-1]
			if c.Kind == "attribute" && c.Key == "status" {
				s, ok := statuses[strings.ToUpper(c.Value)]
				if !ok {
					return nil, invalid("filter clause %q: unknown status", clause)
				}
				c.Value = s
			}
			if c.Kind == "attribute" && c.Key != "status" && c.Key != "run_name" {
				return nil, invalid("filter clause %q: supported attributes are status and run_name", clause)
			}
		}
		conds = append(conds, c)
	}
	return conds, nil
}

func (a *api) searchRuns(r *http.Request) (any, error) {
	var req struct {
		ExperimentIDs []string `json:"experiment_ids"`
		Filter        string   `json:"filter"`
		MaxResults    i64      `json:"max_results"`
		PageToken     string   `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	conds, err := ParseFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	limit, offset, err := page(req.MaxResults, req.PageToken)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, s := range req.ExperimentIDs {
		e, err := a.experiment(r, s, auth.PermRunRead)
		if err != nil {
			return nil, err
		}
		ids = append(ids, e.ID)
	}
	runs, more, err := a.runs.SearchRuns(r.Context(), ids, conds, offset, limit)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	list := make([]runJSON, len(runs))
	for i, run := range runs {
		list[i] = toRun(run)
	}
	out["runs"] = list
	if more {
		out["next_page_token"] = strconv.Itoa(offset + limit)
	}
	return out, nil
}

type metricReq struct {
	Key       string `json:"key"`
	Value     f64    `json:"value"`
	Timestamp i64    `json:"timestamp"`
	Step      i64    `json:"step"`
}

func (m metricReq) metric() track.Metric {
	return track.Metric{Key: m.Key, Value: float64(m.Value), Step: int64(m.Step), At: fromMS(m.Timestamp)}
}

// paramErr reports a parameter logged again with another value the way
// MLflow does: INVALID_PARAMETER_VALUE.
func paramErr(err error) error {
	if errs.Is(err, errs.Conflict) {
		return invalid("%s", errs.MessageOf(err))
	}
	return err
}

func (a *api) logMetric(r *http.Request) (any, error) {
	var req struct {
		runRef
		metricReq
	}
	id, err := a.decodeRun(r, &req, auth.PermRunWrite)
	if err != nil {
		return nil, err
	}
	return nil, a.runs.LogBatch(r.Context(), id, []track.Metric{req.metric()}, nil, nil)
}

func (a *api) logParam(r *http.Request) (any, error) {
	var req struct {
		runRef
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	id, err := a.decodeRun(r, &req, auth.PermRunWrite)
	if err != nil {
		return nil, err
	}
	return nil, paramErr(a.runs.LogBatch(r.Context(), id, nil, []track.KV{{Key: req.Key, Value: req.Value}}, nil))
}

func (a *api) setTag(r *http.Request) (any, error) {
	var req struct {
		runRef
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	id, err := a.decodeRun(r, &req, auth.PermRunWrite)
	if err != nil {
		return nil, err
	}
	return nil, a.runs.SetTag(r.Context(), id, req.Key, req.Value)
}

func (a *api) logBatch(r *http.Request) (any, error) {
	var req struct {
		RunID   string      `json:"run_id"`
		Metrics []metricReq `json:"metrics"`
		Params  []kv        `json:"params"`
		Tags    []kv        `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	id, err := a.run(r, req.RunID, "", auth.PermRunWrite)
	if err != nil {
		return nil, err
	}
	if len(req.Metrics) > track.MaxBatchMetrics || len(req.Params) > track.MaxBatchParams || len(req.Tags) > track.MaxBatchTags {
		return nil, invalid("a batch holds at most %d metrics, %d params and %d tags (got %d, %d, %d)",
			track.MaxBatchMetrics, track.MaxBatchParams, track.MaxBatchTags, len(req.Metrics), len(req.Params), len(req.Tags))
	}
	metrics := make([]track.Metric, len(req.Metrics))
	for i, m := range req.Metrics {
		metrics[i] = m.metric()
	}
	params := make([]track.KV, len(req.Params))
	for i, p := range req.Params {
		params[i] = track.KV(p)
	}
	tags := make([]track.KV, len(req.Tags))
	for i, t := range req.Tags {
		tags[i] = track.KV(t)
	}
	return nil, paramErr(a.runs.LogBatch(r.Context(), id, metrics, params, tags))
}

func (a *api) metricHistory(r *http.Request) (any, error) {
	q := r.URL.Query()
	id, err := a.run(r, q.Get("run_id"), q.Get("run_uuid"), auth.PermRunRead)
	if err != nil {
		return nil, err
	}
	key := q.Get("metric_key")
	if key == "" {
		return nil, invalid("missing value for required parameter 'metric_key'")
	}
	hist, err := a.runs.MetricHistory(r.Context(), id, key)
	if err != nil {
		return nil, err
	}
	out := make([]metricJSON, len(hist))
	for i, m := range hist {
		out[i] = metricJSON{Key: m.Key, Value: f64(m.Value), Timestamp: ms(m.At), Step: m.Step}
	}
	return map[string]any{"metrics": out}, nil
}

type fileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize *int64 `json:"file_size,omitempty"`
}

func files(entries []track.ArtifactEntry, relativeTo string) []fileInfo {
	out := make([]fileInfo, len(entries))
	for i, e := range entries {
		out[i] = fileInfo{Path: strings.TrimPrefix(e.Path, relativeTo), IsDir: e.IsDir}
		if !e.IsDir {
			size := e.Size
			out[i].FileSize = &size
		}
	}
	return out
}

func (a *api) listArtifacts(r *http.Request) (any, error) {
	q := r.URL.Query()
	id, err := a.run(r, q.Get("run_id"), q.Get("run_uuid"), auth.PermRunRead)
	if err != nil {
		return nil, err
	}
	_, exp, err := a.runs.RunLocation(r.Context(), id)
	if err != nil {
		return nil, err
	}
	entries, err := a.runs.ListArtifacts(r.Context(), id, q.Get("path"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"root_uri": fmt.Sprintf("mlflow-artifacts:/%d/%d/artifacts", exp, id), "files": files(entries, "")}, nil
}

// Proxied artifacts: paths are EXPERIMENT/RUN/artifacts/PATH. The routes
// are subtree patterns (ArtifactsPrefix + "/") rather than {path...}
// wildcards, so that they appear as such in the OpenAPI document.

func (a *api) artifactPath(r *http.Request, p string, perm auth.Perm, needFile bool) (runID int64, rel string, err error) {
	parts := strings.SplitN(strings.Trim(p, "/"), "/", 4)
	if len(parts) < 3 || parts[2] != "artifacts" || (needFile && len(parts) < 4) {
		return 0, "", invalid("artifact path %q: want EXPERIMENT_ID/RUN_ID/artifacts/PATH", p)
	}
	expID, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return 0, "", invalid("artifact path %q: want EXPERIMENT_ID/RUN_ID/artifacts/PATH", p)
	}
	runID, err = parseID("run_id", parts[1])
	if err != nil {
		return 0, "", err
	}
	project, exp, err := a.runs.RunLocation(r.Context(), runID)
	if err != nil {
		return 0, "", err
	}
	if exp != expID {
		return 0, "", &Error{"RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("run %d is not in experiment %d", runID, expID), http.StatusNotFound}
	}
	if err := auth.Require(r.Context(), project, perm); err != nil {
		return 0, "", err
	}
	if len(parts) == 4 {
		rel = parts[3]
	}
	return runID, rel, nil
}

func (a *api) artifactUpload(w http.ResponseWriter, r *http.Request) error {
	id, rel, err := a.artifactPath(r, strings.TrimPrefix(r.URL.Path, ArtifactsPrefix+"/"), auth.PermRunWrite, true)
	if err == nil {
		err = a.runs.PutArtifact(r.Context(), id, rel, r.Body)
	}
	if err != nil {
		writeError(w, err)
		return nil
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

func (a *api) artifactDownload(w http.ResponseWriter, r *http.Request) error {
	id, rel, err := a.artifactPath(r, strings.TrimPrefix(r.URL.Path, ArtifactsPrefix+"/"), auth.PermRunRead, true)
	var rc io.ReadCloser
	if err == nil {
		rc, err = a.runs.OpenArtifact(r.Context(), id, rel)
	}
	if err != nil {
		writeError(w, err)
		return nil
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	_, err = io.Copy(w, rc)
	return err
}

func (a *api) artifactList(w http.ResponseWriter, r *http.Request) error {
	id, rel, err := a.artifactPath(r, r.URL.Query().Get("path"), auth.PermRunRead, false)
	var entries []track.ArtifactEntry
	if err == nil {
		entries, err = a.runs.ListArtifacts(r.Context(), id, rel)
	}
	if err != nil {
		writeError(w, err)
		return nil
	}
	prefix := strings.Trim(rel, "/")
	if prefix != "" {
		prefix += "/"
	}
	return writeJSON(w, http.StatusOK, map[string]any{"files": files(entries, prefix)})
}
