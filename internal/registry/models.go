package registry

import (
	"context"
	"database/sql"
	"errors"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// CreateModel registers a model name in a project before its first
// version (MLflow clients do). The principal needs model.write; a name
// taken anywhere is a conflict.
func (s *Service) CreateModel(ctx context.Context, project, name, description string) (Model, error) {
	if err := auth.Require(ctx, project, auth.PermModelWrite); err != nil {
		return Model{}, err
	}
	if !nameRE.MatchString(name) {
		return Model{}, errs.Invalidf("model name %q: use lower-case letters, digits, '_' or '-', starting with a letter", name)
	}
	m := Model{Project: project, Name: name, Description: description, CreatedAt: s.now().UTC()}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", project)
		}
		var exists int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM models WHERE name = ?`, name).Scan(&exists); err != nil {
			return err
		}
		if exists > 0 {
			return errs.Conflictf("registered model %q already exists", name)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO models (project_id, name, description, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			pid, name, description, m.CreatedAt).Scan(&m.ID); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "model.create", Project: project, Target: "model:" + name, Outcome: audit.Success})
	})
	return m, err
}

const modelCols = `m.id, p.name, m.name, m.description, m.created_at, COALESCE(m.feedback_annotation, '') FROM models m JOIN projects p ON p.id = m.project_id `

func scanModel(sc db.Scanner) (Model, error) {
	var m Model
	err := sc.Scan(&m.ID, &m.Project, &m.Name, &m.Description, &m.CreatedAt, &m.FeedbackAnnotation)
	m.CreatedAt = m.CreatedAt.UTC()
	return m, err
}

// GetModel returns a registered model; the principal needs model.read.
func (s *Service) GetModel(ctx context.Context, name string) (Model, error) {
	m, err := scanModel(s.db.QueryRow(ctx, `SELECT `+modelCols+`WHERE m.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return m, errs.NotFoundf("registered model %q not found", name)
	}
	if err != nil {
		return m, err
	}
	return m, auth.Require(ctx, m.Project, auth.PermModelRead)
}

// Models lists the models of the projects where the principal holds
// model.read, by name.
func (s *Service) Models(ctx context.Context) ([]Model, error) {
	all, err := db.All(ctx, s.db, scanModel, `SELECT `+modelCols+`ORDER BY m.name`)
	if err != nil {
		return nil, err
	}
	var out []Model
	for _, m := range all {
		if auth.Require(ctx, m.Project, auth.PermModelRead) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}
