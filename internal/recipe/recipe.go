// Package recipe holds transformation recipes: a declarative YAML list of
// steps that turns one dataset version into the next. The recipe text is
// stored with the version it produced, so lineage says exactly how.
//
// A recipe works on a typed dataset.Frame. Parse validates everything it can
// without data (step fields, units, types, expression syntax), Apply checks
// the rest against the frame (columns, types) and runs the steps on a copy.
// Error messages name the step, the input row positions and the columns,
// never a data value: values may identify a patient. docs/recipes.md is the
// reference of every step.
package recipe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// Recipe is a parsed, validated recipe.
type Recipe struct {
	Name  string
	Steps []Step
}

// Step is one parsed step of a recipe.
type Step struct {
	Kind string // the step's YAML key: "select", "convert", "split", ...
	op   op
}

// op is a parsed step: it runs on the working frame and describes itself.
type op interface {
	apply(w *work) error
	describe() string
}

// Describe returns the step in one line, e.g. "convert height_cm from cm to
// m as height_m".
func (s Step) Describe() string {
	if s.op == nil {
		return s.Kind
	}
	return s.op.describe()
}

// kinds lists the step kinds and their parsers, in the order the
// documentation gives them.
var kinds = []struct {
	name  string
	parse func(n *yaml.Node) (op, error)
}{
	{"select", parseSelect},
	{"drop", parseDrop},
	{"rename", parseRename},
	{"cast", parseCast},
	{"convert", parseConvert},
	{"recode", parseRecode},
	{"derive", parseDerive},
	{"filter", parseFilter},
	{"impute", parseImpute},
	{"bin", parseBin},
	{"one_hot", parseOneHot},
	{"age", parseAge},
	{"split", parseSplit},
	{"not_null", parseNotNull},
	{"range", parseRange},
	{"unique", parseUnique},
	{"allowed", parseAllowed},
	{"row_count", parseRowCount},
}

func kindNames() string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return strings.Join(names, ", ")
}

// Parse reads and validates a recipe: one YAML document with an optional
// name and a list of steps, each a mapping with exactly one key, the step
// kind. Unknown fields, unknown step kinds, unknown units or types and
// invalid expressions are errors naming the step.
func Parse(text []byte) (r *Recipe, err error) {
	defer func() {
		// The YAML decoder has panicked on hostile input in past releases:
		// a recipe is outside input, so never let it take the server down.
		if p := recover(); p != nil {
			r, err = nil, errs.Invalidf("recipe: malformed YAML")
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errs.Invalidf("recipe: empty, want name and steps")
		}
		return nil, errs.Invalidf("recipe: %s", yamlMessage(err))
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errs.Invalidf("recipe: want a single YAML document")
	}
	root := deref(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = deref(root.Content[0])
	}
	if root.Kind != yaml.MappingNode {
		return nil, errs.Invalidf("recipe: want a mapping with name and steps")
	}
	for k := 0; k+1 < len(root.Content); k += 2 {
		v := deref(root.Content[k+1])
		if deref(root.Content[k]).Value == "steps" && v.Kind != yaml.SequenceNode && v.Tag != "!!null" {
			return nil, errs.Invalidf("recipe: steps: want a list of steps")
		}
	}
	var top struct {
		Name  string      `yaml:"name"`
		Steps []yaml.Node `yaml:"steps"`
	}
	if err := decodeNode(root, &top); err != nil {
		return nil, errs.Invalidf("recipe: %s", errs.MessageOf(err))
	}
	if len(top.Steps) == 0 {
		return nil, errs.Invalidf("recipe: no steps")
	}
	r = &Recipe{Name: top.Name}
	for i := range top.Steps {
		s, err := parseStep(&top.Steps[i])
		if err != nil {
			if s.Kind == "" {
				return nil, errs.Invalidf("recipe step %d: %s", i+1, errs.MessageOf(err))
			}
			return nil, errs.Invalidf("recipe step %d (%s): %s", i+1, s.Kind, errs.MessageOf(err))
		}
		r.Steps = append(r.Steps, s)
	}
	return r, nil
}

func parseStep(n *yaml.Node) (Step, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		var keys []string
		if n.Kind == yaml.MappingNode {
			for k := 0; k+1 < len(n.Content); k += 2 {
				keys = append(keys, deref(n.Content[k]).Value)
			}
		}
		if len(keys) > 1 {
			return Step{}, errs.Invalidf("want exactly one step kind per step, got %d (%s)", len(keys), strings.Join(keys, ", "))
		}
		return Step{}, errs.Invalidf("want a mapping with exactly one key, the step kind (%s)", kindNames())
	}
	kind := deref(n.Content[0]).Value
	for _, k := range kinds {
		if k.name == kind {
			o, err := k.parse(deref(n.Content[1]))
			return Step{Kind: kind, op: o}, err
		}
	}
	return Step{}, errs.Invalidf("unknown step %q (steps: %s)", kind, kindNames())
}

// Apply runs the recipe on f and returns a new frame; f is never modified
// and shares no memory with the result. Nothing is returned if any step
// fails, a quality check included.
func (r *Recipe) Apply(f *dataset.Frame) (*dataset.Frame, error) {
	if f == nil || slices.Contains(f.Vecs, nil) {
		return nil, errs.Invalidf("recipe: no input")
	}
	if err := f.Validate(); err != nil {
		return nil, errs.Invalidf("recipe input: %s", errs.MessageOf(err))
	}
	seen := map[string]bool{}
	for _, c := range f.Columns {
		if !validType(c.Type) {
			return nil, errs.Invalidf("recipe input: column %q has unknown type %q", c.Name, c.Type)
		}
		if seen[c.Name] {
			return nil, errs.Invalidf("recipe input: duplicate column %q", c.Name)
		}
		seen[c.Name] = true
	}
	w := &work{cols: slices.Clone(f.Columns), vecs: slices.Clone(f.Vecs), origin: make([]int, f.Rows())}
	for i := range w.origin {
		w.origin[i] = i
	}
	for i, s := range r.Steps {
		if s.op == nil {
			return nil, errs.Invalidf("recipe step %d (%s): not parsed, use recipe.Parse", i+1, s.Kind)
		}
		if err := s.op.apply(w); err != nil {
			return nil, errs.Invalidf("recipe step %d (%s): %s", i+1, s.Kind, errs.MessageOf(err))
		}
	}
	if len(w.cols) == 0 {
		return nil, errs.Invalidf("recipe: no columns left")
	}
	// Steps never modify a vector in place, but unchanged columns still
	// point at the input's: copy those so the result owns its memory.
	shared := map[*dataset.Vec]bool{}
	for _, v := range f.Vecs {
		shared[v] = true
	}
	out := &dataset.Frame{Columns: w.cols, Vecs: make([]*dataset.Vec, len(w.vecs))}
	for i, v := range w.vecs {
		if shared[v] {
			v = cloneVec(v)
		}
		shared[v] = true // a vector used twice is copied the second time
		out.Vecs[i] = v
	}
	return out, nil
}

// String describes the recipe for logs.
func (r *Recipe) String() string { return fmt.Sprintf("recipe %q (%d steps)", r.Name, len(r.Steps)) }

// Describe lists the steps, one line each, in order (line i is step i+1),
// for the UI and the CLI.
func (r *Recipe) Describe() []string {
	out := make([]string, len(r.Steps))
	for i, s := range r.Steps {
		out[i] = s.Describe()
	}
	return out
}
