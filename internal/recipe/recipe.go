// Package recipe holds transformation recipes: a declarative YAML list of
// steps that turns one dataset version into the next. The recipe text is
// stored with the version it produced, so lineage says exactly how.
package recipe

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// Recipe is a parsed recipe.
type Recipe struct {
	Name  string `yaml:"name"`
	Steps []Step `yaml:"steps"`
}

// Step is one transformation; exactly one field is set.
type Step struct {
	Convert *Convert          `yaml:"convert,omitempty"`
	Drop    []string          `yaml:"drop,omitempty"`
	Rename  map[string]string `yaml:"rename,omitempty"`
}

// Convert changes a numeric column's unit.
type Convert struct {
	Column string `yaml:"column"`
	From   string `yaml:"from"`
	To     string `yaml:"to"`
	As     string `yaml:"as"` // new column name; empty keeps the name
	Digits int    `yaml:"digits"`
}

// units maps unit → (dimension, factor to the dimension's base unit).
var units = map[string]struct {
	dim    string
	factor float64
}{
	"m": {"length", 1}, "cm": {"length", 0.01}, "mm": {"length", 0.001}, "in": {"length", 0.0254},
	"kg": {"mass", 1}, "g": {"mass", 0.001}, "lb": {"mass", 0.45359237},
}

// Parse reads a recipe; unknown fields and malformed steps are errors naming
// the step.
func Parse(text []byte) (*Recipe, error) {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	var r Recipe
	if err := dec.Decode(&r); err != nil {
		return nil, errs.Invalidf("recipe: %v", err)
	}
	if len(r.Steps) == 0 {
		return nil, errs.Invalidf("recipe: no steps")
	}
	for i, s := range r.Steps {
		n := 0
		if s.Convert != nil {
			n++
			c := s.Convert
			f, ok1 := units[c.From]
			to, ok2 := units[c.To]
			switch {
			case c.Column == "":
				return nil, errs.Invalidf("recipe step %d (convert): column is required", i+1)
			case !ok1 || !ok2:
				return nil, errs.Invalidf("recipe step %d (convert): unknown unit (from %q, to %q)", i+1, c.From, c.To)
			case f.dim != to.dim:
				return nil, errs.Invalidf("recipe step %d (convert): cannot convert %s (%s) to %s (%s)", i+1, c.From, f.dim, c.To, to.dim)
			}
		}
		if s.Drop != nil {
			n++
		}
		if s.Rename != nil {
			n++
		}
		if n != 1 {
			return nil, errs.Invalidf("recipe step %d: want exactly one of convert, drop, rename", i+1)
		}
	}
	return &r, nil
}

// Apply runs the recipe on a copy of t.
func (r *Recipe) Apply(t *dataset.Table) (*dataset.Table, error) {
	out := t.Clone()
	for i, s := range r.Steps {
		var err error
		switch {
		case s.Convert != nil:
			err = convert(out, s.Convert)
		case s.Drop != nil:
			err = drop(out, s.Drop)
		case s.Rename != nil:
			err = rename(out, s.Rename)
		}
		if err != nil {
			return nil, errs.Invalidf("recipe step %d: %s", i+1, errs.MessageOf(err))
		}
	}
	return out, nil
}

func convert(t *dataset.Table, c *Convert) error {
	i, err := t.MustColumn(c.Column)
	if err != nil {
		return err
	}
	factor := units[c.From].factor / units[c.To].factor
	for r, row := range t.Rows {
		if row[i] == "" {
			continue
		}
		v, err := strconv.ParseFloat(row[i], 64)
		if err != nil {
			return errs.Invalidf("row %d, column %q: not a number", r+1, c.Column)
		}
		digits := c.Digits
		if digits == 0 {
			digits = -1
		}
		row[i] = strconv.FormatFloat(v*factor, 'f', digits, 64)
	}
	t.Columns[i].Type = dataset.TypeFloat
	if c.As != "" {
		if j := t.Index(c.As); j >= 0 && j != i {
			return errs.Invalidf("column %q already exists", c.As)
		}
		t.Columns[i].Name = c.As
	}
	return nil
}

func drop(t *dataset.Table, names []string) error {
	del := map[int]bool{}
	for _, n := range names {
		i, err := t.MustColumn(n)
		if err != nil {
			return err
		}
		del[i] = true
	}
	var cols []dataset.Column
	for i, c := range t.Columns {
		if !del[i] {
			cols = append(cols, c)
		}
	}
	for r, row := range t.Rows {
		var nr []string
		for i, v := range row {
			if !del[i] {
				nr = append(nr, v)
			}
		}
		t.Rows[r] = nr
	}
	t.Columns = cols
	return nil
}

func rename(t *dataset.Table, m map[string]string) error {
	for from, to := range m {
		i, err := t.MustColumn(from)
		if err != nil {
			return err
		}
		if t.Index(to) >= 0 {
			return errs.Invalidf("column %q already exists", to)
		}
		t.Columns[i].Name = to
	}
	return nil
}

// String describes the recipe for logs.
func (r *Recipe) String() string { return fmt.Sprintf("recipe %q (%d steps)", r.Name, len(r.Steps)) }

// Transform applies recipe text to a version and stores the result as a new
// version of dataset out (the source's dataset when empty), with lineage to
// src and the recipe recorded. Nothing is created if any step fails.
func Transform(ctx context.Context, ds *dataset.Service, src dataset.Version, text []byte, out string) (dataset.Version, bool, error) {
	r, err := Parse(text)
	if err != nil {
		return dataset.Version{}, false, err
	}
	t, err := ds.Read(ctx, src)
	if err != nil {
		return dataset.Version{}, false, err
	}
	res, err := r.Apply(t)
	if err != nil {
		return dataset.Version{}, false, err
	}
	if out == "" {
		out = src.Dataset
	}
	return ds.Create(ctx, dataset.NewVersion{Project: src.Project, Dataset: out, Table: res, Level: src.Level, Parent: &src, Recipe: string(text)})
}
