package track

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Experiment groups the runs of one question in a project.
type Experiment struct {
	ID        int64             `json:"id"`
	Project   string            `json:"project"`
	Name      string            `json:"name"`
	CreatedAt time.Time         `json:"created_at"`
	Tags      map[string]string `json:"tags,omitempty"`
}

// Metric is one logged value of a metric series.
type Metric struct {
	Key   string    `json:"key"`
	Value float64   `json:"value"`
	Step  int64     `json:"step"`
	At    time.Time `json:"at"` // zero: now
}

// KV is a parameter or a tag.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Batch limits, those of MLflow's log-batch.
const (
	MaxBatchMetrics = 1000
	MaxBatchParams  = 100
	MaxBatchTags    = 100
)

// CreateExperiment creates an experiment in project; the name must be new.
func (s *Service) CreateExperiment(ctx context.Context, project, name string, tags []KV) (Experiment, error) {
	e := Experiment{Project: project, Name: name, CreatedAt: s.now().UTC()}
	if name == "" {
		return e, errs.Invalidf("experiment name must not be empty")
	}
	for _, t := range tags {
		if t.Key == "" {
			return e, errs.Invalidf("tag key must not be empty")
		}
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", project)
		}
		err := tx.QueryRow(ctx, `INSERT INTO experiments (project_id, name, created_at) VALUES (?, ?, ?) RETURNING id`, pid, name, e.CreatedAt).Scan(&e.ID)
		if db.IsUniqueViolation(err) {
			return errs.Conflictf("experiment %q already exists in project %q", name, project)
		}
		if err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tx.Exec(ctx, `INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value`, e.ID, t.Key, t.Value); err != nil {
				return err
			}
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "experiment.create", Project: project, Target: fmt.Sprintf("experiment:%d", e.ID), Outcome: audit.Success})
	})
	if err != nil {
		return Experiment{}, err
	}
	return s.GetExperiment(ctx, e.ID)
}

const expSelect = `SELECT e.id, p.name, e.name, e.created_at FROM experiments e JOIN projects p ON p.id = e.project_id `

func scanExperiment(sc db.Scanner) (Experiment, error) {
	var e Experiment
	err := sc.Scan(&e.ID, &e.Project, &e.Name, &e.CreatedAt)
	e.CreatedAt = e.CreatedAt.UTC()
	return e, err
}

func (s *Service) experimentTags(ctx context.Context, e *Experiment) error {
	tags, err := db.All(ctx, s.db, scanPair[string], `SELECT key, value FROM experiment_tags WHERE experiment_id = ?`, e.ID)
	if len(tags) > 0 {
		e.Tags = map[string]string{}
		for _, t := range tags {
			e.Tags[t.k] = t.v
		}
	}
	return err
}

// GetExperiment returns an experiment with its tags.
func (s *Service) GetExperiment(ctx context.Context, id int64) (Experiment, error) {
	e, err := scanExperiment(s.db.QueryRow(ctx, expSelect+`WHERE e.id = ?`, id))
	if err != nil {
		return e, db.NotFound(err, "experiment %d not found", id)
	}
	return e, s.experimentTags(ctx, &e)
}

// ExperimentByName returns a project's experiment by name.
func (s *Service) ExperimentByName(ctx context.Context, project, name string) (Experiment, error) {
	e, err := scanExperiment(s.db.QueryRow(ctx, expSelect+`WHERE p.name = ? AND e.name = ?`, project, name))
	if err != nil {
		return e, db.NotFound(err, "experiment %q not found in project %q", name, project)
	}
	return e, s.experimentTags(ctx, &e)
}

// ListExperiments returns every experiment (the caller filters by
// permission), oldest first, with their tags.
func (s *Service) ListExperiments(ctx context.Context) ([]Experiment, error) {
	es, err := db.All(ctx, s.db, scanExperiment, expSelect+`ORDER BY e.id`)
	if err != nil {
		return nil, err
	}
	for i := range es {
		if err := s.experimentTags(ctx, &es[i]); err != nil {
			return nil, err
		}
	}
	return es, nil
}

// StartRunIn creates a running run in an existing experiment; start zero
// means now.
func (s *Service) StartRunIn(ctx context.Context, experimentID int64, name string, start time.Time, tags []KV) (Run, error) {
	if start.IsZero() {
		start = s.now()
	}
	for _, t := range tags {
		if t.Key == "" {
			return Run{}, errs.Invalidf("tag key must not be empty")
		}
	}
	var id int64
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var project string
		if err := tx.QueryRow(ctx, `SELECT p.name FROM experiments e JOIN projects p ON p.id = e.project_id WHERE e.id = ?`, experimentID).Scan(&project); err != nil {
			return db.NotFound(err, "experiment %d not found", experimentID)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO runs (experiment_id, name, status, started_at, created_by) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			experimentID, name, Running, start.UTC(), audit.ActorFrom(ctx)).Scan(&id); err != nil {
			return err
		}
		if err := setTagsTx(ctx, tx, id, tags); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "run.create", Project: project, Target: fmt.Sprintf("run:%d", id), Outcome: audit.Success})
	})
	if err != nil {
		return Run{}, err
	}
	return s.Get(ctx, id)
}

func setTagsTx(ctx context.Context, tx *db.Tx, runID int64, tags []KV) error {
	for _, t := range tags {
		if _, err := tx.Exec(ctx, `INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`, runID, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

// SetTag sets (or replaces) a run's tag.
func (s *Service) SetTag(ctx context.Context, runID int64, key, value string) error {
	return s.LogBatch(ctx, runID, nil, nil, []KV{{key, value}})
}

// MetricHistory returns every value of a run's metric, by step then time.
func (s *Service) MetricHistory(ctx context.Context, runID int64, key string) ([]Metric, error) {
	return db.All(ctx, s.db, func(sc db.Scanner) (Metric, error) {
		var m Metric
		err := sc.Scan(&m.Key, &m.Value, &m.Step, &m.At)
		m.At = m.At.UTC()
		return m, err
	}, `SELECT key, value, step, at FROM run_metrics WHERE run_id = ? AND key = ? ORDER BY step, at`, runID, key)
}

// UpdateRun renames a run (name non-empty) and sets its status: running
// keeps a running run running; a final status ends it, at end if given.
// Setting the status a run already has is accepted.
func (s *Service) UpdateRun(ctx context.Context, runID int64, status, name string, end time.Time) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		var cur, project string
		if err := tx.QueryRow(ctx, `SELECT r.status, p.name`+runFrom+`WHERE r.id = ?`, runID).Scan(&cur, &project); err != nil {
			return db.NotFound(err, "run %d not found", runID)
		}
		if name != "" {
			if _, err := tx.Exec(ctx, `UPDATE runs SET name = ? WHERE id = ?`, name, runID); err != nil {
				return err
			}
		}
		switch {
		case status == "" || status == cur:
			return nil
		case status == Running:
			return errs.Invalidf("run %d is %s: it cannot run again", runID, cur)
		case status != Finished && status != Failed && status != Killed:
			return errs.Invalidf("run status %q: want finished, failed or killed", status)
		case cur != Running:
			return errs.Invalidf("run %d is already %s", runID, cur)
		}
		if end.IsZero() {
			end = s.now()
		}
		if _, err := tx.Exec(ctx, `UPDATE runs SET status = ?, ended_at = ? WHERE id = ?`, status, end.UTC(), runID); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "run.end", Project: project, Target: fmt.Sprintf("run:%d", runID), Outcome: audit.Success, Detail: audit.MarshalDetail(map[string]any{"status": status})})
	})
}

// ArtifactEntry is a file or directory in a run's artifact listing.
type ArtifactEntry struct {
	Path  string `json:"path"`
	IsDir bool   `json:"is_dir"`
	Size  int64  `json:"size"`
}

// ListArtifacts lists the direct children of dir ("" for the root) among
// a run's artifacts.
func (s *Service) ListArtifacts(ctx context.Context, runID int64, dir string) ([]ArtifactEntry, error) {
	dir = strings.Trim(dir, "/")
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	arts, err := db.All(ctx, s.db, func(sc db.Scanner) (Artifact, error) {
		var a Artifact
		return a, sc.Scan(&a.Path, &a.Size)
	}, `SELECT path, size FROM run_artifacts WHERE run_id = ? ORDER BY path`, runID)
	if err != nil {
		return nil, err
	}
	var out []ArtifactEntry
	dirs := map[string]bool{}
	for _, a := range arts {
		rest, ok := strings.CutPrefix(a.Path, prefix)
		if !ok || rest == "" {
			continue
		}
		if sub, _, isDir := strings.Cut(rest, "/"); isDir {
			if !dirs[sub] {
				dirs[sub] = true
				out = append(out, ArtifactEntry{Path: prefix + sub, IsDir: true})
			}
			continue
		}
		out = append(out, ArtifactEntry{Path: a.Path, Size: a.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Cond is one comparison of a run search.
type Cond struct {
	Kind  string // metric, param, tag or attribute (status, run_name)
	Key   string
	Op    string // =, !=, <, <=, >, >= (numbers for metrics; = and != for strings)
	Value string
}

func (c Cond) match(r Run) (bool, error) {
	var have string
	var ok bool
	switch c.Kind {
	case "metric":
		v, ok := r.Metrics[c.Key]
		if !ok {
			return false, nil
		}
		want, err := strconv.ParseFloat(c.Value, 64)
		if err != nil {
			return false, errs.Invalidf("metric %q compared with %q: want a number", c.Key, c.Value)
		}
		switch c.Op {
		case "=":
			return v == want, nil
		case "!=":
			return v != want, nil
		case "<":
			return v < want, nil
		case "<=":
			return v <= want, nil
		case ">":
			return v > want, nil
		case ">=":
			return v >= want, nil
		}
		return false, errs.Invalidf("operator %q not supported on metrics", c.Op)
	case "param":
		have, ok = r.Params[c.Key]
	case "tag":
		have, ok = r.Tags[c.Key]
	case "attribute":
		switch c.Key {
		case "status":
			have, ok = r.Status, true
		case "run_name":
			have, ok = r.Name, true
		default:
			return false, errs.Invalidf("attribute %q not supported in a search (status, run_name)", c.Key)
		}
	default:
		return false, errs.Invalidf("unknown search entity %q", c.Kind)
	}
	if !ok {
		return false, nil
	}
	switch c.Op {
	case "=":
		return have == c.Value, nil
	case "!=":
		return have != c.Value, nil
	}
	return false, errs.Invalidf("operator %q not supported on %ss (= and !=)", c.Op, c.Kind)
}

// SearchRuns returns the runs of experiments matching all conds, newest
// first, skipping offset and returning at most limit; more says whether
// runs remain.
func (s *Service) SearchRuns(ctx context.Context, experimentIDs []int64, conds []Cond, offset, limit int) (runs []Run, more bool, err error) {
	if len(experimentIDs) == 0 {
		return nil, false, nil
	}
	q := `SELECT r.id FROM runs r WHERE r.experiment_id IN (?` + strings.Repeat(", ?", len(experimentIDs)-1) + `) ORDER BY r.started_at DESC, r.id DESC`
	args := make([]any, len(experimentIDs))
	for i, id := range experimentIDs {
		args[i] = id
	}
	ids, err := db.All(ctx, s.db, func(sc db.Scanner) (int64, error) {
		var id int64
		return id, sc.Scan(&id)
	}, q, args...)
	if err != nil {
		return nil, false, err
	}
	skipped := 0
	for _, id := range ids {
		r, err := s.Get(ctx, id)
		if err != nil {
			return nil, false, err
		}
		keep := true
		for _, c := range conds {
			if keep, err = c.match(r); err != nil {
				return nil, false, err
			} else if !keep {
				break
			}
		}
		if !keep {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		if len(runs) == limit {
			return runs, true, nil
		}
		runs = append(runs, r)
	}
	return runs, false, nil
}
