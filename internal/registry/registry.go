// Package registry is the model registry: named models, their numbered
// versions (artifact, signature, lineage to the run that produced them),
// per-project validation gates, and promotion through the environments
// dev → test → integration → production. A promotion that fails a gate is
// refused and recorded with the reason.
package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/webhook"
)

// Environments in promotion order. "none" is a freshly registered version;
// "archived" is a version replaced in production.
var Environments = []string{"none", "dev", "test", "integration", "production"}

// Model is a registered model.
type Model struct {
	ID          int64     `json:"id"`
	Project     string    `json:"project"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	// FeedbackAnnotation is the annotation project its predictions
	// flagged incorrect go to by default ("" when none).
	FeedbackAnnotation string `json:"feedback_annotation,omitempty"`
}

// Signature describes a model's inputs and outputs for serving.
type Signature struct {
	Inputs  []Tensor `json:"inputs"`
	Outputs []Tensor `json:"outputs"`
}

// Tensor is a named input or output.
type Tensor struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
}

// Version is a model version.
type Version struct {
	ID          int64     `json:"id"`
	Project     string    `json:"project"`
	Model       string    `json:"model"`
	Version     int       `json:"version"`
	RunID       *int64    `json:"run_id,omitempty"`
	ArtifactKey string    `json:"-"`
	Flavor      string    `json:"flavor"`
	Signature   Signature `json:"signature"`
	Environment string    `json:"environment"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
}

// Rule is a gate: metric op threshold, checked on the version's run.
type Rule struct {
	Metric    string  `json:"metric"`
	Op        string  `json:"op"` // "<=" or ">="
	Threshold float64 `json:"threshold"`
}

func (r Rule) String() string { return fmt.Sprintf("%s %s %g", r.Metric, r.Op, r.Threshold) }

// Promotion is the report of one promotion attempt: every gate checked,
// the outcome, and an override's reason if an admin forced it.
type Promotion struct {
	ID       int64        `json:"id"`
	Model    string       `json:"model"`
	Version  int          `json:"version"`
	From     string       `json:"from"`
	To       string       `json:"to"`
	Outcome  string       `json:"outcome"` // success, denied, override or rollback
	Gates    []GateResult `json:"gates"`
	Checks   []string     `json:"checks"` // the gates, one line each
	Override string       `json:"override_reason,omitempty"`
	By       string       `json:"by"`
	At       time.Time    `json:"at"`
}

// Outcomes of a promotion besides audit.Success and audit.Denied.
const (
	OutcomeOverride = "override"
	OutcomeRollback = "rollback"
)

// Service manages the registry.
type Service struct {
	db       *db.DB
	runs     *track.Service
	audit    *audit.Log
	now      func() time.Time
	webhooks webhook.Sender
}

// NewService returns the registry service.
func NewService(d *db.DB, runs *track.Service, a *audit.Log) *Service {
	return &Service{db: d, runs: runs, audit: a, now: time.Now}
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,62}$`)

// Register adds a new version of model (created if needed) from a run's artifact.
func (s *Service) Register(ctx context.Context, project, model string, runID int64, artifact, flavor string, sig Signature) (Version, error) {
	if !nameRE.MatchString(model) {
		return Version{}, errs.Invalidf("model name %q: use lower-case letters, digits, '_' or '-', starting with a letter", model)
	}
	run, err := s.runs.Get(ctx, runID)
	if err != nil {
		return Version{}, err
	}
	if run.Project != project {
		return Version{}, errs.Invalidf("run %d belongs to another project", runID)
	}
	if run.Status != track.Finished {
		return Version{}, errs.Invalidf("run %d is %s: only finished runs can be registered", runID, run.Status)
	}
	var key string
	if err := s.db.QueryRow(ctx, `SELECT blob_key FROM run_artifacts WHERE run_id = ? AND path = ?`, runID, artifact).Scan(&key); err != nil {
		return Version{}, db.NotFound(err, "run %d has no artifact %q", runID, artifact)
	}
	if flavor == hmodel.Format {
		// hygie's own format: check the artifact is a model, and take the
		// signature from it unless one is given.
		derived, err := s.signatureOf(ctx, runID, artifact)
		if err != nil {
			return Version{}, err
		}
		if len(sig.Inputs) == 0 {
			sig = derived
		}
	}
	sigJSON, _ := json.Marshal(sig)
	v := Version{Project: project, Model: model, RunID: &runID, ArtifactKey: key, Flavor: flavor, Signature: sig, Environment: "none",
		CreatedAt: s.now().UTC(), CreatedBy: audit.ActorFrom(ctx)}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, db.LockVersions); err != nil {
			return err
		}
		var pid, mid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", project)
		}
		var mproj int64
		err := tx.QueryRow(ctx, `SELECT id, project_id FROM models WHERE name = ?`, model).Scan(&mid, &mproj)
		switch {
		case err == sql.ErrNoRows:
			err = tx.QueryRow(ctx, `INSERT INTO models (project_id, name, created_at) VALUES (?, ?, ?) RETURNING id`, pid, model, v.CreatedAt).Scan(&mid)
		case err == nil && mproj != pid:
			return errs.Conflictf("model name %q is taken by another project", model)
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE model_id = ?`, mid).Scan(&v.Version); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO model_versions (model_id, version, run_id, artifact_key, flavor, signature_json, environment, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, 'none', ?, ?) RETURNING id`, mid, v.Version, runID, key, flavor, string(sigJSON), v.CreatedAt, v.CreatedBy).Scan(&v.ID); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "model.version.create", Project: project, Target: fmt.Sprintf("model:%s/%d", model, v.Version), Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"run_id": runID})})
	})
	return v, err
}

const versionCols = `mv.id, p.name, m.name, mv.version, mv.run_id, mv.artifact_key, mv.flavor, mv.signature_json, mv.environment, mv.created_at, mv.created_by`
const versionFrom = ` FROM model_versions mv JOIN models m ON m.id = mv.model_id JOIN projects p ON p.id = m.project_id `

func scanVersion(sc db.Scanner) (Version, error) {
	var (
		v   Version
		run sql.NullInt64
		sig string
	)
	if err := sc.Scan(&v.ID, &v.Project, &v.Model, &v.Version, &run, &v.ArtifactKey, &v.Flavor, &sig, &v.Environment, &v.CreatedAt, &v.CreatedBy); err != nil {
		return v, err
	}
	if run.Valid {
		v.RunID = &run.Int64
	}
	v.CreatedAt = v.CreatedAt.UTC()
	return v, json.Unmarshal([]byte(sig), &v.Signature)
}

// Version returns one version of a model.
func (s *Service) Version(ctx context.Context, model string, version int) (Version, error) {
	v, err := scanVersion(s.db.QueryRow(ctx, `SELECT `+versionCols+versionFrom+`WHERE m.name = ? AND mv.version = ?`, model, version))
	return v, db.NotFound(err, "model %s version %d not found", model, version)
}

// InEnvironment returns the version of model deployed in env.
func (s *Service) InEnvironment(ctx context.Context, model, env string) (Version, error) {
	v, err := scanVersion(s.db.QueryRow(ctx, `SELECT `+versionCols+versionFrom+`WHERE m.name = ? AND mv.environment = ? ORDER BY mv.version DESC LIMIT 1`, model, env))
	return v, db.NotFound(err, "model %q has no version in %s", model, env)
}

// Versions lists a model's versions, newest first.
func (s *Service) Versions(ctx context.Context, model string) ([]Version, error) {
	return s.list(ctx, `WHERE m.name = ? ORDER BY mv.version DESC`, model)
}

// ListVersions lists every model version of a project.
func (s *Service) ListVersions(ctx context.Context, project string) ([]Version, error) {
	return s.list(ctx, `WHERE p.name = ? ORDER BY m.name, mv.version DESC`, project)
}

func (s *Service) list(ctx context.Context, where string, args ...any) ([]Version, error) {
	return db.All(ctx, s.db, scanVersion, `SELECT `+versionCols+versionFrom+where, args...)
}

// ProjectOfModel returns the project a model belongs to.
func (s *Service) ProjectOfModel(ctx context.Context, model string) (string, error) {
	var p string
	err := s.db.QueryRow(ctx, `SELECT p.name FROM models m JOIN projects p ON p.id = m.project_id WHERE m.name = ?`, model).Scan(&p)
	return p, db.NotFound(err, "model %q not found", model)
}

// SetGate sets (or replaces) a gate rule of a project.
func (s *Service) SetGate(ctx context.Context, project string, r Rule) error {
	if r.Metric == "" || (r.Op != "<=" && r.Op != ">=") || math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) {
		return errs.Invalidf("gate rule %q: want metric, op <= or >=, and a finite threshold", r.String())
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", project)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM gate_rules WHERE project_id = ? AND metric = ?`, pid, r.Metric); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO gate_rules (project_id, metric, op, threshold) VALUES (?, ?, ?, ?)`, pid, r.Metric, r.Op, r.Threshold); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "gate.set", Project: project, Target: "gate:" + r.Metric, Outcome: audit.Success, Detail: audit.MarshalDetail(map[string]any{"rule": r.String()})})
	})
}

// Gates lists a project's gate rules.
func (s *Service) Gates(ctx context.Context, project string) ([]Rule, error) {
	rows, err := s.db.Query(ctx, `SELECT g.metric, g.op, g.threshold FROM gate_rules g JOIN projects p ON p.id = g.project_id WHERE p.name = ? ORDER BY g.metric`, project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var r Rule
		if err := rows.Scan(&r.Metric, &r.Op, &r.Threshold); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Promote moves a version one environment forward (to must be the next
// one) after checking the project's metric rules and its policy's gates
// for the target environment. The principal needs model.promote. A refused
// promotion changes nothing but is recorded, audited and notified; promoting
// to production archives the version that was there.
func (s *Service) Promote(ctx context.Context, model string, version int, to string) (Promotion, error) {
	return s.promote(ctx, model, version, to, "")
}

// PromoteOverride promotes past failing gates. Only a project admin
// (project.manage) may, with a written reason; the promotion is recorded
// and audited as an override, with every gate's result.
func (s *Service) PromoteOverride(ctx context.Context, model string, version int, to, reason string) (Promotion, error) {
	if strings.TrimSpace(reason) == "" {
		return Promotion{}, errs.Invalidf("an override needs a reason")
	}
	return s.promote(ctx, model, version, to, reason)
}

func (s *Service) promote(ctx context.Context, model string, version int, to, override string) (Promotion, error) {
	v, err := s.Version(ctx, model, version)
	if err != nil {
		return Promotion{}, err
	}
	target := fmt.Sprintf("model:%s/%d", model, version)
	refuse := func(err error) (Promotion, error) {
		s.audit.AppendRefusal(ctx, audit.Event{Action: "model.promote", Project: v.Project, Target: target, Outcome: audit.Denied,
			Detail: audit.MarshalDetail(map[string]any{"from": v.Environment, "to": to, "reason": errs.MessageOf(err)})})
		return Promotion{}, err
	}
	perm := auth.PermModelPromote
	if override != "" {
		perm = auth.PermProjectManage
	}
	if err := auth.Require(ctx, v.Project, perm); err != nil {
		return refuse(err)
	}
	i := slices.Index(Environments, v.Environment)
	j := slices.Index(Environments, to)
	if j < 0 || to == "none" {
		return refuse(errs.Invalidf("environment %q: want one of dev, test, integration, production", to))
	}
	if i < 0 || j != i+1 {
		return refuse(errs.Conflictf("model %s version %d is in %s: it can only be promoted to the next environment (order: dev → test → integration → production), each with its gates", model, version, v.Environment))
	}
	pol, err := s.Policy(ctx, v.Project)
	if err != nil {
		return Promotion{}, err
	}
	rules, err := s.Gates(ctx, v.Project)
	if err != nil {
		return Promotion{}, err
	}
	p := Promotion{Model: model, Version: version, From: v.Environment, To: to, Outcome: audit.Success, By: audit.ActorFrom(ctx), At: s.now().UTC()}
	if p.Gates, err = s.evaluateGates(ctx, v, to, pol, rules); err != nil {
		return Promotion{}, err
	}
	for _, g := range p.Gates {
		p.Checks = append(p.Checks, g.String())
		if !g.Pass {
			p.Outcome = audit.Denied
		}
	}
	if len(p.Gates) == 0 {
		p.Checks = append(p.Checks, "no gate for "+to+" in the project's policy")
	}
	if override != "" {
		p.Outcome, p.Override = OutcomeOverride, override
	}
	report, _ := json.Marshal(p)
	detail := strings.Join(p.Checks, "; ")
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if p.Outcome != audit.Denied {
			if to == "production" {
				if _, err := tx.Exec(ctx, `UPDATE model_versions SET environment = 'archived' WHERE model_id = (SELECT model_id FROM model_versions WHERE id = ?) AND environment = 'production'`, v.ID); err != nil {
					return err
				}
			}
			res, err := tx.Exec(ctx, `UPDATE model_versions SET environment = ? WHERE id = ? AND environment = ?`, to, v.ID, v.Environment)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errs.Conflictf("model %s version %d changed environment meanwhile; try again", model, version)
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO promotions (model_version_id, from_env, to_env, outcome, detail, report, at, by_user) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			v.ID, v.Environment, to, p.Outcome, detail, string(report), p.At, p.By).Scan(&p.ID); err != nil {
			return err
		}
		action := "model.promote"
		if override != "" {
			action = "model.promote.override"
		}
		outcome := audit.Success
		if p.Outcome == audit.Denied {
			outcome = audit.Denied
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: action, Project: v.Project, Target: target, Outcome: outcome,
			Detail: audit.MarshalDetail(map[string]any{"from": v.Environment, "to": to, "checks": p.Checks, "override_reason": override})})
	})
	if err != nil {
		return p, err
	}
	s.notify(ctx, pol, v.Project, p)
	if p.Outcome == audit.Denied {
		return p, refused(p)
	}
	return p, nil
}

// RefusedError is a promotion refused by its gates (a conflict for errs
// and HTTP); it carries the full report.
type RefusedError struct {
	Promotion Promotion
	err       *errs.Error
}

func refused(p Promotion) *RefusedError {
	var failing []string
	for _, g := range p.Gates {
		if !g.Pass {
			failing = append(failing, g.String())
		}
	}
	return &RefusedError{Promotion: p, err: errs.Conflictf("promotion of %s version %d to %s refused by the gates: %s", p.Model, p.Version, p.To, strings.Join(failing, "; "))}
}

func (e *RefusedError) Error() string { return e.err.Error() }
func (e *RefusedError) Unwrap() error { return e.err }

// Promotions lists a model's promotion reports, newest first.
func (s *Service) Promotions(ctx context.Context, model string) ([]Promotion, error) {
	return db.All(ctx, s.db, func(sc db.Scanner) (Promotion, error) {
		var p Promotion
		var report, detail string
		if err := sc.Scan(&p.ID, &p.Version, &p.From, &p.To, &p.Outcome, &detail, &report, &p.At, &p.By); err != nil {
			return p, err
		}
		if report != "" {
			if err := json.Unmarshal([]byte(report), &p); err != nil {
				return p, fmt.Errorf("promotion %d: stored report: %w", p.ID, err)
			}
		} else if detail != "" {
			p.Checks = strings.Split(detail, "; ")
		}
		p.Model, p.At = model, p.At.UTC()
		return p, nil
	}, `SELECT pr.id, mv.version, pr.from_env, pr.to_env, pr.outcome, pr.detail, pr.report, pr.at, pr.by_user FROM promotions pr
		JOIN model_versions mv ON mv.id = pr.model_version_id JOIN models m ON m.id = mv.model_id WHERE m.name = ? ORDER BY pr.id DESC`, model)
}

// Rollback puts back in production the version that was there before the
// current one, and archives the current one. The principal needs
// model.promote; the rollback is recorded, audited and notified.
func (s *Service) Rollback(ctx context.Context, model, reason string) (Promotion, error) {
	cur, err := s.InEnvironment(ctx, model, "production")
	if err != nil {
		return Promotion{}, err
	}
	if err := auth.Require(ctx, cur.Project, auth.PermModelPromote); err != nil {
		return Promotion{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return Promotion{}, errs.Invalidf("a rollback needs a reason")
	}
	var prevID int64
	var prevVersion int
	err = s.db.QueryRow(ctx, `SELECT mv.id, mv.version FROM promotions pr JOIN model_versions mv ON mv.id = pr.model_version_id
		WHERE mv.model_id = (SELECT model_id FROM model_versions WHERE id = ?) AND pr.to_env = 'production' AND pr.outcome IN ('success', 'override', 'rollback')
		AND mv.id <> ? AND mv.environment = 'archived' ORDER BY pr.id DESC LIMIT 1`, cur.ID, cur.ID).Scan(&prevID, &prevVersion)
	if err != nil {
		return Promotion{}, db.NotFound(err, "model %s has no earlier production version to roll back to", model)
	}
	p := Promotion{Model: model, Version: prevVersion, From: "archived", To: "production", Outcome: OutcomeRollback, Override: reason,
		By: audit.ActorFrom(ctx), At: s.now().UTC(), Checks: []string{fmt.Sprintf("rollback from version %d: %s", cur.Version, reason)}}
	report, _ := json.Marshal(p)
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE model_versions SET environment = 'archived' WHERE id = ? AND environment = 'production'`, cur.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.Conflictf("model %s changed meanwhile; try again", model)
		}
		if _, err := tx.Exec(ctx, `UPDATE model_versions SET environment = 'production' WHERE id = ?`, prevID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO promotions (model_version_id, from_env, to_env, outcome, detail, report, at, by_user) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			prevID, "archived", "production", OutcomeRollback, p.Checks[0], string(report), p.At, p.By).Scan(&p.ID); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "model.rollback", Project: cur.Project, Target: fmt.Sprintf("model:%s/%d", model, prevVersion),
			Outcome: audit.Success, Detail: audit.MarshalDetail(map[string]any{"from_version": cur.Version, "reason": reason})})
	})
	if err != nil {
		return p, err
	}
	if pol, err := s.Policy(ctx, cur.Project); err == nil {
		s.notify(ctx, pol, cur.Project, p)
	}
	return p, nil
}

// signatureOf reads a hygie model artifact and returns its signature:
// numeric inputs as FP64, categorical ones as BYTES, one FP64 output (the
// prediction, or the positive class's probability).
func (s *Service) signatureOf(ctx context.Context, runID int64, artifact string) (Signature, error) {
	rc, err := s.runs.OpenArtifact(ctx, runID, artifact)
	if err != nil {
		return Signature{}, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 256<<20))
	if err != nil {
		return Signature{}, err
	}
	m, err := hmodel.Unmarshal(b)
	if err != nil {
		return Signature{}, errs.Invalidf("run %d artifact %s: %s", runID, artifact, errs.MessageOf(err))
	}
	var sig Signature
	for _, in := range m.Inputs {
		dt := "FP64"
		if in.Type == hmodel.Categorical {
			dt = "BYTES"
		}
		sig.Inputs = append(sig.Inputs, Tensor{Name: in.Name, Datatype: dt})
	}
	out := m.Target
	if m.Task == hmodel.Binary {
		out += "_probability"
	}
	sig.Outputs = []Tensor{{Name: out, Datatype: "FP64"}}
	return sig, nil
}
