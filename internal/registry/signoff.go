package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Signoff is a clinician's approval of a model version for an environment.
type Signoff struct {
	Environment string    `json:"environment"`
	User        string    `json:"user"`
	Comment     string    `json:"comment"`
	At          time.Time `json:"at"`
}

// SignOff records the acting user's approval of a version for env. The
// user needs model.signoff (clinician-validators have it) and must not be
// the author of the run that produced the version; a comment is required.
// Refusals are audited and change nothing.
func (s *Service) SignOff(ctx context.Context, model string, version int, env, comment string) (Signoff, error) {
	v, err := s.Version(ctx, model, version)
	if err != nil {
		return Signoff{}, err
	}
	user := audit.ActorFrom(ctx)
	target := fmt.Sprintf("model:%s/%d", model, version)
	refuse := func(err error) (Signoff, error) {
		s.audit.AppendRefusal(ctx, audit.Event{Action: "model.signoff", Project: v.Project, Target: target, Outcome: audit.Denied,
			Detail: audit.MarshalDetail(map[string]any{"environment": env, "reason": errs.MessageOf(err)})})
		return Signoff{}, err
	}
	if err := auth.Require(ctx, v.Project, auth.PermModelSignoff); err != nil {
		return refuse(err)
	}
	if !slices.Contains(PolicyEnvironments, env) {
		return refuse(errs.Invalidf("environment %q: want one of %s", env, strings.Join(PolicyEnvironments, ", ")))
	}
	if strings.TrimSpace(comment) == "" {
		return refuse(errs.Invalidf("a sign-off needs a comment saying what was checked"))
	}
	if v.RunID != nil {
		run, err := s.runs.Get(ctx, *v.RunID)
		if err != nil {
			return Signoff{}, err
		}
		if run.CreatedBy == user {
			return refuse(errs.Forbiddenf("%s trained %s version %d: the author of a model cannot sign it off", user, model, version))
		}
	}
	so := Signoff{Environment: env, User: user, Comment: comment, At: s.now().UTC()}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM model_signoffs WHERE model_version_id = ? AND environment = ? AND username = ?`, v.ID, env, user); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO model_signoffs (model_version_id, environment, username, comment, at) VALUES (?, ?, ?, ?, ?)`,
			v.ID, env, user, comment, so.At); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "model.signoff", Project: v.Project, Target: target, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"environment": env})})
	})
	return so, err
}

// Signoffs lists a version's sign-offs, oldest first.
func (s *Service) Signoffs(ctx context.Context, model string, version int) ([]Signoff, error) {
	v, err := s.Version(ctx, model, version)
	if err != nil {
		return nil, err
	}
	return db.All(ctx, s.db, func(sc db.Scanner) (Signoff, error) {
		var so Signoff
		err := sc.Scan(&so.Environment, &so.User, &so.Comment, &so.At)
		so.At = so.At.UTC()
		return so, err
	}, `SELECT environment, username, comment, at FROM model_signoffs WHERE model_version_id = ? ORDER BY at, id`, v.ID)
}

// validSignoffs counts the distinct users who signed v off for env and
// still hold model.signoff in the project.
func (s *Service) validSignoffs(ctx context.Context, v Version, env string) ([]string, error) {
	all, err := s.Signoffs(ctx, v.Model, v.Version)
	if err != nil {
		return nil, err
	}
	var users []string
	for _, so := range all {
		if so.Environment != env || slices.Contains(users, so.User) {
			continue
		}
		if ok, err := auth.Holds(ctx, s.db, so.User, v.Project, auth.PermModelSignoff); err != nil {
			return nil, err
		} else if ok {
			users = append(users, so.User)
		}
	}
	return users, nil
}
