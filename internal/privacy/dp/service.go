package dp

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/dp/noise"
)

// Limits on a dataset's budget.
var (
	MaxBudgetEpsilon = DecimalInt(1000)
	MaxBudgetDelta   = MustDecimal("0.1")
)

// Reader reads dataset versions (dataset.Service). A reader that also has
// ReadFrame(ctx, v) (*dataset.Frame, error) is read through it.
type Reader interface {
	Read(ctx context.Context, v dataset.Version) (*dataset.Table, error)
}

type frameReader interface {
	ReadFrame(ctx context.Context, v dataset.Version) (*dataset.Frame, error)
}

// Service releases differentially private statistics of dataset versions
// and keeps each dataset's privacy budget.
type Service struct {
	db       *db.DB
	datasets Reader
	audit    *audit.Log
	now      func() time.Time
	source   func() noise.Source
}

// NewService returns the service; noise comes from crypto/rand.
func NewService(d *db.DB, ds Reader, a *audit.Log) *Service {
	return &Service{db: d, datasets: ds, audit: a, now: time.Now, source: noise.Crypto}
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// SetSource replaces the random source (tests: a seeded math/rand/v2
// source). It is called once per release.
func (s *Service) SetSource(src func() noise.Source) { s.source = src }

// Budget is a dataset's privacy budget: totals, what releases spent (basic
// sequential composition: the ε and δ of the releases add up) and what
// remains.
type Budget struct {
	Project          string    `json:"project"`
	Dataset          string    `json:"dataset"`
	Epsilon          Decimal   `json:"epsilon"`
	Delta            Decimal   `json:"delta"`
	EpsilonSpent     Decimal   `json:"epsilon_spent"`
	DeltaSpent       Decimal   `json:"delta_spent"`
	EpsilonRemaining Decimal   `json:"epsilon_remaining"`
	DeltaRemaining   Decimal   `json:"delta_remaining"`
	Releases         int64     `json:"releases"`
	UpdatedAt        time.Time `json:"updated_at"`
	UpdatedBy        string    `json:"updated_by"`
}

// Release is one recorded release.
type Release struct {
	ID        int64     `json:"id"`
	Project   string    `json:"project"`
	Dataset   string    `json:"dataset"` // name@version
	Query     Query     `json:"query"`
	Result    Result    `json:"result"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	// Budget is the dataset's budget right after this release (returned by
	// Service.Release, not by Releases).
	Budget *Budget `json:"budget,omitempty"`
}

// parseStored reads a decimal written by Decimal.String.
func parseStored(s string) (Decimal, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return Decimal{}, fmt.Errorf("stored privacy parameter %q is not a number", s)
	}
	return Decimal{r}, nil
}

const (
	budgetCols = `d.name, b.epsilon_total, b.delta_total, b.epsilon_spent, b.delta_spent, b.releases, b.updated_at, b.updated_by`
	budgetFrom = ` FROM dp_budgets b JOIN datasets d ON d.id = b.dataset_id `
)

func scanBudget(r db.Scanner, project string) (Budget, error) {
	b := Budget{Project: project}
	var et, dt, es, ds string
	if err := r.Scan(&b.Dataset, &et, &dt, &es, &ds, &b.Releases, &b.UpdatedAt, &b.UpdatedBy); err != nil {
		return b, err
	}
	b.UpdatedAt = b.UpdatedAt.UTC()
	for _, f := range []struct {
		s string
		d *Decimal
	}{{et, &b.Epsilon}, {dt, &b.Delta}, {es, &b.EpsilonSpent}, {ds, &b.DeltaSpent}} {
		v, err := parseStored(f.s)
		if err != nil {
			return b, err
		}
		*f.d = v
	}
	b.EpsilonRemaining = b.Epsilon.Sub(b.EpsilonSpent)
	b.DeltaRemaining = b.Delta.Sub(b.DeltaSpent)
	return b, nil
}

// datasetID returns the id of a project's dataset.
func datasetID(ctx context.Context, q db.Querier, project, name string) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT d.id FROM datasets d JOIN projects p ON p.id = d.project_id WHERE p.name = ? AND d.name = ?`, project, name).Scan(&id)
	return id, db.NotFound(err, "dataset %q not found in project %q", name, project)
}

func noBudget(project, name string) error {
	return errs.Forbiddenf("no privacy budget is set for dataset %q: a project manager sets one first (hygie dp budget set %s -p %s --epsilon E)", name, name, project)
}

func loadBudget(ctx context.Context, q db.Querier, dsID int64, project, name string) (Budget, error) {
	b, err := scanBudget(q.QueryRow(ctx, `SELECT `+budgetCols+budgetFrom+`WHERE b.dataset_id = ?`, dsID), project)
	if errors.Is(err, sql.ErrNoRows) {
		return b, noBudget(project, name)
	}
	return b, err
}

// lockBudget takes the budget row's write lock for the rest of tx (a no-op
// update: a row lock in PostgreSQL; SQLite transactions already hold the
// database's write lock), and reports whether the row exists.
func lockBudget(ctx context.Context, tx *db.Tx, dsID int64) (bool, error) {
	r, err := tx.Exec(ctx, `UPDATE dp_budgets SET releases = releases WHERE dataset_id = ?`, dsID)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n > 0, err
}

// GetBudget returns a dataset's budget. It needs dataset.read in the project.
func (s *Service) GetBudget(ctx context.Context, project, name string) (Budget, error) {
	if err := auth.Require(ctx, project, auth.PermDatasetRead); err != nil {
		return Budget{}, err
	}
	id, err := datasetID(ctx, s.db, project, name)
	if err != nil {
		return Budget{}, err
	}
	return loadBudget(ctx, s.db, id, project, name)
}

// Budgets lists the budgets of a project's datasets, by dataset name
// (datasets without a budget are not listed). It needs dataset.read.
func (s *Service) Budgets(ctx context.Context, project string) ([]Budget, error) {
	if err := auth.Require(ctx, project, auth.PermDatasetRead); err != nil {
		return nil, err
	}
	return db.All(ctx, s.db, func(r db.Scanner) (Budget, error) { return scanBudget(r, project) },
		`SELECT `+budgetCols+budgetFrom+`JOIN projects p ON p.id = d.project_id WHERE p.name = ? ORDER BY d.name`, project)
}

// SetBudget sets a dataset's total ε and δ. It needs project.manage. A
// total may be raised, or lowered down to what is already spent, never
// below; spending is never undone. The change is audited.
func (s *Service) SetBudget(ctx context.Context, project, name string, epsilon, delta Decimal) (Budget, error) {
	if err := auth.Require(ctx, project, auth.PermProjectManage); err != nil {
		return Budget{}, err
	}
	switch {
	case epsilon.Sign() <= 0 || epsilon.Cmp(MaxBudgetEpsilon) > 0:
		return Budget{}, errs.Invalidf("budget ε must be in (0, %s], got %s", MaxBudgetEpsilon, epsilon)
	case epsilon.Places() < 0 || epsilon.Places() > maxEpsilonPlaces:
		return Budget{}, errs.Invalidf("budget ε must have at most %d digits after the decimal point", maxEpsilonPlaces)
	case delta.Sign() < 0 || delta.Cmp(MaxBudgetDelta) > 0:
		return Budget{}, errs.Invalidf("budget δ must be in [0, %s], got %s", MaxBudgetDelta, delta)
	case delta.Places() < 0 || delta.Places() > 30:
		return Budget{}, errs.Invalidf("budget δ has too many digits")
	}
	var out Budget
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		id, err := datasetID(ctx, tx, project, name)
		if err != nil {
			return err
		}
		exists, err := lockBudget(ctx, tx, id)
		if err != nil {
			return err
		}
		now, actor := s.now().UTC().Truncate(time.Microsecond), audit.ActorFrom(ctx)
		detail := map[string]any{"epsilon": epsilon.String(), "delta": delta.String()}
		if exists {
			old, err := loadBudget(ctx, tx, id, project, name)
			if err != nil {
				return err
			}
			if epsilon.Cmp(old.EpsilonSpent) < 0 || delta.Cmp(old.DeltaSpent) < 0 {
				return errs.Conflictf("dataset %q has already spent ε = %s, δ = %s: its budget cannot be set below that", name, old.EpsilonSpent, old.DeltaSpent)
			}
			detail["previous_epsilon"], detail["previous_delta"] = old.Epsilon.String(), old.Delta.String()
			_, err = tx.Exec(ctx, `UPDATE dp_budgets SET epsilon_total = ?, delta_total = ?, updated_at = ?, updated_by = ? WHERE dataset_id = ?`,
				epsilon.String(), delta.String(), now, actor, id)
			if err != nil {
				return err
			}
		} else {
			_, err := tx.Exec(ctx, `INSERT INTO dp_budgets (dataset_id, epsilon_total, delta_total, epsilon_spent, delta_spent, releases, updated_at, updated_by)
				VALUES (?, ?, ?, '0', '0', 0, ?, ?)`, id, epsilon.String(), delta.String(), now, actor)
			if db.IsUniqueViolation(err) {
				return errs.Conflictf("the budget of dataset %q was set concurrently: try again", name)
			}
			if err != nil {
				return err
			}
		}
		if out, err = loadBudget(ctx, tx, id, project, name); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "dp.budget.set", Project: project, Target: "dataset:" + name,
			Outcome: audit.Success, Detail: audit.MarshalDetail(detail)})
	})
	return out, err
}

// overBudget is the refusal of a query that does not fit.
func overBudget(b Budget, q Query) error {
	msg := fmt.Sprintf("privacy budget of dataset %q exceeded: this %s needs ε = %s", b.Dataset, q.Kind, q.Epsilon)
	if !q.Delta.IsZero() {
		msg += fmt.Sprintf(", δ = %s", q.Delta)
	}
	msg += fmt.Sprintf("; remaining ε = %s of %s", b.EpsilonRemaining, b.Epsilon)
	if !q.Delta.IsZero() {
		msg += fmt.Sprintf(", remaining δ = %s of %s", b.DeltaRemaining, b.Delta)
	}
	return errs.Conflictf("%s", msg)
}

func fits(b Budget, q Query) bool {
	return q.Epsilon.Cmp(b.EpsilonRemaining) <= 0 && q.Delta.Cmp(b.DeltaRemaining) <= 0
}

// Release answers q on version v with differential privacy. It needs
// dataset.read in v's project (and, as any read, the identifying
// permission for an identifying version). It refuses, with errs.Conflict
// naming what remains, a query whose ε or δ exceeds the dataset's remaining
// budget. Otherwise the budget is spent, the release recorded and the
// dp.release audit event appended in one transaction: two concurrent
// queries can never both spend the last of a budget. A refusal spends and
// records nothing, and is audited as denied.
func (s *Service) Release(ctx context.Context, v dataset.Version, q Query) (Release, error) {
	if err := auth.Require(ctx, v.Project, auth.PermDatasetRead); err != nil {
		return Release{}, err
	}
	if err := q.Normalize(); err != nil {
		return Release{}, err
	}
	var dsID int64
	if err := s.db.QueryRow(ctx, `SELECT dataset_id FROM dataset_versions WHERE id = ?`, v.ID).Scan(&dsID); err != nil {
		return Release{}, db.NotFound(err, "dataset %s not found in project %q", v.Ref(), v.Project)
	}
	// Refuse early, before reading any data; the check that counts is the
	// one under the lock below.
	b, err := loadBudget(ctx, s.db, dsID, v.Project, v.Dataset)
	if err != nil {
		return Release{}, err
	}
	if !fits(b, q) {
		return Release{}, s.refuse(ctx, v, q, b)
	}
	f, err := s.frame(ctx, v)
	if err != nil {
		return Release{}, err
	}
	p, err := prepare(f, q)
	if err != nil {
		return Release{}, err
	}
	qjson, err := json.Marshal(q)
	if err != nil {
		return Release{}, err
	}
	rel := Release{Project: v.Project, Dataset: v.Ref(), Query: q, CreatedAt: s.now().UTC().Truncate(time.Microsecond), CreatedBy: audit.ActorFrom(ctx)}
	var refused *Budget
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		exists, err := lockBudget(ctx, tx, dsID)
		if err != nil {
			return err
		}
		if !exists {
			return noBudget(v.Project, v.Dataset)
		}
		b, err := loadBudget(ctx, tx, dsID, v.Project, v.Dataset)
		if err != nil {
			return err
		}
		if !fits(b, q) {
			refused = &b
			return overBudget(b, q)
		}
		if rel.Result, err = p.release(noise.New(s.source())); err != nil {
			return err
		}
		rjson, err := json.Marshal(rel.Result)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO dp_releases (dataset_id, dataset_version_id, kind, mechanism, epsilon, delta, query_json, result_json, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			dsID, v.ID, string(q.Kind), rel.Result.Mechanism, q.Epsilon.String(), q.Delta.String(), string(qjson), string(rjson), rel.CreatedAt, rel.CreatedBy).Scan(&rel.ID)
		if err != nil {
			return err
		}
		b.EpsilonSpent, b.DeltaSpent = b.EpsilonSpent.Add(q.Epsilon), b.DeltaSpent.Add(q.Delta)
		b.EpsilonRemaining, b.DeltaRemaining = b.Epsilon.Sub(b.EpsilonSpent), b.Delta.Sub(b.DeltaSpent)
		b.Releases++
		if _, err := tx.Exec(ctx, `UPDATE dp_budgets SET epsilon_spent = ?, delta_spent = ?, releases = ? WHERE dataset_id = ?`,
			b.EpsilonSpent.String(), b.DeltaSpent.String(), b.Releases, dsID); err != nil {
			return err
		}
		rel.Budget = &b
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "dp.release", Project: v.Project, Target: "dataset:" + v.Ref(), Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"release": rel.ID, "kind": q.Kind, "mechanism": rel.Result.Mechanism,
				"epsilon": q.Epsilon.String(), "delta": q.Delta.String(), "max_rows_per_patient": q.MaxRowsPerPatient,
				"epsilon_remaining": b.EpsilonRemaining.String(), "delta_remaining": b.DeltaRemaining.String()})})
	})
	if refused != nil {
		return Release{}, s.refuse(ctx, v, q, *refused)
	}
	if err != nil {
		return Release{}, err
	}
	return rel, nil
}

// refuse audits a refused query (in its own transaction: nothing else is
// written) and returns the refusal.
func (s *Service) refuse(ctx context.Context, v dataset.Version, q Query, b Budget) error {
	err := overBudget(b, q)
	if aerr := s.audit.Append(ctx, audit.Event{Action: "dp.release", Project: v.Project, Target: "dataset:" + v.Ref(), Outcome: audit.Denied,
		Reason: "privacy budget exceeded", Detail: audit.MarshalDetail(map[string]any{"kind": q.Kind, "epsilon": q.Epsilon.String(), "delta": q.Delta.String(),
			"epsilon_remaining": b.EpsilonRemaining.String(), "delta_remaining": b.DeltaRemaining.String()})}); aerr != nil {
		return aerr
	}
	return err
}

// frame reads a version as a typed Frame.
func (s *Service) frame(ctx context.Context, v dataset.Version) (*dataset.Frame, error) {
	if fr, ok := s.datasets.(frameReader); ok {
		return fr.ReadFrame(ctx, v)
	}
	t, err := s.datasets.Read(ctx, v)
	if err != nil {
		return nil, err
	}
	return t.ToFrame()
}

// Releases lists a dataset's releases, newest first (at most limit, default
// 100). It needs dataset.read in the project.
func (s *Service) Releases(ctx context.Context, project, name string, limit int) ([]Release, error) {
	if err := auth.Require(ctx, project, auth.PermDatasetRead); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	if limit > 10000 {
		return nil, errs.Invalidf("limit must be at most 10000")
	}
	id, err := datasetID(ctx, s.db, project, name)
	if err != nil {
		return nil, err
	}
	return db.All(ctx, s.db, func(r db.Scanner) (Release, error) {
		rel := Release{Project: project}
		var version int
		var qj, rj string
		if err := r.Scan(&rel.ID, &version, &qj, &rj, &rel.CreatedAt, &rel.CreatedBy); err != nil {
			return rel, err
		}
		rel.Dataset = fmt.Sprintf("%s@%d", name, version)
		rel.CreatedAt = rel.CreatedAt.UTC()
		if err := json.Unmarshal([]byte(qj), &rel.Query); err != nil {
			return rel, err
		}
		return rel, json.Unmarshal([]byte(rj), &rel.Result)
	}, `SELECT r.id, v.version, r.query_json, r.result_json, r.created_at, r.created_by
		FROM dp_releases r JOIN dataset_versions v ON v.id = r.dataset_version_id
		WHERE r.dataset_id = ? ORDER BY r.id DESC LIMIT `+fmt.Sprint(limit), id)
}
