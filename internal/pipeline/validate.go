package pipeline

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
)

// LevelOf tells validation the privacy level and columns of an existing
// dataset's latest version (for import steps with existing:); ok is false
// when unknown.
type LevelOf func(dataset string) (level dataset.Level, cols []dataset.Column, ok bool)

// Validate substitutes the parameter values into each step's `with:`,
// decodes and checks it against the step type, and checks the graph:
// unknown types, unknown, missing or ill-typed inputs, unknown `after:`
// steps, duplicate names, cycles, and every path that would give a
// training step identifying data. levelOf may be nil. On success the
// steps' Config are set and Order returns them in a topological order.
func (s *Spec) Validate(values map[string]string, levelOf LevelOf) error {
	var ps Problems
	bad := func(line int, step, format string, args ...any) {
		ps = append(ps, Problem{File: s.File, Line: line, Step: step, Msg: fmt.Sprintf(format, args...)})
	}
	byName := map[string]*Step{}
	for _, st := range s.Steps {
		if prev, dup := byName[st.Name]; dup {
			bad(st.Line, st.Name, "duplicate step name (first at line %d)", prev.Line)
			continue
		}
		byName[st.Name] = st
	}
	for _, st := range s.Steps {
		t, ok := Types[st.Type]
		if !ok {
			bad(st.Line, st.Name, "unknown step type %q (want one of %s)", st.Type, strings.Join(TypeNames(), ", "))
			continue
		}
		// Configuration.
		cfg := t.newConfig()
		with := substitute(st.with, values, func(line int, name string) {
			bad(line, st.Name, "unknown parameter ${params.%s} (declared: %s)", name, strings.Join(sortedKeys(s.Params), ", "))
		})
		if with != nil && with.Tag != "!!null" {
			if with.Kind != yaml.MappingNode {
				bad(with.Line, st.Name, "with: want a mapping")
			} else if msg := unknownKeys(with, reflect.TypeOf(cfg)); msg != "" {
				line, m := yamlError(fmt.Errorf("%s", msg))
				bad(line, st.Name, "with: %s", m)
			} else if err := with.Decode(cfg); err != nil {
				line, msg := yamlError(err)
				if line == 0 {
					line = st.withLine
				}
				bad(line, st.Name, "with: %s", msg)
			}
		}
		if c, ok := cfg.(checker); ok {
			for _, msg := range c.check() {
				bad(st.withLine, st.Name, "%s", msg)
			}
		}
		st.Config = cfg
		// Inputs.
		declared := map[string]Input{}
		for _, in := range t.Inputs {
			declared[in.Name] = in
			if _, ok := st.Inputs[in.Name]; !ok && !in.Optional {
				bad(st.Line, st.Name, "missing input %q (a %s from another step)", in.Name, in.Kind)
			}
		}
		for _, name := range sortedKeys(st.Inputs) {
			ref := st.Inputs[name]
			in, ok := declared[name]
			if !ok {
				bad(ref.Line, st.Name, "unknown input %q for a %s step (inputs: %s)", name, st.Type, inputNames(t))
				continue
			}
			up, ok := byName[ref.Step]
			if !ok {
				bad(ref.Line, st.Name, "input %s: no step named %q", name, ref.Step)
				continue
			}
			if ref.Step == st.Name {
				bad(ref.Line, st.Name, "input %s: a step cannot take its own output", name)
				continue
			}
			ut, ok := Types[up.Type]
			if !ok {
				continue // reported on that step
			}
			if ref.Output != "" && Kind(ref.Output) != ut.Output {
				bad(ref.Line, st.Name, "input %s: step %q has no output %q (it outputs a %s)", name, ref.Step, ref.Output, ut.Output)
			} else if ut.Output != in.Kind {
				bad(ref.Line, st.Name, "input %s: want a %s, but step %q (%s) outputs a %s", name, in.Kind, ref.Step, up.Type, ut.Output)
			}
		}
		for _, a := range st.After {
			if _, ok := byName[a]; !ok || a == st.Name {
				bad(st.Line, st.Name, "after: no other step named %q", a)
			}
		}
	}
	if len(ps) == 0 {
		order, cycle := topo(s.Steps, byName)
		if cycle != nil {
			bad(byName[cycle[0]].Line, cycle[0], "cycle (each step waits for the next): %s", strings.Join(append(cycle, cycle[0]), " → "))
		} else {
			s.order = order
			s.checkPrivacy(levelOf, bad)
			s.checkTriggers(bad)
		}
	}
	return ps.Err()
}

func inputNames(t *StepType) string {
	if len(t.Inputs) == 0 {
		return "none"
	}
	var out []string
	for _, in := range t.Inputs {
		out = append(out, in.Name)
	}
	return strings.Join(out, ", ")
}

// deps are a step's upstream steps: its inputs and after.
func (st *Step) deps() []string {
	var out []string
	for _, name := range sortedKeys(st.Inputs) {
		out = append(out, st.Inputs[name].Step)
	}
	out = append(out, st.After...)
	sort.Strings(out)
	return out
}

// topo orders steps so each comes after its dependencies (file order
// among independent ones), or returns a cycle.
func topo(steps []*Step, byName map[string]*Step) ([]*Step, []string) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var order []*Step
	var stack []string
	var cycle []string
	var visit func(st *Step) bool
	visit = func(st *Step) bool {
		color[st.Name] = grey
		stack = append(stack, st.Name)
		for _, d := range st.deps() {
			switch color[d] {
			case grey:
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				cycle = append([]string(nil), stack[i:]...)
				return false
			case white:
				if !visit(byName[d]) {
					return false
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[st.Name] = black
		order = append(order, st)
		return true
	}
	for _, st := range steps {
		if color[st.Name] == white && !visit(st) {
			return nil, cycle
		}
	}
	return order, nil
}

// Order returns the steps in a topological order (after Validate).
func (s *Spec) Order() []*Step { return s.order }

// Step returns the named step.
func (s *Spec) Step(name string) *Step {
	for _, st := range s.Steps {
		if st.Name == name {
			return st
		}
	}
	return nil
}

// checkPrivacy follows the datasets' privacy levels along the graph and
// refuses a training step fed, through any path, by identifying data that
// went through neither pseudonymise, deid nor anonymise.
func (s *Spec) checkPrivacy(levelOf LevelOf, bad func(int, string, string, ...any)) {
	level := map[string]dataset.Level{}
	origin := map[string]string{} // the import step the identifying data came from
	for _, st := range s.order {
		t := Types[st.Type]
		var in dataset.Level
		src := ""
		if ref, ok := st.Inputs["dataset"]; ok {
			in, src = level[ref.Step], origin[ref.Step]
		}
		if st.Type == TypeImport {
			c := st.Config.(*ImportConfig)
			if c.Existing != "" && levelOf != nil {
				if l, cols, ok := levelOf(c.Existing); ok {
					level[st.Name], origin[st.Name] = l, st.Name
					if ids := directIDs(cols); l != dataset.Identifying && len(ids) > 0 {
						bad(st.withLine, st.Name, "dataset %s is %s but has direct identifiers (%s)", c.Existing, l, strings.Join(ids, ", "))
					}
					continue
				}
			}
			if l := c.level(); l != "" && l != dataset.Identifying {
				var ids []string
				for col, r := range c.Roles {
					if r == string(dataset.RoleDirectIdentifier) {
						ids = append(ids, col)
					}
				}
				if len(ids) > 0 {
					sort.Strings(ids)
					bad(st.withLine, st.Name, "import at level %s with direct identifiers (%s): import identifying data at the identifying level, then pseudonymise it", l, strings.Join(ids, ", "))
				}
			}
		}
		if t.Level != nil {
			level[st.Name] = t.Level(st.Config, in)
			origin[st.Name] = src
			if st.Type == TypeImport || st.Type == TypeAnnotate {
				origin[st.Name] = st.Name
			}
		}
		if t.NeedsSafeData && in == dataset.Identifying {
			ref := st.Inputs["dataset"]
			bad(ref.Line, st.Name, "would give a scientist identifying data: its dataset (from step %q, imported by %q) is at the identifying level; pass it through pseudonymise, deid or anonymise first", ref.Step, src)
		}
	}
}

func directIDs(cols []dataset.Column) []string {
	var out []string
	for _, c := range cols {
		if c.Role == dataset.RoleDirectIdentifier {
			out = append(out, c.Name)
		}
	}
	return out
}
