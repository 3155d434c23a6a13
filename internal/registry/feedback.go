package registry

import (
	"context"
	"database/sql"
	"errors"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// SetFeedbackAnnotation sets the annotation project a model's predictions
// flagged incorrect go to by default (none when annotation is empty). It
// must be an annotation project of the model's project that accepts
// feedback tasks (classification or rows: see annotate.AddFeedbackTasks).
// The principal needs model.write; the change, and a refusal, is audited.
func (s *Service) SetFeedbackAnnotation(ctx context.Context, model, annotation string) (Model, error) {
	m, err := s.GetModel(ctx, model)
	if err != nil {
		return m, err
	}
	refuse := func(err error) (Model, error) {
		s.audit.AppendRefusal(ctx, audit.Event{Action: "model.feedback_annotation.set", Project: m.Project, Target: "model:" + model, Outcome: audit.Denied,
			Detail: audit.MarshalDetail(map[string]any{"annotation": annotation, "reason": errs.MessageOf(err)})})
		return m, err
	}
	if err := auth.Require(ctx, m.Project, auth.PermModelWrite); err != nil {
		return refuse(err)
	}
	var value any
	if annotation != "" {
		var kind string
		err := s.db.QueryRow(ctx, `SELECT a.kind FROM annotation_projects a JOIN projects p ON p.id = a.project_id WHERE p.name = ? AND a.name = ?`, m.Project, annotation).Scan(&kind)
		if errors.Is(err, sql.ErrNoRows) {
			return refuse(errs.Invalidf("feedback annotation %q: no annotation project of that name in project %s", annotation, m.Project))
		}
		if err != nil {
			return m, err
		}
		if kind != annotate.KindClassification && kind != annotate.KindRows {
			return refuse(errs.Invalidf("feedback annotation %q is a %s project: predictions go to classification or rows projects", annotation, kind))
		}
		value = annotation
	}
	from := m.FeedbackAnnotation
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE models SET feedback_annotation = ? WHERE id = ?`, value, m.ID); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "model.feedback_annotation.set", Project: m.Project, Target: "model:" + model, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"from": from, "to": annotation})})
	})
	if err != nil {
		return m, err
	}
	m.FeedbackAnnotation = annotation
	return m, nil
}

// FeedbackAnnotationOf returns the annotation project a model's
// predictions flagged incorrect go to by default ("" when none), for one
// who may give feedback (feedback.write) or read the model.
func (s *Service) FeedbackAnnotationOf(ctx context.Context, model string) (string, error) {
	m, err := scanModel(s.db.QueryRow(ctx, `SELECT `+modelCols+`WHERE m.name = ?`, model))
	if errors.Is(err, sql.ErrNoRows) {
		return "", errs.NotFoundf("registered model %q not found", model)
	}
	if err != nil {
		return "", err
	}
	if auth.Require(ctx, m.Project, auth.PermFeedbackWrite) != nil {
		if err := auth.Require(ctx, m.Project, auth.PermModelRead); err != nil {
			return "", err
		}
	}
	return m.FeedbackAnnotation, nil
}
