// Package track is experiment tracking: experiments, runs, their parameters,
// metric series, input dataset versions and artifacts. Its model follows
// MLflow's so that the MLflow-compatible API can sit on top of it.
package track

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"path"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Run statuses.
const (
	Running  = "running"
	Finished = "finished"
	Failed   = "failed"
	Killed   = "killed"
)

// Run is one execution of training or evaluation.
type Run struct {
	ID               int64              `json:"id"`
	Project          string             `json:"project"`
	Experiment       string             `json:"experiment"`
	ExperimentID     int64              `json:"experiment_id"`
	Name             string             `json:"name"`
	Status           string             `json:"status"`
	DatasetVersionID *int64             `json:"dataset_version_id,omitempty"`
	StartedAt        time.Time          `json:"started_at"`
	EndedAt          *time.Time         `json:"ended_at,omitempty"`
	CreatedBy        string             `json:"created_by"`
	Params           map[string]string  `json:"params"`
	Metrics          map[string]float64 `json:"metrics"` // latest value of each; may be NaN or ±Inf
	Artifacts        []Artifact         `json:"artifacts"`
	Tags             map[string]string  `json:"tags,omitempty"`
}

// Artifact is a file attached to a run.
type Artifact struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	key  string
}

// Service records runs.
type Service struct {
	db        *db.DB
	blobs     blob.Store
	audit     *audit.Log
	now       func() time.Time
	group     groupCommit   // LogBatch's group commit
	locations locationCache // RunLocation's answers
}

// NewService returns the tracking service.
func NewService(d *db.DB, b blob.Store, a *audit.Log) *Service {
	return &Service{db: d, blobs: b, audit: a, now: time.Now}
}

// StartRun creates a running run in experiment (created if needed).
func (s *Service) StartRun(ctx context.Context, project, experiment, name string, datasetVersionID *int64) (Run, error) {
	if experiment == "" {
		experiment = "default"
	}
	r := Run{Project: project, Experiment: experiment, Name: name, Status: Running, DatasetVersionID: datasetVersionID,
		StartedAt: s.now().UTC(), CreatedBy: audit.ActorFrom(ctx)}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid, eid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", project)
		}
		err := tx.QueryRow(ctx, `SELECT id FROM experiments WHERE project_id = ? AND name = ?`, pid, experiment).Scan(&eid)
		if err == sql.ErrNoRows {
			err = tx.QueryRow(ctx, `INSERT INTO experiments (project_id, name, created_at) VALUES (?, ?, ?) RETURNING id`, pid, experiment, r.StartedAt).Scan(&eid)
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO runs (experiment_id, name, status, dataset_version_id, started_at, created_by) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			eid, name, Running, datasetVersionID, r.StartedAt, r.CreatedBy).Scan(&r.ID); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "run.create", Project: project, Target: fmt.Sprintf("run:%d", r.ID), Outcome: audit.Success})
	})
	return r, err
}

// LogParam records a parameter; a parameter cannot change once logged.
func (s *Service) LogParam(ctx context.Context, runID int64, key, value string) error {
	if key == "" {
		return errs.Invalidf("parameter key must not be empty")
	}
	_, err := s.db.Exec(ctx, `INSERT INTO run_params (run_id, key, value) VALUES (?, ?, ?)`, runID, key, value)
	if db.IsUniqueViolation(err) {
		return errs.Conflictf("run %d: parameter %q already logged", runID, key)
	}
	return err
}

// LogMetric appends a metric value at step. The value may be NaN or ±Inf
// (a diverging loss), as MLflow accepts them.
func (s *Service) LogMetric(ctx context.Context, runID int64, key string, value float64, step int64) error {
	if key == "" {
		return errs.Invalidf("metric key must not be empty")
	}
	v, isNaN := storedValue(value)
	_, err := s.db.Exec(ctx, `INSERT INTO run_metrics (run_id, key, value, is_nan, step, at) VALUES (?, ?, ?, ?, ?, ?)`, runID, key, v, isNaN, step, s.now().UTC())
	return err
}

// Non-finite metric values. SQLite stores a NaN REAL as NULL, so a NaN is
// stored as value 0 with is_nan set (MLflow's SQL store does the same);
// ±Inf is stored as is (SQLite's REAL and PostgreSQL's double precision
// hold it exactly).

// storedValue returns the value and is_nan columns of a metric value.
func storedValue(v float64) (float64, bool) {
	if math.IsNaN(v) {
		return 0, true
	}
	return v, false
}

// metricValue is the SQL expression of a stored metric value of run_metrics
// alias m: NULL for a NaN, so that it matches no comparison in a search.
const metricValue = `CASE WHEN m.is_nan THEN NULL ELSE m.value END`

// loadedValue is a metric value read through metricValue.
func loadedValue(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}

// PutArtifact stores a file under the run.
func (s *Service) PutArtifact(ctx context.Context, runID int64, p string, r io.Reader) error {
	clean := path.Clean(p)
	if err := blob.ValidateKey(clean); err != nil || clean != p {
		return errs.Invalidf("artifact path %q: use a relative path without '..'", p)
	}
	key, size, err := blob.PutContent(ctx, s.blobs, r)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `INSERT INTO run_artifacts (run_id, path, blob_key, size) VALUES (?, ?, ?, ?)`, runID, p, key, size)
	if db.IsUniqueViolation(err) {
		return errs.Conflictf("run %d: artifact %q already exists", runID, p)
	}
	return err
}

// OpenArtifact reads a run's artifact.
func (s *Service) OpenArtifact(ctx context.Context, runID int64, p string) (io.ReadCloser, error) {
	var key string
	if err := s.db.QueryRow(ctx, `SELECT blob_key FROM run_artifacts WHERE run_id = ? AND path = ?`, runID, p).Scan(&key); err != nil {
		return nil, db.NotFound(err, "run %d has no artifact %q", runID, p)
	}
	return s.blobs.Get(ctx, key)
}

// End sets a run's final status.
func (s *Service) End(ctx context.Context, runID int64, status string) error {
	if status != Finished && status != Failed && status != Killed {
		return errs.Invalidf("run status %q: want finished, failed or killed", status)
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE runs SET status = ?, ended_at = ? WHERE id = ? AND status = 'running'`, status, s.now().UTC(), runID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.Conflictf("run %d is not running", runID)
		}
		var project string
		if err := tx.QueryRow(ctx, `SELECT p.name FROM runs r JOIN experiments e ON e.id = r.experiment_id JOIN projects p ON p.id = e.project_id WHERE r.id = ?`, runID).Scan(&project); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "run.end", Project: project, Target: fmt.Sprintf("run:%d", runID), Outcome: audit.Success, Detail: audit.MarshalDetail(map[string]any{"status": status})})
	})
}

const runCols = `r.id, p.name, e.name, r.name, r.status, r.dataset_version_id, r.started_at, r.ended_at, r.created_by, e.id`
const runFrom = ` FROM runs r JOIN experiments e ON e.id = r.experiment_id JOIN projects p ON p.id = e.project_id `

func scanRun(sc db.Scanner) (Run, error) {
	var (
		r     Run
		ds    sql.NullInt64
		ended sql.NullTime
	)
	err := sc.Scan(&r.ID, &r.Project, &r.Experiment, &r.Name, &r.Status, &ds, &r.StartedAt, &ended, &r.CreatedBy, &r.ExperimentID)
	if ds.Valid {
		r.DatasetVersionID = &ds.Int64
	}
	if ended.Valid {
		t := ended.Time.UTC()
		r.EndedAt = &t
	}
	r.StartedAt = r.StartedAt.UTC()
	return r, err
}

// Get returns a run with its parameters, latest metrics and artifacts.
func (s *Service) Get(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(s.db.QueryRow(ctx, `SELECT `+runCols+runFrom+`WHERE r.id = ?`, id))
	if err != nil {
		return r, db.NotFound(err, "run %d not found", id)
	}
	params, err := db.All(ctx, s.db, scanPair[string], `SELECT key, value FROM run_params WHERE run_id = ?`, id)
	if err != nil {
		return r, err
	}
	// Latest value per key: the highest step, then the latest time, then
	// the highest value (MLflow's order).
	metrics, err := db.All(ctx, s.db, scanPair[sql.NullFloat64], `SELECT m.key, `+metricValue+` FROM run_metrics m WHERE m.run_id = ? ORDER BY m.key, m.step, m.at, m.value`, id)
	if err != nil {
		return r, err
	}
	r.Params, r.Metrics = map[string]string{}, map[string]float64{}
	for _, p := range params {
		r.Params[p.k] = p.v
	}
	for _, m := range metrics {
		r.Metrics[m.k] = loadedValue(m.v)
	}
	r.Artifacts, err = db.All(ctx, s.db, func(sc db.Scanner) (Artifact, error) {
		var a Artifact
		return a, sc.Scan(&a.Path, &a.Size, &a.key)
	}, `SELECT path, size, blob_key FROM run_artifacts WHERE run_id = ? ORDER BY path`, id)
	if err != nil {
		return r, err
	}
	tags, err := db.All(ctx, s.db, scanPair[string], `SELECT key, value FROM run_tags WHERE run_id = ?`, id)
	if len(tags) > 0 {
		r.Tags = map[string]string{}
		for _, t := range tags {
			r.Tags[t.k] = t.v
		}
	}
	return r, err
}

type pair[V any] struct {
	k string
	v V
}

func scanPair[V any](sc db.Scanner) (pair[V], error) {
	var p pair[V]
	return p, sc.Scan(&p.k, &p.v)
}

// List returns a project's runs, newest first, without details.
func (s *Service) List(ctx context.Context, project string) ([]Run, error) {
	return db.All(ctx, s.db, scanRun, `SELECT `+runCols+runFrom+`WHERE p.name = ? ORDER BY r.id DESC LIMIT 500`, project)
}
