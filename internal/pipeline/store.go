package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Run states, and the step states beyond them.
const (
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
	Cancelled = "cancelled"
	Pending   = "pending"
	Cached    = "cached"
	Skipped   = "skipped"
)

// Pipeline is a stored pipeline file.
type Pipeline struct {
	ID        int64     `json:"id"`
	Project   string    `json:"project"`
	Name      string    `json:"name"`
	Spec      string    `json:"spec"`
	Digest    string    `json:"digest"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RunRecord is one recorded pipeline run.
type RunRecord struct {
	ID         int64             `json:"id"`
	Pipeline   string            `json:"pipeline"`
	Project    string            `json:"project"`
	SpecDigest string            `json:"spec_digest"`
	Trigger    string            `json:"trigger"`
	Params     map[string]string `json:"params"`
	State      string            `json:"state"`
	Error      string            `json:"error,omitempty"`
	CreatedBy  string            `json:"created_by"`
	CreatedAt  time.Time         `json:"created_at"`
	EndedAt    *time.Time        `json:"ended_at,omitempty"`
	Steps      []StepRecord      `json:"steps,omitempty"`
}

// StepRecord is a step of a recorded run.
type StepRecord struct {
	Name      string     `json:"name"`
	Type      string     `json:"type"`
	State     string     `json:"state"`
	Reason    string     `json:"reason,omitempty"`
	CacheKey  string     `json:"cache_key,omitempty"`
	Cached    bool       `json:"cached"`
	JobID     *int64     `json:"job_id,omitempty"`
	Attempts  int        `json:"attempts"`
	Outputs   []Output   `json:"outputs,omitempty"`
	Error     string     `json:"error,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
}

// Duration is how long the step took (0 when it has not ended).
func (s StepRecord) Duration() time.Duration {
	if s.StartedAt == nil || s.EndedAt == nil {
		return 0
	}
	return s.EndedAt.Sub(*s.StartedAt)
}

type cacheEntry struct {
	Key         string
	StepVersion int
	ConfigHash  string
	InputsHash  string
	Outputs     []Output
}

func projectID(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) *sql.Row
}, project string) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&id)
	return id, db.NotFound(err, "project %q not found", project)
}

// save stores (or updates) the pipeline file, returning its id.
func (s *Service) save(ctx context.Context, project string, spec *Spec, user string) (int64, error) {
	var id int64
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		pid, err := projectID(ctx, tx, project)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		var digest string
		err = tx.QueryRow(ctx, `SELECT id, digest FROM pipelines WHERE project_id = ? AND name = ?`, pid, spec.Name).Scan(&id, &digest)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := tx.QueryRow(ctx, `INSERT INTO pipelines (project_id, name, spec, digest, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				pid, spec.Name, string(spec.Source), spec.Digest, user, now, now).Scan(&id); err != nil {
				return err
			}
		case err != nil:
			return err
		case digest == spec.Digest:
			return nil
		default:
			if _, err := tx.Exec(ctx, `UPDATE pipelines SET spec = ?, digest = ?, updated_at = ? WHERE id = ?`, string(spec.Source), spec.Digest, now, id); err != nil {
				return err
			}
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{Action: "pipeline.save", Project: project, Target: "pipeline:" + spec.Name, Outcome: audit.Success,
			Detail: "digest " + spec.Digest})
	})
	return id, err
}

// Get returns a stored pipeline.
func (s *Service) Get(ctx context.Context, project, name string) (Pipeline, error) {
	if err := auth.Require(ctx, project, auth.PermProjectRead); err != nil {
		return Pipeline{}, err
	}
	p := Pipeline{Project: project}
	err := s.DB.QueryRow(ctx, `SELECT p.id, p.name, p.spec, p.digest, p.created_by, p.updated_at FROM pipelines p JOIN projects pr ON pr.id = p.project_id
		WHERE pr.name = ? AND p.name = ?`, project, name).Scan(&p.ID, &p.Name, &p.Spec, &p.Digest, &p.CreatedBy, &p.UpdatedAt)
	return p, db.NotFound(err, "pipeline %q not found in project %q", name, project)
}

// List returns a project's stored pipelines.
func (s *Service) List(ctx context.Context, project string) ([]Pipeline, error) {
	if err := auth.Require(ctx, project, auth.PermProjectRead); err != nil {
		return nil, err
	}
	return db.All(ctx, s.DB, func(sc db.Scanner) (Pipeline, error) {
		p := Pipeline{Project: project}
		return p, sc.Scan(&p.ID, &p.Name, &p.Spec, &p.Digest, &p.CreatedBy, &p.UpdatedAt)
	}, `SELECT p.id, p.name, p.spec, p.digest, p.created_by, p.updated_at FROM pipelines p JOIN projects pr ON pr.id = p.project_id
		WHERE pr.name = ? ORDER BY p.name`, project)
}

func (s *Service) lookupCache(ctx context.Context, project, pipeline, step, key string) (*cacheEntry, error) {
	q := `SELECT c.cache_key, c.step_version, c.config_hash, c.inputs_hash, c.outputs FROM pipeline_cache c JOIN projects p ON p.id = c.project_id
		WHERE p.name = ? AND c.pipeline = ? AND c.step = ?`
	args := []any{project, pipeline, step}
	if key != "" {
		q += ` AND c.cache_key = ?`
		args = append(args, key)
	}
	q += ` ORDER BY c.id DESC LIMIT 1`
	var e cacheEntry
	var outs string
	err := s.DB.QueryRow(ctx, q, args...).Scan(&e.Key, &e.StepVersion, &e.ConfigHash, &e.InputsHash, &outs)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(outs), &e.Outputs); err != nil {
		return nil, fmt.Errorf("cached outputs of %s: %w", step, err)
	}
	return &e, nil
}

func (s *Service) storeCache(ctx context.Context, project, pipeline, step string, k keyParts, outs []Output, runID int64) error {
	key, config, inputs := k.hashes()
	b, _ := json.Marshal(outs)
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		pid, err := projectID(ctx, tx, project)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM pipeline_cache WHERE project_id = ? AND pipeline = ? AND step = ? AND cache_key = ?`, pid, pipeline, step, key); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO pipeline_cache (project_id, pipeline, step, cache_key, step_version, config_hash, inputs_hash, outputs, pipeline_run_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, pid, pipeline, step, key, k.Version, config, inputs, string(b), runID, s.now().UTC())
		return err
	})
}

func (s *Service) createRun(ctx context.Context, pipelineID int64, project string, spec *Spec, trigger string, params map[string]string, user string) (RunRecord, error) {
	r := RunRecord{Pipeline: spec.Name, Project: project, SpecDigest: spec.Digest, Trigger: trigger, Params: params, State: Running, CreatedBy: user, CreatedAt: s.now().UTC()}
	pb, _ := json.Marshal(params)
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO pipeline_runs (pipeline_id, spec_digest, triggered_by, params, state, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			pipelineID, spec.Digest, trigger, string(pb), Running, user, r.CreatedAt).Scan(&r.ID); err != nil {
			return err
		}
		for _, st := range spec.Order() {
			if _, err := tx.Exec(ctx, `INSERT INTO pipeline_steps (run_id, name, type, state) VALUES (?, ?, ?, ?)`, r.ID, st.Name, st.Type, Pending); err != nil {
				return err
			}
			r.Steps = append(r.Steps, StepRecord{Name: st.Name, Type: st.Type, State: Pending})
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{Action: "pipeline.run", Project: project, Target: fmt.Sprintf("pipeline-run:%d", r.ID), Outcome: audit.Success,
			Detail: fmt.Sprintf("pipeline %s, trigger %s", spec.Name, trigger)})
	})
	return r, err
}

// saveStep records a step's state where no caller can take the error: it is
// logged (run, step, error), the run going on.
func (s *Service) saveStep(ctx context.Context, runID int64, st StepRecord) {
	if err := s.updateStep(ctx, runID, st); err != nil {
		slog.ErrorContext(ctx, "pipeline step state not recorded", "run", runID, "step", st.Name, "state", st.State, "err", err)
	}
}

func (s *Service) updateStep(ctx context.Context, runID int64, st StepRecord) error {
	outs, _ := json.Marshal(st.Outputs)
	_, err := s.DB.Exec(ctx, `UPDATE pipeline_steps SET state = ?, reason = ?, cache_key = ?, cached = ?, job_id = ?, attempts = ?, outputs = ?, error = ?, started_at = ?, ended_at = ?
		WHERE run_id = ? AND name = ?`, st.State, st.Reason, st.CacheKey, st.Cached, st.JobID, st.Attempts, string(outs), st.Error, st.StartedAt, st.EndedAt, runID, st.Name)
	if err != nil {
		return err
	}
	if st.State == Succeeded {
		for _, o := range st.Outputs {
			if o.Kind == KindReport {
				continue
			}
			if _, err := s.DB.Exec(ctx, `INSERT INTO pipeline_lineage (pipeline_run_id, step, kind, ref) VALUES (?, ?, ?, ?)`, runID, st.Name, string(o.Kind), o.Ref); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) finishRun(ctx context.Context, r *RunRecord) error {
	now := s.now().UTC()
	r.EndedAt = &now
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE pipeline_runs SET state = ?, error = ?, ended_at = ? WHERE id = ?`, r.State, r.Error, now, r.ID); err != nil {
			return err
		}
		outcome := audit.Success
		if r.State != Succeeded {
			outcome = audit.Failure
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{Action: "pipeline.run." + r.State, Project: r.Project, Target: fmt.Sprintf("pipeline-run:%d", r.ID), Outcome: outcome})
	})
}

func (s *Service) cancelRequested(ctx context.Context, runID int64) bool {
	var c bool
	if err := s.DB.QueryRow(ctx, `SELECT cancel_requested FROM pipeline_runs WHERE id = ?`, runID).Scan(&c); err != nil {
		// Not knowing is not a cancellation: the run goes on, and the
		// next check asks again.
		slog.WarnContext(ctx, "pipeline run: cannot read its cancellation", "run", runID, "err", err)
		return false
	}
	return c
}

const runCols = `r.id, pl.name, pr.name, r.spec_digest, r.triggered_by, r.params, r.state, r.error, r.created_by, r.created_at, r.ended_at`

func scanRun(sc db.Scanner) (RunRecord, error) {
	var r RunRecord
	var params string
	var ended sql.NullTime
	if err := sc.Scan(&r.ID, &r.Pipeline, &r.Project, &r.SpecDigest, &r.Trigger, &params, &r.State, &r.Error, &r.CreatedBy, &r.CreatedAt, &ended); err != nil {
		return r, err
	}
	if ended.Valid {
		r.EndedAt = &ended.Time
	}
	if err := json.Unmarshal([]byte(params), &r.Params); err != nil {
		return r, fmt.Errorf("pipeline run %d: stored parameters: %w", r.ID, err)
	}
	return r, nil
}

// Runs lists a pipeline's runs, newest first ("" pipeline: all the project's).
func (s *Service) Runs(ctx context.Context, project, pipeline string, limit int) ([]RunRecord, error) {
	if err := auth.Require(ctx, project, auth.PermProjectRead); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 50
	}
	q := `SELECT ` + runCols + ` FROM pipeline_runs r JOIN pipelines pl ON pl.id = r.pipeline_id JOIN projects pr ON pr.id = pl.project_id WHERE pr.name = ?`
	args := []any{project}
	if pipeline != "" {
		q += ` AND pl.name = ?`
		args = append(args, pipeline)
	}
	q += fmt.Sprintf(` ORDER BY r.id DESC LIMIT %d`, limit)
	return db.All(ctx, s.DB, scanRun, q, args...)
}

// GetRun returns a run with its steps.
func (s *Service) GetRun(ctx context.Context, project string, id int64) (RunRecord, error) {
	if err := auth.Require(ctx, project, auth.PermProjectRead); err != nil {
		return RunRecord{}, err
	}
	r, err := scanRun(s.DB.QueryRow(ctx, `SELECT `+runCols+` FROM pipeline_runs r JOIN pipelines pl ON pl.id = r.pipeline_id JOIN projects pr ON pr.id = pl.project_id
		WHERE pr.name = ? AND r.id = ?`, project, id))
	if err != nil {
		return r, db.NotFound(err, "pipeline run %d not found in project %q", id, project)
	}
	r.Steps, err = db.All(ctx, s.DB, func(sc db.Scanner) (StepRecord, error) {
		var st StepRecord
		var outs string
		var job sql.NullInt64
		var started, ended sql.NullTime
		if err := sc.Scan(&st.Name, &st.Type, &st.State, &st.Reason, &st.CacheKey, &st.Cached, &job, &st.Attempts, &outs, &st.Error, &started, &ended); err != nil {
			return st, err
		}
		if job.Valid {
			st.JobID = &job.Int64
		}
		if started.Valid {
			st.StartedAt = &started.Time
		}
		if ended.Valid {
			st.EndedAt = &ended.Time
		}
		if err := json.Unmarshal([]byte(outs), &st.Outputs); err != nil {
			return st, fmt.Errorf("pipeline run %d, step %s: stored outputs: %w", id, st.Name, err)
		}
		return st, nil
	}, `SELECT name, type, state, reason, cache_key, cached, job_id, attempts, outputs, error, started_at, ended_at FROM pipeline_steps WHERE run_id = ? ORDER BY id`, id)
	return r, err
}

// RequestCancel asks a running pipeline run to stop: the process running
// it cancels its steps' jobs.
func (s *Service) RequestCancel(ctx context.Context, project string, id int64) (RunRecord, error) {
	if err := auth.Require(ctx, project, auth.PermRunWrite); err != nil {
		return RunRecord{}, err
	}
	r, err := s.GetRun(ctx, project, id)
	if err != nil {
		return r, err
	}
	if r.State != Running {
		return r, errs.Conflictf("pipeline run %d has already ended (%s)", id, r.State)
	}
	if _, err := s.DB.Exec(ctx, `UPDATE pipeline_runs SET cancel_requested = ? WHERE id = ?`, true, id); err != nil {
		return r, err
	}
	s.mu.Lock()
	if cancel, ok := s.cancels[id]; ok {
		cancel()
	}
	s.mu.Unlock()
	if err := s.Audit.Append(ctx, audit.Event{Action: "pipeline.cancel", Project: project, Target: fmt.Sprintf("pipeline-run:%d", id), Outcome: audit.Success}); err != nil {
		return r, err
	}
	return r, nil
}

// RunOf returns the pipeline run that produced an artifact (kind, ref),
// for lineage (0 when none did).
func (s *Service) RunOf(ctx context.Context, kind Kind, ref string) (int64, error) {
	var id int64
	err := s.DB.QueryRow(ctx, `SELECT pipeline_run_id FROM pipeline_lineage WHERE kind = ? AND ref = ? ORDER BY pipeline_run_id LIMIT 1`, string(kind), ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// Save stores a parsed and validated pipeline file
// (run.write) so that its triggers and the UI can run it.
func (s *Service) Save(ctx context.Context, project string, spec *Spec) (Pipeline, error) {
	if err := auth.Require(ctx, project, auth.PermRunWrite); err != nil {
		return Pipeline{}, err
	}
	if _, err := s.save(ctx, project, spec, auth.FromContext(ctx).Username); err != nil {
		return Pipeline{}, err
	}
	return s.Get(ctx, project, spec.Name)
}

// LoadStored parses and validates a stored pipeline with overrides.
func (s *Service) LoadStored(ctx context.Context, project, name string, overrides map[string]string) (*Spec, map[string]string, error) {
	p, err := s.Get(ctx, project, name)
	if err != nil {
		return nil, nil, err
	}
	return s.Load(ctx, project, name+".yaml", []byte(p.Spec), overrides)
}
