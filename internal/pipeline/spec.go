// Package pipeline runs hygie's lifecycle declared as code: a hygie.yaml
// names steps (import, pseudonymise, risk, anonymise, recipe, train,
// evaluate, privacy audit, register, promote…) with typed inputs taken from
// other steps' outputs. The file is validated before anything runs (unknown
// steps or keys, missing or ill-typed inputs, cycles, and any path that
// would hand identifying data to a scientist), each step is cached by the
// SHA-256 of its type, version, resolved configuration and inputs' content,
// and only stale steps run, through the job system for the heavy ones.
package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/errs"
)

// DefaultFile is the pipeline file's conventional name.
const DefaultFile = "hygie.yaml"

// Spec is a parsed pipeline file.
type Spec struct {
	File     string            `json:"file"`
	Name     string            `json:"pipeline"`
	Params   map[string]string `json:"params,omitempty"` // defaults, as written
	Triggers []Trigger         `json:"triggers,omitempty"`
	Steps    []*Step           `json:"steps"`
	Digest   string            `json:"digest"` // SHA-256 of the file
	Source   []byte            `json:"-"`

	paramNodes map[string]*yaml.Node
	order      []*Step
}

// Step is one step of a pipeline.
type Step struct {
	Name    string         `json:"name"`
	Type    string         `json:"type"`
	Line    int            `json:"line"`
	Inputs  map[string]Ref `json:"inputs,omitempty"`
	After   []string       `json:"after,omitempty"`
	Retries int            `json:"retries"`
	// Config is the step's typed configuration (a pointer to its type's
	// config struct) once Resolve has substituted the parameters.
	Config any `json:"config,omitempty"`

	with     *yaml.Node
	withLine int
}

// Ref is an input: the output of another step.
type Ref struct {
	Step   string `json:"step"`
	Output string `json:"output,omitempty"` // "" → the step's output
	Line   int    `json:"-"`
}

// Trigger is a condition that starts a run (see trigger.go).
type Trigger struct {
	Schedule string `yaml:"schedule" json:"schedule,omitempty"` // cron expression
	Dataset  string `yaml:"dataset" json:"dataset,omitempty"`   // a new version of this dataset
	SQL      string `yaml:"sql" json:"sql,omitempty"`           // the named import step's SQL result changed
	Drift    string `yaml:"drift" json:"drift,omitempty"`       // a drift alert on this model
	Feedback *struct {
		Model string `yaml:"model" json:"model"`
		Count int    `yaml:"count" json:"count"`
	} `yaml:"feedback" json:"feedback,omitempty"` // N new feedback items on a model
	Line int `yaml:"-" json:"line"`
}

// Key names a trigger for its recorded state.
func (t Trigger) Key() string {
	switch {
	case t.Schedule != "":
		return "schedule:" + t.Schedule
	case t.Dataset != "":
		return "dataset:" + t.Dataset
	case t.SQL != "":
		return "sql:" + t.SQL
	case t.Drift != "":
		return "drift:" + t.Drift
	case t.Feedback != nil:
		return fmt.Sprintf("feedback:%s:%d", t.Feedback.Model, t.Feedback.Count)
	}
	return ""
}

// Problem is one validation error, located in the file.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Step string `json:"step,omitempty"`
	Msg  string `json:"message"`
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Step != "" {
		return fmt.Sprintf("%s: step %q: %s", loc, p.Step, p.Msg)
	}
	return loc + ": " + p.Msg
}

// Problems is a list of validation errors; as an error its code is
// invalid and its message lists them all.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns nil without problems, else a *ProblemsError (an
// errs.Invalid listing them).
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return &ProblemsError{Problems: ps}
}

// ProblemsError is a validation failure; it unwraps to errs.Invalid.
type ProblemsError struct{ Problems Problems }

func (e *ProblemsError) Error() string { return e.Problems.Error() }
func (e *ProblemsError) Unwrap() error { return errs.Invalidf("%s", e.Problems.Error()) }

var (
	nameRE  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	paramRE = regexp.MustCompile(`\$\{params\.([A-Za-z0-9_-]+)\}`)
	stepRE  = regexp.MustCompile(`^\$\{steps\.([a-z][a-z0-9_-]*)(?:\.([a-z]+))?\}$`)
)

// MaxFileBytes bounds a pipeline file.
const MaxFileBytes = 1 << 20

// Parse reads a pipeline file's structure: names, types, inputs, params,
// triggers, unknown keys. It does not check the step types' configuration
// or the graph (Validate does). file names the file in errors.
func Parse(file string, data []byte) (s *Spec, err error) {
	defer func() {
		if p := recover(); p != nil { // outside input: never let it take the server down
			s, err = nil, Problems{{File: file, Msg: "malformed YAML"}}.Err()
		}
	}()
	if len(data) > MaxFileBytes {
		return nil, Problems{{File: file, Msg: fmt.Sprintf("file larger than %d bytes", MaxFileBytes)}}.Err()
	}
	sum := sha256.Sum256(data)
	s = &Spec{File: file, Source: data, Digest: hex.EncodeToString(sum[:]), Params: map[string]string{}, paramNodes: map[string]*yaml.Node{}}
	var ps Problems
	bad := func(line int, step, format string, args ...any) {
		ps = append(ps, Problem{File: file, Line: line, Step: step, Msg: fmt.Sprintf(format, args...)})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{File: file, Msg: "empty file: want pipeline, params and steps"}}.Err()
		}
		line, msg := yamlError(err)
		return nil, Problems{{File: file, Line: line, Msg: msg}}.Err()
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, Problems{{File: file, Msg: "want a single YAML document"}}.Err()
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, Problems{{File: file, Line: root.Line, Msg: "want a mapping with pipeline, params, triggers and steps"}}.Err()
	}
	var stepsNode *yaml.Node
	for k := 0; k+1 < len(root.Content); k += 2 {
		key, v := root.Content[k], root.Content[k+1]
		switch key.Value {
		case "pipeline":
			if v.Kind != yaml.ScalarNode || !nameRE.MatchString(v.Value) {
				bad(v.Line, "", "pipeline: want a name of lower-case letters, digits, '_' or '-'")
			}
			s.Name = v.Value
		case "params":
			if v.Kind != yaml.MappingNode {
				bad(v.Line, "", "params: want a mapping of names to default values")
				continue
			}
			for i := 0; i+1 < len(v.Content); i += 2 {
				pk, pv := v.Content[i], v.Content[i+1]
				if pv.Kind != yaml.ScalarNode {
					bad(pv.Line, "", "param %q: want a scalar default value", pk.Value)
					continue
				}
				s.Params[pk.Value], s.paramNodes[pk.Value] = pv.Value, pv
			}
		case "triggers":
			if v.Kind != yaml.SequenceNode {
				bad(v.Line, "", "triggers: want a list")
				continue
			}
			for _, tn := range v.Content {
				var t Trigger
				if msg := unknownKeys(tn, reflect.TypeOf(t)); msg != "" {
					bad(tn.Line, "", "trigger: %s", msg)
					continue
				}
				if err := tn.Decode(&t); err != nil {
					line, msg := yamlError(err)
					bad(line, "", "trigger: %s", msg)
					continue
				}
				t.Line = tn.Line
				s.Triggers = append(s.Triggers, t)
			}
		case "steps":
			stepsNode = v
		default:
			bad(key.Line, "", "unknown key %q: want pipeline, params, triggers or steps", key.Value)
		}
	}
	if s.Name == "" && !hasKey(root, "pipeline") {
		bad(root.Line, "", "pipeline: a name is required")
	}
	if stepsNode == nil || stepsNode.Kind != yaml.SequenceNode || len(stepsNode.Content) == 0 {
		line := root.Line
		if stepsNode != nil {
			line = stepsNode.Line
		}
		bad(line, "", "steps: want a non-empty list of steps")
	} else {
		for _, sn := range stepsNode.Content {
			if st := parseStep(sn, bad); st != nil {
				s.Steps = append(s.Steps, st)
			}
		}
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

func hasKey(m *yaml.Node, key string) bool {
	for k := 0; k+1 < len(m.Content); k += 2 {
		if m.Content[k].Value == key {
			return true
		}
	}
	return false
}

func parseStep(n *yaml.Node, bad func(int, string, string, ...any)) *Step {
	if n.Kind != yaml.MappingNode {
		bad(n.Line, "", "a step must be a mapping with name, type, inputs and with")
		return nil
	}
	st := &Step{Line: n.Line, Inputs: map[string]Ref{}}
	if v := lookup(n, "name"); v != nil {
		st.Name = v.Value
	}
	for k := 0; k+1 < len(n.Content); k += 2 {
		key, v := n.Content[k], n.Content[k+1]
		switch key.Value {
		case "name":
			if v.Kind != yaml.ScalarNode || !nameRE.MatchString(v.Value) {
				bad(v.Line, st.Name, "name: want lower-case letters, digits, '_' or '-', starting with a letter")
			}
		case "type":
			st.Type = v.Value
		case "inputs":
			if v.Kind != yaml.MappingNode {
				bad(v.Line, st.Name, "inputs: want a mapping of input names to steps (dataset: STEP or ${steps.STEP.dataset})")
				continue
			}
			for i := 0; i+1 < len(v.Content); i += 2 {
				in, rv := v.Content[i], v.Content[i+1]
				ref, ok := parseRef(rv.Value)
				if rv.Kind != yaml.ScalarNode || !ok {
					bad(rv.Line, st.Name, "input %s: want a step name or ${steps.STEP.OUTPUT}, got %q", in.Value, rv.Value)
					continue
				}
				ref.Line = rv.Line
				st.Inputs[in.Value] = ref
			}
		case "after":
			if err := v.Decode(&st.After); err != nil {
				bad(v.Line, st.Name, "after: want a list of step names")
			}
		case "retries":
			if err := v.Decode(&st.Retries); err != nil || st.Retries < 0 || st.Retries > MaxRetries {
				bad(v.Line, st.Name, "retries: want an integer from 0 to %d", MaxRetries)
			}
		case "with":
			st.with, st.withLine = v, v.Line
		default:
			bad(key.Line, st.Name, "unknown key %q: want name, type, inputs, after, retries or with", key.Value)
		}
	}
	if st.Name == "" {
		bad(n.Line, "", "a step needs a name")
	}
	if st.Type == "" {
		bad(n.Line, st.Name, "a step needs a type (one of %s)", strings.Join(TypeNames(), ", "))
	}
	if st.withLine == 0 {
		st.withLine = n.Line
	}
	return st
}

// MaxRetries bounds a step's retries.
const MaxRetries = 5

func parseRef(s string) (Ref, bool) {
	if m := stepRE.FindStringSubmatch(s); m != nil {
		return Ref{Step: m[1], Output: m[2]}, true
	}
	name, out, _ := strings.Cut(s, ".")
	if !nameRE.MatchString(name) || (out != "" && !nameRE.MatchString(out)) {
		return Ref{}, false
	}
	return Ref{Step: name, Output: out}, true
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	for k := 0; k+1 < len(m.Content); k += 2 {
		if m.Content[k].Value == key {
			return m.Content[k+1]
		}
	}
	return nil
}

// unknownKeys reports the keys of mapping n that are not yaml tags of
// struct type t ("" when all are known or n is not a mapping).
func unknownKeys(n *yaml.Node, t reflect.Type) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	known := map[string]bool{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			known[tag] = true
			names = append(names, tag)
		}
	}
	for k := 0; k < len(n.Content); k += 2 {
		if key := n.Content[k].Value; !known[key] {
			return fmt.Sprintf("line %d: unknown key %q (known: %s)", n.Content[k].Line, key, strings.Join(names, ", "))
		}
	}
	return ""
}

var lineRE = regexp.MustCompile(`line (\d+): `)

// yamlError splits a yaml.v3 error into its line and message.
func yamlError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	line := 0
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &line)
		msg = strings.Replace(msg, m[0], "", 1)
	}
	return line, msg
}

// substitute returns a copy of n with ${params.NAME} replaced by values.
// A scalar that is exactly one reference takes the value's YAML type.
func substitute(n *yaml.Node, values map[string]string, missing func(line int, name string)) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${params.") {
		whole := paramRE.FindStringSubmatch(n.Value)
		c.Value = paramRE.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := paramRE.FindStringSubmatch(ref)[1]
			v, ok := values[name]
			if !ok {
				missing(n.Line, name)
			}
			return v
		})
		if whole != nil && whole[0] == n.Value {
			c.Tag, c.Style = "", 0 // resolve the value's own type
		} else {
			c.Tag = "!!str"
		}
		return &c
	}
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, k := range n.Content {
			c.Content[i] = substitute(k, values, missing)
		}
	}
	return &c
}

// Values merges the file's parameter defaults with overrides (k=v); an
// override of an undeclared parameter is an error.
func (s *Spec) Values(overrides map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(s.Params))
	for k, v := range s.Params {
		out[k] = v
	}
	var unknown []string
	for k, v := range overrides {
		if _, ok := s.Params[k]; !ok {
			unknown = append(unknown, k)
		}
		out[k] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, errs.Invalidf("%s: --param %s: not declared under params (declared: %s)", s.File, strings.Join(unknown, ", "), strings.Join(sortedKeys(s.Params), ", "))
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseParams reads k=v overrides.
func ParseParams(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, errs.Invalidf("--param %q: want NAME=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}
