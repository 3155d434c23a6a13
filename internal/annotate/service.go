package annotate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Service stores annotation projects. Every operation checks the acting
// user's permission in the hygie project and is audited; audit events name
// projects, tasks and counts, never the texts.
type Service struct {
	db       *db.DB
	audit    *audit.Log
	datasets *dataset.Service
	now      func() time.Time
}

// NewService returns the annotation service; datasets may be nil (no
// dataset sources or exports).
func NewService(d *db.DB, a *audit.Log, datasets *dataset.Service) *Service {
	return &Service{db: d, audit: a, datasets: datasets, now: time.Now}
}

// Project is an annotation project inside a hygie project.
type Project struct {
	ID                int64     `json:"id"`
	Project           string    `json:"project"`
	Name              string    `json:"name"`
	Kind              string    `json:"kind"`
	Labels            []Label   `json:"labels"`
	Guidelines        string    `json:"guidelines"`
	GuidelinesVersion int       `json:"guidelines_version"`
	Overlap           int       `json:"overlap"`
	CreatedBy         string    `json:"created_by"`
	CreatedAt         time.Time `json:"created_at"`
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,62}$`)

func (s *Service) event(ctx context.Context, action string, p Project, target string, detail map[string]any) audit.Event {
	if target == "" {
		target = "annotation:" + p.Name
	}
	return audit.Event{Action: action, Project: p.Project, Target: target, Outcome: audit.Success, Detail: audit.MarshalDetail(detail)}
}

// refuse audits a refusal and returns err.
func (s *Service) refuse(ctx context.Context, action string, p Project, target string, err error) error {
	ev := s.event(ctx, action, p, target, map[string]any{"reason": errs.MessageOf(err)})
	ev.Outcome = audit.Denied
	s.audit.AppendRefusal(ctx, ev)
	return err
}

// Create adds an annotation project (annotation.manage). Overlap 0 means
// DefaultOverlap; the guidelines start at version 1.
func (s *Service) Create(ctx context.Context, np Project) (Project, error) {
	if err := auth.Require(ctx, np.Project, auth.PermAnnotationManage); err != nil {
		return Project{}, err
	}
	if !nameRE.MatchString(np.Name) {
		return Project{}, errs.Invalidf("annotation project name %q: use lower-case letters, digits, '_' or '-', starting with a letter", np.Name)
	}
	if err := checkKind(np.Kind); err != nil {
		return Project{}, err
	}
	if err := ValidateSchema(np.Labels); err != nil {
		return Project{}, err
	}
	if np.Overlap == 0 {
		np.Overlap = DefaultOverlap
	}
	if np.Overlap < 1 || np.Overlap > 10 {
		return Project{}, errs.Invalidf("overlap %d: want 1 to 10 annotators per task", np.Overlap)
	}
	np.GuidelinesVersion = 1
	np.CreatedBy = audit.ActorFrom(ctx)
	np.CreatedAt = s.now().UTC()
	labels, _ := json.Marshal(np.Labels)
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, np.Project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", np.Project)
		}
		err := tx.QueryRow(ctx, `INSERT INTO annotation_projects (project_id, name, kind, labels, guidelines, guidelines_version, overlap, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, pid, np.Name, np.Kind, string(labels), np.Guidelines, 1, np.Overlap, np.CreatedBy, np.CreatedAt).Scan(&np.ID)
		if db.IsUniqueViolation(err) {
			return errs.Conflictf("annotation project %q already exists in %s", np.Name, np.Project)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO annotation_guidelines (annotation_project_id, version, guidelines, updated_by, updated_at) VALUES (?, 1, ?, ?, ?)`,
			np.ID, np.Guidelines, np.CreatedBy, np.CreatedAt); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, s.event(ctx, "annotation.create", np, "", map[string]any{"kind": np.Kind, "labels": len(np.Labels), "overlap": np.Overlap}))
	})
	return np, err
}

const projectCols = `a.id, p.name, a.name, a.kind, a.labels, a.guidelines, a.guidelines_version, a.overlap, a.created_by, a.created_at`

func scanProject(sc db.Scanner) (Project, error) {
	var p Project
	var labels string
	if err := sc.Scan(&p.ID, &p.Project, &p.Name, &p.Kind, &labels, &p.Guidelines, &p.GuidelinesVersion, &p.Overlap, &p.CreatedBy, &p.CreatedAt); err != nil {
		return p, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return p, json.Unmarshal([]byte(labels), &p.Labels)
}

// Get returns an annotation project (project.read: annotators need the
// schema and the guidelines).
func (s *Service) Get(ctx context.Context, project, name string) (Project, error) {
	if err := auth.Require(ctx, project, auth.PermProjectRead); err != nil {
		return Project{}, err
	}
	return s.get(ctx, project, name)
}

func (s *Service) get(ctx context.Context, project, name string) (Project, error) {
	p, err := scanProject(s.db.QueryRow(ctx, `SELECT `+projectCols+` FROM annotation_projects a JOIN projects p ON p.id = a.project_id WHERE p.name = ? AND a.name = ?`, project, name))
	if err != nil {
		return p, db.NotFound(err, "annotation project %q not found in %s", name, project)
	}
	return p, nil
}

// List lists a hygie project's annotation projects (project.read).
func (s *Service) List(ctx context.Context, project string) ([]Project, error) {
	if err := auth.Require(ctx, project, auth.PermProjectRead); err != nil {
		return nil, err
	}
	ps, err := db.All(ctx, s.db, scanProject, `SELECT `+projectCols+` FROM annotation_projects a JOIN projects p ON p.id = a.project_id WHERE p.name = ? ORDER BY a.name`, project)
	if ps == nil {
		ps = []Project{}
	}
	return ps, err
}

// SetGuidelines replaces the guidelines (annotation.manage) and bumps
// their version; annotations record the version their author saw.
func (s *Service) SetGuidelines(ctx context.Context, project, name, markdown string) (Project, error) {
	if err := auth.Require(ctx, project, auth.PermAnnotationManage); err != nil {
		return Project{}, err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return p, err
	}
	if markdown == p.Guidelines {
		return p, nil
	}
	p.Guidelines = markdown
	p.GuidelinesVersion++
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE annotation_projects SET guidelines = ?, guidelines_version = ? WHERE id = ? AND guidelines_version = ?`, markdown, p.GuidelinesVersion, p.ID, p.GuidelinesVersion-1)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.Conflictf("the guidelines of %s changed meanwhile: reload and retry", name)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO annotation_guidelines (annotation_project_id, version, guidelines, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.GuidelinesVersion, markdown, audit.ActorFrom(ctx), s.now().UTC()); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, s.event(ctx, "annotation.guidelines", p, "", map[string]any{"version": p.GuidelinesVersion}))
	})
	return p, err
}

// Task is a stored task.
type Task struct {
	ID          int64        `json:"id"`
	Ref         string       `json:"ref"`
	Source      string       `json:"source"`
	Data        TaskData     `json:"data"`
	Predictions []Prediction `json:"predictions"`
}

// AddResult counts the tasks an import added and skipped (a reference
// already present).
type AddResult struct {
	Added       int `json:"added"`
	Skipped     int `json:"skipped"`
	Annotations int `json:"annotations"` // imported with the tasks (Label Studio)
}

// AddTasks adds tasks (annotation.manage). Each task's reference must be
// unique in the project: tasks whose reference is already there are
// skipped. Suggestions and imported annotations are validated against the
// schema; one bad task refuses the whole import and nothing is added.
// Imported annotations count as their author's (assigned) answers.
func (s *Service) AddTasks(ctx context.Context, project, name string, tasks []NewTask) (AddResult, error) {
	if err := auth.Require(ctx, project, auth.PermAnnotationManage); err != nil {
		return AddResult{}, err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return AddResult{}, err
	}
	return s.addTasks(ctx, p, tasks, nil)
}

// addTasks is AddTasks once the caller is authorised; extra joins the
// audit event's detail.
func (s *Service) addTasks(ctx context.Context, p Project, tasks []NewTask, extra map[string]any) (AddResult, error) {
	var res AddResult
	refs := map[string]bool{}
	for i := range tasks {
		t := &tasks[i]
		if t.Ref == "" {
			t.Ref = fmt.Sprint(i + 1)
		}
		if refs[t.Ref] {
			return res, s.refuse(ctx, "annotation.import", p, "", errs.Invalidf("task %d: reference %q appears twice", i+1, t.Ref))
		}
		refs[t.Ref] = true
		if (p.Kind == KindRows) != (t.Data.Row != nil) {
			return res, s.refuse(ctx, "annotation.import", p, "", errs.Invalidf("task %q: a %s project takes %s", t.Ref, p.Kind, map[bool]string{true: "table rows", false: "texts"}[p.Kind == KindRows]))
		}
		if p.Kind != KindRows && !utf8.ValidString(t.Data.Text) {
			return res, s.refuse(ctx, "annotation.import", p, "", errs.Invalidf("task %q: the text is not valid UTF-8", t.Ref))
		}
		for j := range t.Predictions {
			if err := p.Validate(&t.Predictions[j].Result, t.Data.text()); err != nil {
				return res, s.refuse(ctx, "annotation.import", p, "", errs.Invalidf("task %q: suggestion of %s: %s", t.Ref, t.Predictions[j].Model, errs.MessageOf(err)))
			}
		}
		for j := range t.Annotations {
			if t.Annotations[j].Annotator == "" {
				return res, s.refuse(ctx, "annotation.import", p, "", errs.Invalidf("task %q: an imported annotation has no annotator", t.Ref))
			}
			if err := p.Validate(&t.Annotations[j].Result, t.Data.text()); err != nil {
				return res, s.refuse(ctx, "annotation.import", p, "", errs.Invalidf("task %q: annotation of %s: %s", t.Ref, t.Annotations[j].Annotator, errs.MessageOf(err)))
			}
		}
	}
	now := s.now().UTC()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, t := range tasks {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM annotation_tasks WHERE annotation_project_id = ? AND ref = ?`, p.ID, t.Ref).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				res.Skipped++
				continue
			}
			data, _ := json.Marshal(t.Data)
			preds := t.Predictions
			if preds == nil {
				preds = []Prediction{}
			}
			pj, _ := json.Marshal(preds)
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO annotation_tasks (annotation_project_id, ref, source, data, predictions, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
				p.ID, t.Ref, t.Source, string(data), string(pj), now).Scan(&id); err != nil {
				return err
			}
			res.Added++
			for _, a := range t.Annotations {
				rj, _ := json.Marshal(a.Result)
				if _, err := tx.Exec(ctx, `INSERT INTO annotation_assignments (task_id, username, assigned_at) VALUES (?, ?, ?)`, id, a.Annotator, now); err != nil {
					if db.IsUniqueViolation(err) {
						return errs.Invalidf("task %q: two annotations by %s", t.Ref, a.Annotator)
					}
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO annotations (task_id, username, result, guidelines_version, skipped, skip_reason, at) VALUES (?, ?, ?, ?, 0, '', ?)`,
					id, a.Annotator, string(rj), p.GuidelinesVersion, now); err != nil {
					return err
				}
				res.Annotations++
			}
		}
		sources := map[string]bool{}
		for _, t := range tasks {
			sources[t.Source] = true
		}
		detail := map[string]any{"added": res.Added, "skipped": res.Skipped, "annotations": res.Annotations, "sources": sortedKeys(sources)}
		for k, v := range extra {
			detail[k] = v
		}
		return s.audit.AppendTx(ctx, tx, s.event(ctx, "annotation.import", p, "", detail))
	})
	if err != nil {
		return AddResult{}, err
	}
	return res, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Tasks lists a project's tasks, by id (internal: callers check perms).
func (s *Service) tasks(ctx context.Context, p Project) ([]Task, error) {
	return db.All(ctx, s.db, scanTask, `SELECT id, ref, source, data, predictions FROM annotation_tasks WHERE annotation_project_id = ? ORDER BY id`, p.ID)
}

func scanTask(sc db.Scanner) (Task, error) {
	var t Task
	var data, preds string
	if err := sc.Scan(&t.ID, &t.Ref, &t.Source, &data, &preds); err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(data), &t.Data); err != nil {
		return t, err
	}
	return t, json.Unmarshal([]byte(preds), &t.Predictions)
}

func (s *Service) task(ctx context.Context, p Project, id int64) (Task, error) {
	t, err := scanTask(s.db.QueryRow(ctx, `SELECT id, ref, source, data, predictions FROM annotation_tasks WHERE annotation_project_id = ? AND id = ?`, p.ID, id))
	if err != nil {
		return t, db.NotFound(err, "task %d not found in %s", id, p.Name)
	}
	return t, nil
}

// AssignResult reports an assignment round.
type AssignResult struct {
	Assigned int            `json:"assigned"`
	Load     map[string]int `json:"load"` // assignments per annotator after the round
	// Short counts the tasks left with fewer annotators than the overlap
	// (fewer annotators than the overlap were given).
	Short int `json:"short"`
}

// Assign gives every task that has fewer than overlap annotators new ones
// from annotators (annotation.manage), never the same person twice on a
// task, always the least loaded (assignments in this project; ties by name
// order), so that queues stay balanced. Each annotator must hold
// annotation.write in the project.
func (s *Service) Assign(ctx context.Context, project, name string, annotators []string) (AssignResult, error) {
	res := AssignResult{Load: map[string]int{}}
	if err := auth.Require(ctx, project, auth.PermAnnotationManage); err != nil {
		return res, err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return res, err
	}
	annotators = slices.Compact(slices.Sorted(slices.Values(annotators)))
	if len(annotators) == 0 {
		return res, errs.Invalidf("no annotator given")
	}
	for _, a := range annotators {
		ok, err := auth.Holds(ctx, s.db, a, project, auth.PermAnnotationWrite)
		if err != nil {
			return res, err
		}
		if !ok {
			return res, s.refuse(ctx, "annotation.assign", p, "", errs.Invalidf("%s does not hold annotation.write in %s (grant the annotator role first)", a, project))
		}
	}
	type asg struct {
		task int64
		user string
	}
	current, err := db.All(ctx, s.db, func(sc db.Scanner) (asg, error) {
		var x asg
		return x, sc.Scan(&x.task, &x.user)
	}, `SELECT s.task_id, s.username FROM annotation_assignments s JOIN annotation_tasks t ON t.id = s.task_id WHERE t.annotation_project_id = ?`, p.ID)
	if err != nil {
		return res, err
	}
	byTask := map[int64][]string{}
	for _, a := range annotators {
		res.Load[a] = 0
	}
	for _, x := range current {
		byTask[x.task] = append(byTask[x.task], x.user)
		res.Load[x.user]++
	}
	tasks, err := s.tasks(ctx, p)
	if err != nil {
		return res, err
	}
	adjudicated, err := s.adjudicatedSet(ctx, p)
	if err != nil {
		return res, err
	}
	var add []asg
	for _, t := range tasks {
		if adjudicated[t.ID] {
			continue
		}
		have := byTask[t.ID]
		for len(have) < p.Overlap {
			best := ""
			for _, a := range annotators {
				if slices.Contains(have, a) {
					continue
				}
				if best == "" || res.Load[a] < res.Load[best] {
					best = a
				}
			}
			if best == "" {
				res.Short++
				break
			}
			have = append(have, best)
			res.Load[best]++
			add = append(add, asg{t.ID, best})
		}
	}
	res.Assigned = len(add)
	now := s.now().UTC()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, x := range add {
			if _, err := tx.Exec(ctx, `INSERT INTO annotation_assignments (task_id, username, assigned_at) VALUES (?, ?, ?)`, x.task, x.user, now); err != nil {
				return err
			}
		}
		return s.audit.AppendTx(ctx, tx, s.event(ctx, "annotation.assign", p, "", map[string]any{"assigned": res.Assigned, "annotators": annotators, "short": res.Short}))
	})
	return res, err
}

func (s *Service) adjudicatedSet(ctx context.Context, p Project) (map[int64]bool, error) {
	ids, err := db.All(ctx, s.db, func(sc db.Scanner) (int64, error) {
		var id int64
		return id, sc.Scan(&id)
	}, `SELECT j.task_id FROM annotation_adjudications j JOIN annotation_tasks t ON t.id = j.task_id WHERE t.annotation_project_id = ?`, p.ID)
	out := map[int64]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out, err
}

// QueueTask is a task in an annotator's queue, with the guidelines shown
// beside it and the model's suggestions (never the annotator's answer).
type QueueTask struct {
	Task
	Labels            []Label `json:"labels"`
	Guidelines        string  `json:"guidelines"`
	GuidelinesVersion int     `json:"guidelines_version"`
}

// Queue returns the acting annotator's unfinished assigned tasks
// (annotation.write): assigned, not yet answered or skipped, not
// adjudicated. Annotators never see other tasks nor others' answers.
func (s *Service) Queue(ctx context.Context, project, name string) ([]QueueTask, error) {
	if err := auth.Require(ctx, project, auth.PermAnnotationWrite); err != nil {
		return nil, err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return nil, err
	}
	ts, err := db.All(ctx, s.db, scanTask, `SELECT t.id, t.ref, t.source, t.data, t.predictions FROM annotation_tasks t
		JOIN annotation_assignments s ON s.task_id = t.id AND s.username = ?
		WHERE t.annotation_project_id = ?
		AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.task_id = t.id AND a.username = s.username)
		AND NOT EXISTS (SELECT 1 FROM annotation_adjudications j WHERE j.task_id = t.id)
		ORDER BY t.id`, audit.ActorFrom(ctx), p.ID)
	if err != nil {
		return nil, err
	}
	out := make([]QueueTask, 0, len(ts))
	for _, t := range ts {
		out = append(out, QueueTask{Task: t, Labels: p.Labels, Guidelines: p.Guidelines, GuidelinesVersion: p.GuidelinesVersion})
	}
	return out, nil
}

// Submit records the acting annotator's answer to a task (annotation.write),
// replacing an earlier one until the task is adjudicated. Refused, with
// nothing changed: a task not assigned to the user (forbidden), a task
// already adjudicated (conflict), a result outside the schema or the text
// (invalid).
func (s *Service) Submit(ctx context.Context, project, name string, taskID int64, r Result) error {
	return s.answer(ctx, project, name, taskID, r, false, "")
}

// Skip records that the acting annotator skipped a task, with a reason.
func (s *Service) Skip(ctx context.Context, project, name string, taskID int64, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errs.Invalidf("skipping a task needs a reason")
	}
	return s.answer(ctx, project, name, taskID, Result{}, true, reason)
}

func (s *Service) answer(ctx context.Context, project, name string, taskID int64, r Result, skipped bool, reason string) error {
	action := "annotation.submit"
	if skipped {
		action = "annotation.skip"
	}
	if err := auth.Require(ctx, project, auth.PermAnnotationWrite); err != nil {
		return err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return err
	}
	target := fmt.Sprintf("annotation:%s/task/%d", p.Name, taskID)
	t, err := s.task(ctx, p, taskID)
	if err != nil {
		return err
	}
	user := audit.ActorFrom(ctx)
	// The assignment is checked before the answer, so that validation
	// messages (text length) never reach someone the task is not for; it is
	// checked again in the transaction.
	var assigned int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM annotation_assignments WHERE task_id = ? AND username = ?`, t.ID, user).Scan(&assigned); err != nil {
		return err
	}
	if assigned == 0 {
		return s.refuse(ctx, action, p, target, errs.Forbiddenf("task %d is not assigned to %s", t.ID, user))
	}
	if !skipped {
		if err := p.Validate(&r, t.Data.text()); err != nil {
			return s.refuse(ctx, action, p, target, err)
		}
	}
	rj, _ := json.Marshal(r)
	skip := 0
	if skipped {
		skip = 1
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM annotation_assignments WHERE task_id = ? AND username = ?`, t.ID, user).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return errs.Forbiddenf("task %d is not assigned to %s", t.ID, user)
		}
		var by string
		err := tx.QueryRow(ctx, `SELECT username FROM annotation_adjudications WHERE task_id = ?`, t.ID).Scan(&by)
		if err == nil {
			return errs.Conflictf("task %d was adjudicated by %s: answers are closed", t.ID, by)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM annotations WHERE task_id = ? AND username = ?`, t.ID, user); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO annotations (task_id, username, result, guidelines_version, skipped, skip_reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.ID, user, string(rj), p.GuidelinesVersion, skip, reason, s.now().UTC()); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, s.event(ctx, action, p, target, map[string]any{"guidelines_version": p.GuidelinesVersion, "spans": len(r.Spans), "choices": len(r.Choices)}))
	})
	var e *errs.Error
	if errors.As(err, &e) && (e.Code == errs.Forbidden || e.Code == errs.Conflict) {
		return s.refuse(ctx, action, p, target, err)
	}
	return err
}

// Annotation is one annotator's answer.
type Annotation struct {
	Annotator         string    `json:"annotator"`
	Result            Result    `json:"result"`
	GuidelinesVersion int       `json:"guidelines_version"`
	Skipped           bool      `json:"skipped"`
	SkipReason        string    `json:"skip_reason,omitempty"`
	At                time.Time `json:"at"`
}

// Gold is an adjudicated result.
type Gold struct {
	Adjudicator       string    `json:"adjudicator"`
	Result            Result    `json:"result"`
	GuidelinesVersion int       `json:"guidelines_version"`
	At                time.Time `json:"at"`
}

// Review is a task with every answer side by side, and its gold result once
// adjudicated.
type Review struct {
	Task
	Annotations []Annotation `json:"annotations"`
	Gold        *Gold        `json:"gold,omitempty"`
}

// reviews loads every task with its answers and gold.
func (s *Service) reviews(ctx context.Context, p Project) ([]Review, error) {
	ts, err := s.tasks(ctx, p)
	if err != nil {
		return nil, err
	}
	type ann struct {
		task int64
		Annotation
	}
	anns, err := db.All(ctx, s.db, func(sc db.Scanner) (ann, error) {
		var a ann
		var res string
		var skip int
		if err := sc.Scan(&a.task, &a.Annotator, &res, &a.GuidelinesVersion, &skip, &a.SkipReason, &a.At); err != nil {
			return a, err
		}
		a.Skipped = skip != 0
		a.At = a.At.UTC()
		return a, json.Unmarshal([]byte(res), &a.Result)
	}, `SELECT a.task_id, a.username, a.result, a.guidelines_version, a.skipped, a.skip_reason, a.at FROM annotations a JOIN annotation_tasks t ON t.id = a.task_id
		WHERE t.annotation_project_id = ? ORDER BY a.task_id, a.username`, p.ID)
	if err != nil {
		return nil, err
	}
	type gold struct {
		task int64
		Gold
	}
	golds, err := db.All(ctx, s.db, func(sc db.Scanner) (gold, error) {
		var g gold
		var res string
		if err := sc.Scan(&g.task, &g.Adjudicator, &res, &g.GuidelinesVersion, &g.At); err != nil {
			return g, err
		}
		g.At = g.At.UTC()
		return g, json.Unmarshal([]byte(res), &g.Result)
	}, `SELECT j.task_id, j.username, j.result, j.guidelines_version, j.at FROM annotation_adjudications j JOIN annotation_tasks t ON t.id = j.task_id
		WHERE t.annotation_project_id = ?`, p.ID)
	if err != nil {
		return nil, err
	}
	byTask := map[int64]*Review{}
	out := make([]Review, len(ts))
	for i, t := range ts {
		out[i] = Review{Task: t, Annotations: []Annotation{}}
		byTask[t.ID] = &out[i]
	}
	for _, a := range anns {
		if r := byTask[a.task]; r != nil {
			r.Annotations = append(r.Annotations, a.Annotation)
		}
	}
	for _, g := range golds {
		if r := byTask[g.task]; r != nil {
			gg := g.Gold
			r.Gold = &gg
		}
	}
	return out, nil
}

// ForAdjudication lists the tasks awaiting adjudication (annotation.adjudicate):
// every assigned annotator answered or skipped, and no gold yet; with all
// the answers side by side.
func (s *Service) ForAdjudication(ctx context.Context, project, name string) ([]Review, error) {
	if err := auth.Require(ctx, project, auth.PermAnnotationAdjudicate); err != nil {
		return nil, err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return nil, err
	}
	all, err := s.reviews(ctx, p)
	if err != nil {
		return nil, err
	}
	assigned, err := s.assignedCount(ctx, p)
	if err != nil {
		return nil, err
	}
	out := []Review{}
	for _, r := range all {
		if r.Gold == nil && len(r.Annotations) > 0 && len(r.Annotations) >= assigned[r.ID] {
			out = append(out, r)
		}
	}
	if err := s.audit.Append(ctx, s.event(ctx, "annotation.review", p, "", map[string]any{"tasks": len(out)})); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) assignedCount(ctx context.Context, p Project) (map[int64]int, error) {
	type c struct {
		task int64
		n    int
	}
	cs, err := db.All(ctx, s.db, func(sc db.Scanner) (c, error) {
		var x c
		return x, sc.Scan(&x.task, &x.n)
	}, `SELECT s.task_id, COUNT(*) FROM annotation_assignments s JOIN annotation_tasks t ON t.id = s.task_id WHERE t.annotation_project_id = ? GROUP BY s.task_id`, p.ID)
	out := map[int64]int{}
	for _, x := range cs {
		out[x.task] = x.n
	}
	return out, err
}

// Adjudicate records the gold result of a task (annotation.adjudicate):
// one annotator's answer picked as is, or an edited result. The task must
// have at least one answer and no gold yet (a second adjudication is a
// conflict); the adjudicator must not be one of the task's annotators.
// After it, annotators' submissions to the task are refused.
func (s *Service) Adjudicate(ctx context.Context, project, name string, taskID int64, r Result) (Gold, error) {
	if err := auth.Require(ctx, project, auth.PermAnnotationAdjudicate); err != nil {
		return Gold{}, err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return Gold{}, err
	}
	target := fmt.Sprintf("annotation:%s/task/%d", p.Name, taskID)
	t, err := s.task(ctx, p, taskID)
	if err != nil {
		return Gold{}, err
	}
	if err := p.Validate(&r, t.Data.text()); err != nil {
		return Gold{}, s.refuse(ctx, "annotation.adjudicate", p, target, err)
	}
	g := Gold{Adjudicator: audit.ActorFrom(ctx), Result: r, GuidelinesVersion: p.GuidelinesVersion, At: s.now().UTC()}
	rj, _ := json.Marshal(r)
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var n, mine int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM annotations WHERE task_id = ? AND skipped = 0`, t.ID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return errs.Conflictf("task %d has no answer to adjudicate yet", t.ID)
		}
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM annotation_assignments WHERE task_id = ? AND username = ?`, t.ID, g.Adjudicator).Scan(&mine); err != nil {
			return err
		}
		if mine > 0 {
			return errs.Forbiddenf("%s annotated task %d: an annotator cannot adjudicate their own task", g.Adjudicator, t.ID)
		}
		_, err := tx.Exec(ctx, `INSERT INTO annotation_adjudications (task_id, username, result, guidelines_version, at) VALUES (?, ?, ?, ?, ?)`,
			t.ID, g.Adjudicator, string(rj), g.GuidelinesVersion, g.At)
		if db.IsUniqueViolation(err) {
			return errs.Conflictf("task %d is already adjudicated", t.ID)
		}
		if err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, s.event(ctx, "annotation.adjudicate", p, target, map[string]any{"spans": len(r.Spans), "choices": len(r.Choices)}))
	})
	var e *errs.Error
	if errors.As(err, &e) && (e.Code == errs.Forbidden || e.Code == errs.Conflict) {
		return Gold{}, s.refuse(ctx, "annotation.adjudicate", p, target, err)
	}
	return g, err
}

// Progress counts the work done, per annotator and for the project.
type Progress struct {
	Tasks       int                  `json:"tasks"`
	Assigned    int                  `json:"assigned"`    // tasks with at least one annotator
	Complete    int                  `json:"complete"`    // every assigned annotator answered or skipped
	Adjudicated int                  `json:"adjudicated"` // gold
	Annotators  map[string]UserCount `json:"annotators"`
}

// UserCount is one annotator's progress.
type UserCount struct {
	Assigned int `json:"assigned"`
	Done     int `json:"done"`
	Skipped  int `json:"skipped"`
}

// Progress reports progress (annotation.manage).
func (s *Service) Progress(ctx context.Context, project, name string) (Progress, error) {
	pr := Progress{Annotators: map[string]UserCount{}}
	if err := auth.Require(ctx, project, auth.PermAnnotationManage); err != nil {
		return pr, err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return pr, err
	}
	rs, err := s.reviews(ctx, p)
	if err != nil {
		return pr, err
	}
	type asg struct {
		task int64
		user string
	}
	as, err := db.All(ctx, s.db, func(sc db.Scanner) (asg, error) {
		var x asg
		return x, sc.Scan(&x.task, &x.user)
	}, `SELECT s.task_id, s.username FROM annotation_assignments s JOIN annotation_tasks t ON t.id = s.task_id WHERE t.annotation_project_id = ?`, p.ID)
	if err != nil {
		return pr, err
	}
	perTask := map[int64]int{}
	for _, a := range as {
		c := pr.Annotators[a.user]
		c.Assigned++
		pr.Annotators[a.user] = c
		perTask[a.task]++
	}
	pr.Tasks = len(rs)
	for _, r := range rs {
		if perTask[r.ID] > 0 {
			pr.Assigned++
			if len(r.Annotations) >= perTask[r.ID] {
				pr.Complete++
			}
		}
		if r.Gold != nil {
			pr.Adjudicated++
		}
		for _, a := range r.Annotations {
			c := pr.Annotators[a.Annotator]
			if a.Skipped {
				c.Skipped++
			} else {
				c.Done++
			}
			pr.Annotators[a.Annotator] = c
		}
	}
	return pr, nil
}

// Agreement computes the agreement report (annotation.manage) on the
// answers given (skipped tasks are missing values).
func (s *Service) Agreement(ctx context.Context, project, name string) (Report, error) {
	if err := auth.Require(ctx, project, auth.PermAnnotationManage); err != nil {
		return Report{}, err
	}
	p, err := s.get(ctx, project, name)
	if err != nil {
		return Report{}, err
	}
	rs, err := s.reviews(ctx, p)
	if err != nil {
		return Report{}, err
	}
	items := make([]Item, 0, len(rs))
	for _, r := range rs {
		it := Item{ID: r.ID, Length: utf8.RuneCountInString(r.Data.text()), Answers: map[string]Answer{}}
		for _, a := range r.Annotations {
			if !a.Skipped {
				it.Answers[a.Annotator] = Answer{Choices: a.Result.Choices, Spans: spanUnits(a.Result.Spans)}
			}
		}
		items = append(items, it)
	}
	rep := Agreement(p.Kind, labelNames(p.Labels), items)
	return rep, s.audit.Append(ctx, s.event(ctx, "annotation.agreement", p, "", map[string]any{"items": rep.Items}))
}
