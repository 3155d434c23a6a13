package track

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
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
		var (
			m Metric
			v sql.NullFloat64
		)
		err := sc.Scan(&m.Key, &v, &m.Step, &m.At)
		m.Value, m.At = loadedValue(v), m.At.UTC()
		return m, err
	}, `SELECT m.key, `+metricValue+`, m.step, m.at FROM run_metrics m WHERE m.run_id = ? AND m.key = ? ORDER BY m.step, m.at`, runID, key)
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

// validate checks a condition once, before any run is read.
func (c Cond) validate() error {
	switch c.Kind {
	case "metric":
		if _, err := strconv.ParseFloat(c.Value, 64); err != nil {
			return errs.Invalidf("metric %q compared with %q: want a number", c.Key, c.Value)
		}
		switch c.Op {
		case "=", "!=", "<", "<=", ">", ">=":
			return nil
		}
		return errs.Invalidf("operator %q not supported on metrics", c.Op)
	case "param", "tag":
	case "attribute":
		if c.Key != "status" && c.Key != "run_name" {
			return errs.Invalidf("attribute %q not supported in a search (status, run_name)", c.Key)
		}
	default:
		return errs.Invalidf("unknown search entity %q", c.Kind)
	}
	if c.Op != "=" && c.Op != "!=" {
		return errs.Invalidf("operator %q not supported on %ss (= and !=)", c.Op, c.Kind)
	}
	return nil
}

// sql returns the condition as a WHERE term on runs r, with its arguments;
// it has match's semantics: a run without the metric, parameter or tag does
// not match, whatever the operator, and neither does a run whose metric is
// NaN (as in MLflow: NaN compares false, even with !=). The latest value of
// a metric is the one of the highest step, then the latest time, then the
// highest value, as Get reports it (and MLflow).
func (c Cond) sql() (string, []any) {
	op := c.Op
	if op == "!=" {
		op = "<>"
	}
	switch c.Kind {
	case "metric":
		v, _ := strconv.ParseFloat(c.Value, 64)
		return `(SELECT ` + metricValue + ` FROM run_metrics m WHERE m.run_id = r.id AND m.key = ? ORDER BY m.step DESC, m.at DESC, m.value DESC LIMIT 1) ` + op + ` ?`, []any{c.Key, v}
	case "param":
		return `EXISTS (SELECT 1 FROM run_params x WHERE x.run_id = r.id AND x.key = ? AND x.value ` + op + ` ?)`, []any{c.Key, c.Value}
	case "tag":
		return `EXISTS (SELECT 1 FROM run_tags x WHERE x.run_id = r.id AND x.key = ? AND x.value ` + op + ` ?)`, []any{c.Key, c.Value}
	}
	col := "r.status"
	if c.Key == "run_name" {
		col = "r.name"
	}
	return col + ` ` + op + ` ?`, []any{c.Value}
}

// SearchRuns returns the runs of experiments matching all conds, newest
// first, skipping offset and returning at most limit; more says whether
// runs remain. The conditions and the page are applied in SQL, and the
// page's parameters, latest metrics and tags are read in one more query
// (per 500 runs), so its cost follows the page, not the experiments. The
// runs' Artifacts are not listed (MLflow's search does not return them).
func (s *Service) SearchRuns(ctx context.Context, experimentIDs []int64, conds []Cond, offset, limit int) (runs []Run, more bool, err error) {
	if len(experimentIDs) == 0 || limit <= 0 {
		return nil, false, nil
	}
	for _, c := range conds {
		if err := c.validate(); err != nil {
			return nil, false, err
		}
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + runCols + runFrom + `WHERE r.experiment_id IN (?` + strings.Repeat(", ?", len(experimentIDs)-1) + `)`)
	args := make([]any, 0, len(experimentIDs)+2*len(conds)+2)
	for _, id := range experimentIDs {
		args = append(args, id)
	}
	for _, c := range conds {
		term, a := c.sql()
		q.WriteString(" AND " + term)
		args = append(args, a...)
	}
	q.WriteString(` ORDER BY r.started_at DESC, r.id DESC LIMIT ? OFFSET ?`)
	args = append(args, limit+1, offset)
	runs, err = db.All(ctx, s.db, scanRun, q.String(), args...)
	if err != nil {
		return nil, false, err
	}
	if len(runs) > limit {
		runs, more = runs[:limit], true
	}
	if err := s.details(ctx, runs); err != nil {
		return nil, false, err
	}
	return runs, more, nil
}

// detailBatch is how many runs one query of details covers (SQLite and
// PostgreSQL bound the number of query parameters: three per run here).
const detailBatch = 500

// details fills the parameters, latest metrics and tags of runs as Get
// does, in one query per detailBatch runs. (Not the artifacts: MLflow's
// search does not return them.)
func (s *Service) details(ctx context.Context, runs []Run) error {
	for start := 0; start < len(runs); start += detailBatch {
		batch := runs[start:min(start+detailBatch, len(runs))]
		byID := make(map[int64]*Run, len(batch))
		ids := make([]any, len(batch))
		for i := range batch {
			r := &batch[i]
			r.Params, r.Metrics = map[string]string{}, map[string]float64{}
			byID[r.ID], ids[i] = r, r.ID
		}
		in := `IN (?` + strings.Repeat(", ?", len(batch)-1) + `)`
		// Kind 0: parameters, 1: tags, 2: the latest value of each metric
		// (the highest step, then time, then value, as in Get), one index
		// seek per run and key rather than the whole series.
		rows, err := s.db.Query(ctx, `SELECT run_id, 0 AS kind, key, value AS text, 0 AS num FROM run_params WHERE run_id `+in+`
			UNION ALL SELECT run_id, 1, key, value, 0 FROM run_tags WHERE run_id `+in+`
			UNION ALL SELECT k.run_id, 2, k.key, '', (SELECT `+metricValue+` FROM run_metrics m WHERE m.run_id = k.run_id AND m.key = k.key
				ORDER BY m.step DESC, m.at DESC, m.value DESC LIMIT 1)
			FROM (SELECT DISTINCT run_id, key FROM run_metrics WHERE run_id `+in+`) k`, slices.Concat(ids, ids, ids)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id, kind int64
				k, text  string
				num      sql.NullFloat64 // NULL: a NaN metric
			)
			if err := rows.Scan(&id, &kind, &k, &text, &num); err != nil {
				rows.Close()
				return err
			}
			r := byID[id]
			switch {
			case r == nil:
			case kind == 0:
				r.Params[k] = text
			case kind == 1:
				if r.Tags == nil {
					r.Tags = map[string]string{}
				}
				r.Tags[k] = text
			default:
				r.Metrics[k] = loadedValue(num)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}
