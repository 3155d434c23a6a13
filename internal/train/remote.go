package train

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/model"
)

// Remote is a training job's view of the hygie server it runs for: it
// reads the dataset version through the REST API and records the run
// through the MLflow API, with the job's token. It works wherever the job
// runs (this machine or a Slurm node) as long as the server is reachable.
type Remote struct {
	BaseURL      string // MLFLOW_TRACKING_URI
	Token        string // MLFLOW_TRACKING_TOKEN
	ExperimentID string // MLFLOW_EXPERIMENT_ID
	RunID        string // MLFLOW_RUN_ID
	Client       *http.Client
	Ctx          context.Context
}

// RemoteFromEnv reads the job environment set by hygie's job system.
func RemoteFromEnv(ctx context.Context) (*Remote, error) {
	r := &Remote{BaseURL: strings.TrimRight(os.Getenv("MLFLOW_TRACKING_URI"), "/"), Token: os.Getenv("MLFLOW_TRACKING_TOKEN"),
		ExperimentID: os.Getenv("MLFLOW_EXPERIMENT_ID"), RunID: os.Getenv("MLFLOW_RUN_ID"),
		Client: &http.Client{Timeout: 10 * time.Minute}, Ctx: ctx}
	var missing []string
	for k, v := range map[string]string{"MLFLOW_TRACKING_URI": r.BaseURL, "MLFLOW_TRACKING_TOKEN": r.Token, "MLFLOW_EXPERIMENT_ID": r.ExperimentID, "MLFLOW_RUN_ID": r.RunID} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, errs.Invalidf("not run as a hygie job: %s not set (submit training with 'hygie train --dataset')", strings.Join(missing, ", "))
	}
	return r, nil
}

func (r *Remote) do(method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(r.Ctx, method, r.BaseURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := r.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (r *Remote) postJSON(path string, in any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return r.do("POST", path, bytes.NewReader(b), "application/json", nil)
}

// LogParams logs params with MLflow log-batch (at most 100 per request).
func (r *Remote) LogParams(params map[string]string) error {
	type kv struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	var batch []kv
	keys := sortedKeys(params)
	for i, k := range keys {
		batch = append(batch, kv{k, params[k]})
		if len(batch) == 100 || i == len(keys)-1 {
			if err := r.postJSON("/api/2.0/mlflow/runs/log-batch", map[string]any{"run_id": r.RunID, "params": batch}); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

// LogMetrics logs metrics with MLflow log-batch (at most 1000 per request).
func (r *Remote) LogMetrics(ms []Metric) error {
	type metric struct {
		Key       string  `json:"key"`
		Value     float64 `json:"value"`
		Timestamp int64   `json:"timestamp"`
		Step      int64   `json:"step"`
	}
	now := time.Now().UnixMilli()
	for len(ms) > 0 {
		n := min(len(ms), 1000)
		batch := make([]metric, n)
		for i, m := range ms[:n] {
			batch[i] = metric{m.Key, m.Value, now, m.Step}
		}
		if err := r.postJSON("/api/2.0/mlflow/runs/log-batch", map[string]any{"run_id": r.RunID, "metrics": batch}); err != nil {
			return err
		}
		ms = ms[n:]
	}
	return nil
}

// PutArtifact uploads an artifact with the MLflow artifacts API.
func (r *Remote) PutArtifact(p string, data []byte) error {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return r.do("PUT", "/api/2.0/mlflow-artifacts/artifacts/"+r.ExperimentID+"/"+r.RunID+"/artifacts/"+strings.Join(parts, "/"),
		bytes.NewReader(data), "application/octet-stream", nil)
}

// Version reads a dataset version's metadata.
func (r *Remote) Version(project, name string, version int) (dataset.Version, error) {
	var v dataset.Version
	err := r.do("GET", fmt.Sprintf("/api/v1/projects/%s/datasets/%s/versions/%d", url.PathEscape(project), url.PathEscape(name), version), nil, "", &v)
	return v, err
}

// Table downloads a dataset version's content as a table (CSV export).
func (r *Remote) Table(project, name string, version int) (*model.Table, error) {
	var buf bytes.Buffer
	if err := r.do("GET", fmt.Sprintf("/api/v1/projects/%s/datasets/%s/versions/%d/content?format=csv", url.PathEscape(project), url.PathEscape(name), version), nil, "", &buf); err != nil {
		return nil, err
	}
	return ReadCSV(&buf, ',', fmt.Sprintf("%s@%d", name, version))
}

// ReadCSV reads a CSV document (header row first, fields separated by sep)
// as text columns; what names the source in errors.
func ReadCSV(rd io.Reader, sep rune, what string) (*model.Table, error) {
	cr := csv.NewReader(rd)
	cr.Comma = sep
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errs.Invalidf("%s is empty", what)
		}
		return nil, errs.Wrap(err, errs.Invalid, "%s: cannot read the header", what)
	}
	t := &model.Table{Cols: make([]model.Column, len(header))}
	for j, h := range header {
		if j == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		t.Cols[j] = model.Column{Name: h, Text: []string{}}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "%s: malformed CSV", what)
		}
		for j, v := range rec {
			t.Cols[j].Text = append(t.Cols[j].Text, v)
		}
	}
	if err := t.Check(); err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "%s", what)
	}
	if t.Rows() == 0 {
		return nil, errs.Invalidf("%s has no data rows", what)
	}
	return t, nil
}

// FromVersion completes a spec from a dataset version's column roles:
// features default to the feature and quasi-identifier columns (never
// identifiers, free text or dates); the patient column, if any, groups the
// split and the folds. Identifying versions are refused.
func FromVersion(spec *Spec, v dataset.Version) error {
	if v.Level == dataset.Identifying {
		return errs.Invalidf("dataset %s is identifying: pseudonymize it before training", v.Ref())
	}
	spec.Project, spec.Dataset = v.Project, v.Ref()
	byName := map[string]dataset.Column{}
	for _, c := range v.Columns {
		byName[c.Name] = c
	}
	if _, ok := byName[spec.Target]; !ok {
		return errs.Invalidf("the target %q is not a column of %s (columns: %s)", spec.Target, v.Ref(), strings.Join(colNames(v.Columns), ", "))
	}
	if spec.Group == "" {
		for _, c := range v.Columns {
			if c.Role == dataset.RolePatientID {
				spec.Group = c.Name
				break
			}
		}
	}
	for _, name := range append(append([]string{spec.Group, spec.SplitColumn}, spec.Features...), spec.Subgroups...) {
		if name == "" {
			continue
		}
		c, ok := byName[name]
		if !ok {
			return errs.Invalidf("column %q is not in %s (columns: %s)", name, v.Ref(), strings.Join(colNames(v.Columns), ", "))
		}
		if c.Role == dataset.RoleDirectIdentifier {
			return errs.Invalidf("column %q is a direct identifier: it cannot be used in training", name)
		}
	}
	if len(spec.Features) == 0 {
		for _, c := range v.Columns {
			if c.Name == spec.Target || c.Name == spec.Group || c.Name == spec.SplitColumn {
				continue
			}
			if c.Role == dataset.RoleFeature || c.Role == dataset.RoleQuasiIdentifier {
				spec.Features = append(spec.Features, c.Name)
			}
		}
		if len(spec.Features) == 0 {
			return errs.Invalidf("%s has no column with the role feature or quasi_identifier: name the features", v.Ref())
		}
	}
	return nil
}

func colNames(cs []dataset.Column) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// RunJob is the body of a training job: read the version through the API,
// fit, and record the run. log receives progress (the job's stdout).
func RunJob(ctx context.Context, spec Spec, log io.Writer) (*Outcome, error) {
	rm, err := RemoteFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	name, ver, err := ParseRef(spec.Dataset)
	if err != nil {
		return nil, err
	}
	v, err := rm.Version(spec.Project, name, ver)
	if err != nil {
		return nil, fmt.Errorf("reading dataset %s: %w", spec.Dataset, err)
	}
	if err := FromVersion(&spec, v); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "reading %s (%d rows) from %s\n", v.Ref(), v.Rows, rm.BaseURL)
	t, err := rm.Table(spec.Project, name, ver)
	if err != nil {
		return nil, fmt.Errorf("reading dataset %s: %w", spec.Dataset, err)
	}
	return Fit(t, spec, rm, log)
}

// ParseRef splits "name@version".
func ParseRef(ref string) (string, int, error) {
	name, vs, ok := strings.Cut(ref, "@")
	n, err := strconv.Atoi(vs)
	if !ok || name == "" || err != nil || n < 1 {
		return "", 0, errs.Invalidf("dataset %q: want NAME@VERSION, e.g. cohort_features@1", ref)
	}
	return name, n, nil
}
