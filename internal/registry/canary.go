package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Canary modes.
const (
	// ModeCanary sends a share of a model's unversioned traffic to the
	// candidate, which answers those requests.
	ModeCanary = "canary"
	// ModeShadow lets the candidate predict on a share of the traffic in
	// the background; the production version still answers.
	ModeShadow = "shadow"
)

// MaxCanaryShare bounds the share of traffic a candidate may take.
const MaxCanaryShare = 0.5

// Canary is a candidate version tried on live traffic besides the one in
// production.
type Canary struct {
	Model   string    `json:"model"`
	Version Version   `json:"version"`
	Share   float64   `json:"share"`
	Mode    string    `json:"mode"`
	SetBy   string    `json:"set_by"`
	SetAt   time.Time `json:"set_at"`
}

// SetCanary makes version of model its canary (or shadow): share of the
// requests that do not name a version go to it. The candidate must be in
// integration (the environment before production), share in (0, 0.5].
// The principal needs model.promote; the change is audited.
func (s *Service) SetCanary(ctx context.Context, model string, version int, share float64, mode string) (Canary, error) {
	v, err := s.Version(ctx, model, version)
	if err != nil {
		return Canary{}, err
	}
	// A refusal changes nothing and is audited, as a refused promotion.
	refuse := func(err error) (Canary, error) {
		s.audit.AppendRefusal(ctx, audit.Event{Action: "model.canary.set", Project: v.Project, Target: fmt.Sprintf("model:%s/%d", model, version), Outcome: audit.Denied,
			Detail: audit.MarshalDetail(map[string]any{"share": share, "mode": mode, "reason": errs.MessageOf(err)})})
		return Canary{}, err
	}
	if err := auth.Require(ctx, v.Project, auth.PermModelPromote); err != nil {
		return refuse(err)
	}
	if mode != ModeCanary && mode != ModeShadow {
		return refuse(errs.Invalidf("canary mode %q: want canary or shadow", mode))
	}
	if math.IsNaN(share) || share <= 0 || share > MaxCanaryShare {
		return refuse(errs.Invalidf("canary share %g: want more than 0 and at most %g", share, MaxCanaryShare))
	}
	if v.Environment != "integration" {
		return refuse(errs.Conflictf("model %s version %d is in %s: a canary must be in integration", model, version, v.Environment))
	}
	c := Canary{Model: model, Version: v, Share: share, Mode: mode, SetBy: audit.ActorFrom(ctx), SetAt: s.now().UTC()}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM canaries WHERE model_id = (SELECT model_id FROM model_versions WHERE id = ?)`, v.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO canaries (model_id, version_id, share, mode, set_by, set_at) SELECT model_id, id, ?, ?, ?, ? FROM model_versions WHERE id = ?`,
			share, mode, c.SetBy, c.SetAt, v.ID); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "model.canary.set", Project: v.Project, Target: fmt.Sprintf("model:%s/%d", model, version), Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"share": share, "mode": mode})})
	})
	return c, err
}

// ClearCanary ends a model's canary or shadow, if any (model.promote,
// audited).
func (s *Service) ClearCanary(ctx context.Context, model string) error {
	project, err := s.ProjectOfModel(ctx, model)
	if err != nil {
		return err
	}
	if err := auth.Require(ctx, project, auth.PermModelPromote); err != nil {
		s.audit.AppendRefusal(ctx, audit.Event{Action: "model.canary.clear", Project: project, Target: "model:" + model, Outcome: audit.Denied,
			Detail: audit.MarshalDetail(map[string]any{"reason": errs.MessageOf(err)})})
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM canaries WHERE model_id = (SELECT id FROM models WHERE name = ?)`, model)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "model.canary.clear", Project: project, Target: "model:" + model, Outcome: audit.Success})
	})
}

// Canary returns a model's canary; a not-found error when it has none.
// Serving reads it without a principal, like InEnvironment.
func (s *Service) Canary(ctx context.Context, model string) (Canary, error) {
	var (
		c         Canary
		versionID int64
	)
	err := s.db.QueryRow(ctx, `SELECT c.version_id, c.share, c.mode, c.set_by, c.set_at FROM canaries c JOIN models m ON m.id = c.model_id WHERE m.name = ?`, model).
		Scan(&versionID, &c.Share, &c.Mode, &c.SetBy, &c.SetAt)
	if errors.Is(err, sql.ErrNoRows) {
		return c, errs.NotFoundf("model %q has no canary", model)
	}
	if err != nil {
		return c, err
	}
	c.Model, c.SetAt = model, c.SetAt.UTC()
	c.Version, err = scanVersion(s.db.QueryRow(ctx, `SELECT `+versionCols+versionFrom+`WHERE mv.id = ?`, versionID))
	return c, err
}
