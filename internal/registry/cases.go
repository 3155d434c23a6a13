package registry

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	hmodel "github.com/hygie-health/hygie/internal/model"
)

// ClinicalCase is one case clinicians wrote for a model: inputs and the
// output expected (a range; for a classifier, the risk predicted), like a
// regression test before deployment.
//
//	cases:
//	  - name: 80-year-old man, HbA1c 9 %
//	    inputs: {sexe: M, date_naissance_annee: 1946, imc: 31, hba1c: 9}
//	    expect: {min: 0.30}
//	  - name: young woman, normal values
//	    inputs: {sexe: F, date_naissance_annee: 1998, imc: 22, hba1c: 5.2}
//	    expect: {max: 0.10}
type ClinicalCase struct {
	Name   string         `yaml:"name" json:"name"`
	Inputs map[string]any `yaml:"inputs" json:"inputs"`
	Expect Expectation    `yaml:"expect" json:"expect"`
	Note   string         `yaml:"note,omitempty" json:"note,omitempty"`
}

// Expectation bounds a case's prediction.
type Expectation struct {
	Min *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *float64 `yaml:"max,omitempty" json:"max,omitempty"`
}

func (e Expectation) String() string {
	switch {
	case e.Min != nil && e.Max != nil:
		return fmt.Sprintf("in [%g, %g]", *e.Min, *e.Max)
	case e.Min != nil:
		return fmt.Sprintf("≥ %g", *e.Min)
	default:
		return fmt.Sprintf("≤ %g", *e.Max)
	}
}

// CaseResult is a case run against a model version.
type CaseResult struct {
	Name      string  `json:"name"`
	Predicted float64 `json:"predicted"`
	Expected  string  `json:"expected"`
	Pass      bool    `json:"pass"`
	Error     string  `json:"error,omitempty"`
}

// ParseCases reads a YAML document `cases: [...]`.
func ParseCases(b []byte) ([]ClinicalCase, error) {
	var doc struct {
		Cases []ClinicalCase `yaml:"cases"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, errs.Invalidf("clinical cases: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Cases) == 0 {
		return nil, errs.Invalidf("clinical cases: the document has no cases (want cases: [{name, inputs, expect}])")
	}
	seen := map[string]bool{}
	for i, c := range doc.Cases {
		where := fmt.Sprintf("clinical cases: cases[%d]", i)
		if strings.TrimSpace(c.Name) == "" {
			return nil, errs.Invalidf("%s: a name is required", where)
		}
		if seen[c.Name] {
			return nil, errs.Invalidf("%s: the name %q is used twice", where, c.Name)
		}
		seen[c.Name] = true
		if len(c.Inputs) == 0 {
			return nil, errs.Invalidf("%s (%s): inputs are required", where, c.Name)
		}
		if c.Expect.Min == nil && c.Expect.Max == nil {
			return nil, errs.Invalidf("%s (%s): expect needs min, max or both", where, c.Name)
		}
		for k, v := range c.Inputs {
			switch v.(type) {
			case int, float64, string, bool:
			default:
				return nil, errs.Invalidf("%s (%s): input %q must be a number or a text", where, c.Name, k)
			}
		}
	}
	return doc.Cases, nil
}

// SetCases replaces the clinical test cases of a model (which need not be
// registered yet). The principal needs model.write or model.signoff:
// clinicians write the cases.
func (s *Service) SetCases(ctx context.Context, project, model string, doc []byte) ([]ClinicalCase, error) {
	if auth.Require(ctx, project, auth.PermModelSignoff) != nil {
		if err := auth.Require(ctx, project, auth.PermModelWrite); err != nil {
			return nil, err
		}
	}
	if !nameRE.MatchString(model) {
		return nil, errs.Invalidf("model name %q: use lower-case letters, digits, '_' or '-', starting with a letter", model)
	}
	cases, err := ParseCases(doc)
	if err != nil {
		return nil, err
	}
	norm, _ := yaml.Marshal(map[string]any{"cases": cases})
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", project)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM clinical_cases WHERE project_id = ? AND model = ?`, pid, model); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO clinical_cases (project_id, model, cases, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)`,
			pid, model, string(norm), s.now().UTC(), audit.ActorFrom(ctx)); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "model.cases", Project: project, Target: "model:" + model, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"cases": len(cases)})})
	})
	return cases, err
}

// Cases returns a model's clinical test cases (none when unset).
func (s *Service) Cases(ctx context.Context, project, model string) ([]ClinicalCase, error) {
	var text string
	err := s.db.QueryRow(ctx, `SELECT c.cases FROM clinical_cases c JOIN projects p ON p.id = c.project_id WHERE p.name = ? AND c.model = ?`, project, model).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseCases([]byte(text))
}

// RunCases runs a model's clinical cases against a version.
func (s *Service) RunCases(ctx context.Context, v Version) ([]CaseResult, error) {
	cases, err := s.Cases(ctx, v.Project, v.Model)
	if err != nil || len(cases) == 0 {
		return nil, err
	}
	m, err := s.LoadModel(ctx, v)
	if err != nil {
		return nil, err
	}
	out := make([]CaseResult, len(cases))
	for i, c := range cases {
		r := CaseResult{Name: c.Name, Expected: c.Expect.String(), Predicted: math.NaN()}
		t := &hmodel.Table{}
		for k, val := range c.Inputs {
			col := hmodel.Column{Name: k}
			switch x := val.(type) {
			case int:
				col.Num = []float64{float64(x)}
			case float64:
				col.Num = []float64{x}
			case bool:
				col.Text = []string{strconv.FormatBool(x)}
			default:
				col.Text = []string{fmt.Sprint(x)}
			}
			t.Cols = append(t.Cols, col)
		}
		p, err := m.Predict(t)
		if err != nil {
			r.Error = errs.MessageOf(err)
		} else {
			r.Predicted = p[0]
			r.Pass = (c.Expect.Min == nil || p[0] >= *c.Expect.Min) && (c.Expect.Max == nil || p[0] <= *c.Expect.Max)
		}
		out[i] = r
	}
	return out, nil
}

// LoadModel reads a version's artifact in hygie's model format.
func (s *Service) LoadModel(ctx context.Context, v Version) (*hmodel.Model, error) {
	if v.Flavor != hmodel.Format || v.RunID == nil {
		return nil, errs.Invalidf("model %s version %d is not in hygie's model format: its clinical cases cannot run", v.Model, v.Version)
	}
	var path string
	if err := s.db.QueryRow(ctx, `SELECT path FROM run_artifacts WHERE run_id = ? AND blob_key = ?`, *v.RunID, v.ArtifactKey).Scan(&path); err != nil {
		return nil, db.NotFound(err, "model %s version %d: its artifact is no longer in run %d", v.Model, v.Version, *v.RunID)
	}
	rc, err := s.runs.OpenArtifact(ctx, *v.RunID, path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 256<<20))
	if err != nil {
		return nil, err
	}
	return hmodel.Unmarshal(b)
}
