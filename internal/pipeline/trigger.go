package pipeline

// Triggers start a stored pipeline by themselves: a cron schedule, a new
// version of a dataset, a changed SQL result, a drift alert on a model, or
// a number of new feedback items on a model's predictions. The scheduler
// of `hygie server` calls Tick every minute; each trigger keeps the last
// value it saw (the first observation only records it), and each firing is
// recorded with the pipeline run it started.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// checkTriggers validates the triggers of a spec (called by Validate).
func (s *Spec) checkTriggers(bad func(int, string, string, ...any)) {
	for _, t := range s.Triggers {
		n := 0
		for _, set := range []bool{t.Schedule != "", t.Dataset != "", t.SQL != "", t.Drift != "", t.Feedback != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			bad(t.Line, "", "trigger: set exactly one of schedule, dataset, sql, drift or feedback")
			continue
		}
		switch {
		case t.Schedule != "":
			if _, err := cronParser.Parse(t.Schedule); err != nil {
				bad(t.Line, "", "trigger: schedule %q: %v", t.Schedule, err)
			}
		case t.SQL != "":
			st := s.Step(t.SQL)
			if st == nil || st.Type != TypeImport {
				bad(t.Line, "", "trigger: sql: %q is not an import step", t.SQL)
			} else if c, ok := st.Config.(*ImportConfig); ok && c.SQL == "" {
				bad(t.Line, "", "trigger: sql: step %q does not import a SQL query", t.SQL)
			}
		case t.Feedback != nil:
			if t.Feedback.Model == "" || t.Feedback.Count < 1 {
				bad(t.Line, "", "trigger: feedback: want {model: NAME, count: N} with N ≥ 1")
			}
		}
	}
}

// Fire is a trigger that fired.
type Fire struct {
	ID       int64     `json:"id"`
	Pipeline string    `json:"pipeline"`
	Project  string    `json:"project"`
	Trigger  string    `json:"trigger"`
	Detail   string    `json:"detail"`
	At       time.Time `json:"at"`
	RunID    *int64    `json:"run_id,omitempty"`
	RunState string    `json:"run_state,omitempty"`
}

// TriggerOptions are what triggered runs need.
type TriggerOptions struct {
	// Auth resolves the user a triggered run acts as: the one who stored
	// the pipeline, with their current roles.
	Auth *auth.Service
	// TrackingURI is where the runs' jobs report.
	TrackingURI string
	Log         *slog.Logger
}

type stored struct {
	id      int64
	project string
	Pipeline
}

// Tick evaluates every stored pipeline's triggers at now, records those
// that fire and runs their pipelines (one run per pipeline per tick,
// however many of its triggers fired), and returns the firings.
func (s *Service) Tick(ctx context.Context, now time.Time, o TriggerOptions) ([]Fire, error) {
	ps, err := db.All(ctx, s.DB, func(sc db.Scanner) (stored, error) {
		var p stored
		err := sc.Scan(&p.id, &p.project, &p.Name, &p.Spec, &p.Digest, &p.CreatedBy, &p.UpdatedAt)
		p.ID, p.Project = p.id, p.project
		return p, err
	}, `SELECT p.id, pr.name, p.name, p.spec, p.digest, p.created_by, p.updated_at FROM pipelines p JOIN projects pr ON pr.id = p.project_id ORDER BY p.id`)
	if err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	var fires []Fire
	var errList []error
	for _, p := range ps {
		f, err := s.tickPipeline(ctx, now, p, o, log)
		fires = append(fires, f...)
		if err != nil {
			errList = append(errList, fmt.Errorf("pipeline %s/%s: %w", p.Project, p.Name, err))
		}
	}
	return fires, errors.Join(errList...)
}

func (s *Service) tickPipeline(ctx context.Context, now time.Time, p stored, o TriggerOptions, log *slog.Logger) ([]Fire, error) {
	spec, err := Parse(p.Name+".yaml", []byte(p.Spec))
	if err != nil {
		return nil, err
	}
	if len(spec.Triggers) == 0 {
		return nil, nil
	}
	values, err := spec.Values(nil)
	if err != nil {
		return nil, err
	}
	if err := spec.Validate(values, nil); err != nil {
		return nil, err
	}
	var fired []Fire
	for _, t := range spec.Triggers {
		value, fire, detail, err := s.observe(ctx, now, p, spec, t)
		if err != nil {
			log.Warn("pipeline trigger", "project", p.Project, "pipeline", p.Name, "trigger", t.Key(), "error", errs.MessageOf(err))
			continue
		}
		if _, err := s.DB.Exec(ctx, `DELETE FROM pipeline_triggers WHERE pipeline_id = ? AND trigger_key = ?`, p.id, t.Key()); err != nil {
			return fired, err
		}
		if _, err := s.DB.Exec(ctx, `INSERT INTO pipeline_triggers (pipeline_id, trigger_key, last_value, checked_at) VALUES (?, ?, ?, ?)`, p.id, t.Key(), value, now.UTC()); err != nil {
			return fired, err
		}
		if fire {
			f := Fire{Pipeline: p.Name, Project: p.Project, Trigger: t.Key(), Detail: detail, At: now.UTC()}
			if err := s.DB.QueryRow(ctx, `INSERT INTO pipeline_trigger_fires (pipeline_id, trigger_key, detail, fired_at) VALUES (?, ?, ?, ?) RETURNING id`,
				p.id, f.Trigger, f.Detail, f.At).Scan(&f.ID); err != nil {
				return fired, err
			}
			fired = append(fired, f)
		}
	}
	if len(fired) == 0 {
		return nil, nil
	}
	// One run for the tick, recorded on every firing.
	if o.Auth == nil {
		return fired, errs.Conflictf("triggers need the auth service")
	}
	pr, err := o.Auth.PrincipalOf(ctx, p.CreatedBy)
	if err != nil {
		return fired, err
	}
	uctx := auth.WithPrincipal(ctx, pr)
	trigger := fired[0].Trigger
	log.Info("pipeline triggered", "project", p.Project, "pipeline", p.Name, "trigger", trigger, "as", p.CreatedBy)
	rec, _, err := s.Run(uctx, p.Project, spec, RunOptions{Trigger: trigger, Params: values, TrackingURI: o.TrackingURI,
		OnStart: func(runID int64) {
			for i := range fired {
				if _, err := s.DB.Exec(ctx, `UPDATE pipeline_trigger_fires SET run_id = ? WHERE id = ?`, runID, fired[i].ID); err != nil {
					slog.ErrorContext(ctx, "pipeline trigger: firing not linked to its run", "run", runID, "err", err)
				}
				fired[i].RunID = &runID
			}
		}})
	for i := range fired {
		fired[i].RunState = rec.State
	}
	if err != nil {
		log.Warn("triggered pipeline run failed", "project", p.Project, "pipeline", p.Name, "run", rec.ID, "error", errs.MessageOf(err))
	}
	return fired, nil
}

// observe reads a trigger's current value and decides whether it fires
// against the last recorded one.
func (s *Service) observe(ctx context.Context, now time.Time, p stored, spec *Spec, t Trigger) (value string, fire bool, detail string, err error) {
	var last string
	var seen bool
	err = s.DB.QueryRow(ctx, `SELECT last_value FROM pipeline_triggers WHERE pipeline_id = ? AND trigger_key = ?`, p.id, t.Key()).Scan(&last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = nil
	case err != nil:
		return "", false, "", err
	default:
		seen = true
	}
	changed := func(v, what string) (string, bool, string, error) {
		return v, seen && v != last, what, nil
	}
	switch {
	case t.Schedule != "":
		sched, err := cronParser.Parse(t.Schedule)
		if err != nil {
			return "", false, "", err
		}
		if !seen {
			return now.UTC().Format(time.RFC3339), false, "", nil
		}
		prev, err := time.Parse(time.RFC3339, last)
		if err != nil {
			prev = now
		}
		next := sched.Next(prev)
		if !next.After(now) {
			return now.UTC().Format(time.RFC3339), true, "scheduled at " + next.UTC().Format(time.RFC3339), nil
		}
		return last, false, "", nil
	case t.Dataset != "":
		var id sql.NullInt64
		if err := s.DB.QueryRow(ctx, `SELECT MAX(v.id) FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id JOIN projects pr ON pr.id = d.project_id
			WHERE pr.name = ? AND d.name = ?`, p.project, t.Dataset).Scan(&id); err != nil {
			return "", false, "", err
		}
		return changed(strconv.FormatInt(id.Int64, 10), "new version of dataset "+t.Dataset)
	case t.SQL != "":
		c := spec.Step(t.SQL).Config.(*ImportConfig)
		dsn := getenv(c.DSNEnv)
		if dsn == "" {
			return "", false, "", errs.Invalidf("environment variable %s (dsn_env) is not set", c.DSNEnv)
		}
		d, err := SQLDigest(ctx, dsn, c.SQL)
		if err != nil {
			return "", false, "", err
		}
		return changed(d, "the SQL result of step "+t.SQL+" changed")
	case t.Drift != "":
		var id sql.NullInt64
		if err := s.DB.QueryRow(ctx, `SELECT MAX(a.id) FROM alerts a JOIN alert_rules r ON r.id = a.rule_id JOIN projects pr ON pr.id = r.project_id
			WHERE pr.name = ? AND r.model = ? AND (r.metric LIKE 'drift:%' OR r.metric IN ('dataset_drift_share', 'prediction_drift'))`, p.project, t.Drift).Scan(&id); err != nil {
			return "", false, "", err
		}
		v := strconv.FormatInt(id.Int64, 10)
		return v, seen && id.Int64 > atoi(last), fmt.Sprintf("drift alert %d on %s", id.Int64, t.Drift), nil
	case t.Feedback != nil:
		var n int64
		if err := s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM feedback f JOIN predictions pd ON pd.id = f.prediction_id JOIN model_versions mv ON mv.id = pd.model_version_id
			JOIN models m ON m.id = mv.model_id JOIN projects pr ON pr.id = m.project_id WHERE pr.name = ? AND m.name = ?`, p.project, t.Feedback.Model).Scan(&n); err != nil {
			return "", false, "", err
		}
		if !seen || n < atoi(last) { // first look, or feedback pruned with its predictions
			return strconv.FormatInt(n, 10), false, "", nil
		}
		if n-atoi(last) >= int64(t.Feedback.Count) {
			return strconv.FormatInt(n, 10), true, fmt.Sprintf("%d new feedback items on %s", n-atoi(last), t.Feedback.Model), nil
		}
		return last, false, "", nil
	}
	return "", false, "", errs.Invalidf("empty trigger")
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// Fires lists a pipeline's trigger firings, newest first.
func (s *Service) Fires(ctx context.Context, project, pipeline string, limit int) ([]Fire, error) {
	if err := auth.Require(ctx, project, auth.PermProjectRead); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 50
	}
	return db.All(ctx, s.DB, func(sc db.Scanner) (Fire, error) {
		var f Fire
		var run sql.NullInt64
		err := sc.Scan(&f.ID, &f.Pipeline, &f.Project, &f.Trigger, &f.Detail, &f.At, &run)
		if run.Valid {
			f.RunID = &run.Int64
		}
		return f, err
	}, fmt.Sprintf(`SELECT f.id, p.name, pr.name, f.trigger_key, f.detail, f.fired_at, f.run_id FROM pipeline_trigger_fires f JOIN pipelines p ON p.id = f.pipeline_id
		JOIN projects pr ON pr.id = p.project_id WHERE pr.name = ? AND p.name = ? ORDER BY f.id DESC LIMIT %d`, limit), project, pipeline)
}

// TickInterval is how often hygie server evaluates the triggers.
const TickInterval = time.Minute

// Schedule runs Tick every interval until ctx ends (hygie server).
func (s *Service) Schedule(ctx context.Context, interval time.Duration, o TriggerOptions) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Tick(ctx, s.now(), o); err != nil && o.Log != nil {
				o.Log.Warn("pipeline triggers", "error", errs.MessageOf(err))
			}
		}
	}
}
