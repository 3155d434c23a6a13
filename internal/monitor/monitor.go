// Package monitor follows models in production: the prediction log and
// clinicians' feedback on individual predictions, which feeds the next
// annotation queue and training run; and the checks of a model in
// production against its training data: data drift per input and for the
// whole dataset, prediction drift, live performance measured from
// feedback and estimated without labels (CBPE), stored over time, with
// alert rules that call webhooks. See docs/monitoring.md.
package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/webhook"
)

// Verdicts a clinician may give.
var Verdicts = []string{"correct", "incorrect", "unsure"}

// Prediction is one logged prediction.
type Prediction struct {
	ID       string             `json:"id"`
	Project  string             `json:"project"`
	Model    string             `json:"model"`
	Version  int                `json:"version"`
	At       time.Time          `json:"at"`
	Inputs   map[string]any     `json:"inputs"` // numbers, category values; never identifiers
	Outputs  map[string]float64 `json:"outputs"`
	Feedback []Feedback         `json:"feedback,omitempty"`
}

// Feedback is a clinician's verdict on a prediction.
type Feedback struct {
	ID           int64     `json:"id"`
	PredictionID string    `json:"prediction_id"`
	User         string    `json:"user"`
	Verdict      string    `json:"verdict"`
	Corrected    string    `json:"corrected,omitempty"`
	Comment      string    `json:"comment,omitempty"`
	At           time.Time `json:"at"`
}

// Service reads predictions and records feedback.
type Service struct {
	db    *db.DB
	audit *audit.Log
	now   func() time.Time

	src      Sources // set by SetSources: what checks read
	refs     refCache
	webhooks webhook.Sender
}

// NewService returns the monitoring service.
func NewService(d *db.DB, a *audit.Log) *Service {
	return &Service{db: d, audit: a, now: time.Now}
}

// SetSources gives the service what checks read; without them Check
// answers that monitoring is not configured.
func (s *Service) SetSources(src Sources) { s.src = src }

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

const predCols = `pr.id, p.name, m.name, mv.version, pr.at, pr.inputs_json, pr.outputs_json`
const predFrom = ` FROM predictions pr JOIN model_versions mv ON mv.id = pr.model_version_id JOIN models m ON m.id = mv.model_id JOIN projects p ON p.id = m.project_id `

func scanPred(sc db.Scanner) (Prediction, error) {
	var p Prediction
	var in, out string
	if err := sc.Scan(&p.ID, &p.Project, &p.Model, &p.Version, &p.At, &in, &out); err != nil {
		return p, err
	}
	p.At = p.At.UTC()
	if err := json.Unmarshal([]byte(in), &p.Inputs); err != nil {
		return p, err
	}
	return p, json.Unmarshal([]byte(out), &p.Outputs)
}

// Prediction returns one prediction with its feedback.
func (s *Service) Prediction(ctx context.Context, id string) (Prediction, error) {
	p, err := scanPred(s.db.QueryRow(ctx, `SELECT `+predCols+predFrom+`WHERE pr.id = ?`, id))
	if err != nil {
		return p, db.NotFound(err, "prediction %q not found", id)
	}
	rows, err := s.db.Query(ctx, `SELECT f.id, f.prediction_id, u.username, f.verdict, f.corrected, f.comment, f.at FROM feedback f JOIN users u ON u.id = f.user_id WHERE f.prediction_id = ? ORDER BY f.id`, id)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	for rows.Next() {
		var f Feedback
		if err := rows.Scan(&f.ID, &f.PredictionID, &f.User, &f.Verdict, &f.Corrected, &f.Comment, &f.At); err != nil {
			return p, err
		}
		f.At = f.At.UTC()
		p.Feedback = append(p.Feedback, f)
	}
	return p, rows.Err()
}

// Predictions lists a project's latest predictions.
func (s *Service) Predictions(ctx context.Context, project string, limit int) ([]Prediction, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return db.All(ctx, s.db, scanPred, `SELECT `+predCols+predFrom+fmt.Sprintf(`WHERE p.name = ? ORDER BY pr.at DESC, pr.id LIMIT %d`, limit), project)
}

// RecordFeedback stores the acting clinician's verdict on a prediction.
func (s *Service) RecordFeedback(ctx context.Context, predictionID, verdict, corrected, comment string) (Feedback, error) {
	ok := false
	for _, v := range Verdicts {
		ok = ok || v == verdict
	}
	if !ok {
		return Feedback{}, errs.Invalidf("verdict %q: want correct, incorrect or unsure", verdict)
	}
	if len(comment) > 4000 || len(corrected) > 200 {
		return Feedback{}, errs.Invalidf("comment (4000) or corrected value (200 characters) too long")
	}
	p, err := s.Prediction(ctx, predictionID)
	if err != nil {
		return Feedback{}, err
	}
	if err := auth.Require(ctx, p.Project, auth.PermFeedbackWrite); err != nil {
		return Feedback{}, err
	}
	who := auth.FromContext(ctx)
	f := Feedback{PredictionID: predictionID, User: who.Username, Verdict: verdict, Corrected: corrected, Comment: comment, At: s.now().UTC()}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO feedback (prediction_id, user_id, verdict, corrected, comment, at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			predictionID, who.UserID, verdict, corrected, comment, f.At).Scan(&f.ID); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "feedback.create", Project: p.Project, Target: "prediction:" + predictionID, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"verdict": verdict})})
	})
	return f, err
}
