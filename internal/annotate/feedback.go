package annotate

// Clinician feedback: predictions flagged incorrect become tasks on the
// clinician's behalf, and the adjudicated answers of those tasks are read
// back as the corrected labels of the next training set.

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// FeedbackSource is the source of the tasks made from clinician feedback;
// their references are FeedbackRef(prediction id).
const FeedbackSource = "feedback"

// FeedbackRef is the task reference of a prediction.
func FeedbackRef(predictionID string) string { return "prediction:" + predictionID }

// AddFeedbackTasks adds the tasks of predictions the acting user flagged
// incorrect. It is a system action on their behalf: it takes
// feedback.write, not annotation.manage (a clinician-validator gives
// feedback without managing annotation), accepts only feedback tasks
// (source FeedbackSource, reference prediction:ID) and only into a
// classification or rows project. The import is audited as
// annotation.import with "via": "feedback" and "on_behalf_of" the user.
func (s *Service) AddFeedbackTasks(ctx context.Context, project, name string, tasks []NewTask) (AddResult, error) {
	if err := auth.Require(ctx, project, auth.PermFeedbackWrite); err != nil {
		return AddResult{}, err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return AddResult{}, err
	}
	if p.Kind != KindClassification && p.Kind != KindRows {
		return AddResult{}, s.refuse(ctx, "annotation.import", p, "", errs.Invalidf("annotation project %s is a %s project: predictions go to classification or rows projects", p.Name, p.Kind))
	}
	for _, t := range tasks {
		if t.Source != FeedbackSource || !strings.HasPrefix(t.Ref, "prediction:") || len(t.Annotations) > 0 {
			return AddResult{}, s.refuse(ctx, "annotation.import", p, "", errs.Invalidf("task %q: only predictions flagged by feedback are added on a clinician's behalf", t.Ref))
		}
	}
	return s.addTasks(ctx, p, tasks, map[string]any{"via": FeedbackSource, "on_behalf_of": auth.FromContext(ctx).Username})
}

// FeedbackLabel is the adjudicated answer of a feedback task: the right
// label of a prediction.
type FeedbackLabel struct {
	Annotation   string    `json:"annotation"`
	PredictionID string    `json:"prediction_id"`
	Label        string    `json:"label"`
	Adjudicator  string    `json:"adjudicator"`
	At           time.Time `json:"at"`
}

// FeedbackGold lists the gold labels of the feedback tasks of a hygie
// project's classification and rows annotation projects (only annotation
// when not empty), one per prediction: the latest adjudication when a
// prediction is in several annotation projects. It takes
// annotation.manage; the read is audited.
func (s *Service) FeedbackGold(ctx context.Context, project, annotation string) ([]FeedbackLabel, error) {
	if err := auth.Require(ctx, project, auth.PermAnnotationManage); err != nil {
		return nil, err
	}
	q := `SELECT a.name, t.ref, j.result, j.username, j.at FROM annotation_adjudications j JOIN annotation_tasks t ON t.id = j.task_id
		JOIN annotation_projects a ON a.id = t.annotation_project_id JOIN projects p ON p.id = a.project_id
		WHERE p.name = ? AND t.source = ? AND a.kind IN (?, ?)`
	args := []any{project, FeedbackSource, KindClassification, KindRows}
	if annotation != "" {
		p, err := s.get(ctx, project, annotation)
		if err != nil {
			return nil, err
		}
		if p.Kind != KindClassification && p.Kind != KindRows {
			return nil, errs.Invalidf("annotation project %s is a %s project: feedback goes to classification or rows projects", p.Name, p.Kind)
		}
		q += ` AND a.name = ?`
		args = append(args, annotation)
	}
	rows, err := db.All(ctx, s.db, func(sc db.Scanner) (FeedbackLabel, error) {
		var f FeedbackLabel
		var ref, res string
		if err := sc.Scan(&f.Annotation, &ref, &res, &f.Adjudicator, &f.At); err != nil {
			return f, err
		}
		var r Result
		if err := json.Unmarshal([]byte(res), &r); err != nil {
			return f, err
		}
		f.PredictionID, f.Label, f.At = strings.TrimPrefix(ref, "prediction:"), first(r.Choices), f.At.UTC()
		return f, nil
	}, q+` ORDER BY j.at DESC, j.task_id DESC`, args...)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := []FeedbackLabel{}
	for _, f := range rows {
		if seen[f.PredictionID] || f.Label == "" {
			continue
		}
		seen[f.PredictionID] = true
		out = append(out, f)
	}
	names := map[string]bool{}
	for _, f := range out {
		names[f.Annotation] = true
	}
	ev := s.event(ctx, "annotation.read", Project{Project: project, Name: annotation}, "", map[string]any{"feedback_gold": len(out), "annotation_projects": sortedKeys(names)})
	if annotation == "" {
		ev.Target = "annotation:*"
	}
	return out, s.audit.Append(ctx, ev)
}
