// Package project holds clinical ML projects: the unit that owns datasets,
// runs, models and members, and to which roles are granted.
package project

import (
	"context"
	"regexp"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Project is a clinical ML project.
type Project struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
}

// Service manages projects.
type Service struct {
	db    *db.DB
	audit *audit.Log
	now   func() time.Time
}

// NewService returns the project service.
func NewService(d *db.DB, a *audit.Log) *Service { return &Service{db: d, audit: a, now: time.Now} }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// ValidateName checks a project name (used in URLs).
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return errs.Invalidf("project name %q: use 2-63 lower-case letters, digits or '-', starting with a letter", name)
	}
	return nil
}

// Create adds a project. Members are added with auth.Service.Grant.
func (s *Service) Create(ctx context.Context, name, title, description string) (Project, error) {
	if err := ValidateName(name); err != nil {
		return Project{}, err
	}
	actor := audit.ActorFrom(ctx)
	p := Project{Name: name, Title: title, Description: description, CreatedAt: s.now().UTC(), CreatedBy: actor}
	if p.Title == "" {
		p.Title = name
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO projects (name, title, description, created_at, created_by) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			p.Name, p.Title, p.Description, p.CreatedAt, actor).Scan(&p.ID)
		if db.IsUniqueViolation(err) {
			return errs.Conflictf("project %q already exists", name)
		}
		if err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "project.create", Project: name, Target: "project:" + name, Outcome: audit.Success})
	})
	return p, err
}

func scan(r db.Scanner) (Project, error) {
	var p Project
	err := r.Scan(&p.ID, &p.Name, &p.Title, &p.Description, &p.CreatedAt, &p.CreatedBy)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, err
}

const cols = `id, name, title, description, created_at, created_by`

// Get returns a project by name.
func (s *Service) Get(ctx context.Context, name string) (Project, error) {
	p, err := scan(s.db.QueryRow(ctx, `SELECT `+cols+` FROM projects WHERE name = ?`, name))
	return p, db.NotFound(err, "project %q not found", name)
}

// List returns all projects, by name.
func (s *Service) List(ctx context.Context) ([]Project, error) {
	return db.All(ctx, s.db, scan, `SELECT `+cols+` FROM projects ORDER BY name`)
}
