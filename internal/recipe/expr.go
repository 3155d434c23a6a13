package recipe

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// Expressions use github.com/expr-lang/expr. Variables are the columns:
// integer → int, float → float64, boolean → bool, string and text →
// string, date and datetime → time.Time (UTC; a date at midnight). A
// column whose name is not an identifier reads as $env["name"].

// options are those of every compilation: no now() (a recipe gives the
// same result every time it runs), date() in UTC.
func options(env map[string]any, asBool bool) []expr.Option {
	o := []expr.Option{expr.DisableBuiltin("now"), expr.Timezone("UTC")}
	if env != nil {
		o = append(o, expr.Env(env))
	}
	if asBool {
		o = append(o, expr.AsBool())
	}
	return o
}

// compileCheck compiles src without columns, to reject at Parse what no
// frame can make valid: syntax errors, mistyped constants.
func compileCheck(src string, asBool bool) error {
	if strings.TrimSpace(src) == "" {
		return errs.Invalidf("expr is required")
	}
	if _, err := expr.Compile(src, options(nil, asBool)...); err != nil {
		return errs.Invalidf("expression: %s", exprMessage(err))
	}
	return nil
}

// exprMessage keeps the first line of a compile error (the rest draws the
// expression with a caret).
func exprMessage(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
)

// compiled is an expression compiled against the working frame's columns.
type compiled struct {
	prog *vm.Program
	refs []int // columns it reads
	env  map[string]any
}

func compileFor(w *work, src string, asBool bool) (*compiled, error) {
	env := make(map[string]any, len(w.cols))
	for _, c := range w.cols {
		env[c.Name] = zero(c.Type)
	}
	prog, err := expr.Compile(src, options(env, asBool)...)
	if err != nil {
		return nil, errs.Invalidf("expression: %s", exprMessage(err))
	}
	// The columns it reads: identifiers and $env["name"]; any other use
	// of $env may read any column.
	v := &refVisitor{names: map[string]bool{}, static: map[ast.Node]bool{}}
	node := prog.Node()
	ast.Walk(&node, v)
	c := &compiled{prog: prog, env: env}
	for j, col := range w.cols {
		if v.names[col.Name] || v.dynamic() {
			c.refs = append(c.refs, j)
		}
	}
	return c, nil
}

type refVisitor struct {
	names  map[string]bool
	static map[ast.Node]bool // $env identifiers under a constant member access
	envs   []ast.Node
}

func (v *refVisitor) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		if x.Value == "$env" {
			v.envs = append(v.envs, x)
		} else {
			v.names[x.Value] = true
		}
	case *ast.MemberNode:
		if id, ok := x.Node.(*ast.IdentifierNode); ok && id.Value == "$env" {
			if p, ok := x.Property.(*ast.StringNode); ok {
				v.names[p.Value] = true
				v.static[id] = true
			}
		}
	}
}

func (v *refVisitor) dynamic() bool {
	for _, n := range v.envs {
		if !v.static[n] {
			return true
		}
	}
	return false
}

func zero(t dataset.Type) any {
	switch t {
	case dataset.TypeInteger:
		return 0
	case dataset.TypeFloat:
		return 0.0
	case dataset.TypeBoolean:
		return false
	case dataset.TypeDate, dataset.TypeDatetime:
		return time.Time{}
	}
	return ""
}

// goValue is value i of v as the expression sees it.
func goValue(v *dataset.Vec, i int) any {
	switch v.Type {
	case dataset.TypeInteger:
		return int(v.I[i])
	case dataset.TypeFloat:
		return v.F[i]
	case dataset.TypeBoolean:
		return v.I[i] != 0
	case dataset.TypeDate:
		return dataset.DateFromDays(v.I[i])
	case dataset.TypeDatetime:
		return time.UnixMicro(v.I[i]).UTC()
	}
	return v.S[i]
}

// load sets the variables of row i; it reports whether one is missing, and
// with pass sets missing ones to nil, else stops at the first.
func (c *compiled) load(w *work, i int, pass bool) (anyMissing bool) {
	for _, j := range c.refs {
		v := w.vecs[j]
		if missing(v, i) {
			anyMissing = true
			if !pass {
				return true
			}
			c.env[w.cols[j].Name] = nil
			continue
		}
		c.env[w.cols[j].Name] = goValue(v, i)
	}
	return anyMissing
}

// derive: a new column computed by an expression.
type deriveStep struct {
	Name    string `yaml:"name"`
	Expr    string `yaml:"expr"`
	Type    string `yaml:"type"`    // inferred from the expression when empty
	Role    string `yaml:"role"`    // default feature
	Missing string `yaml:"missing"` // propagate (default) or pass
	typ     dataset.Type
	role    dataset.Role
}

func parseDerive(n *yaml.Node) (op, error) {
	s, err := decode[deriveStep](n, "")
	if err != nil {
		return nil, err
	}
	if s.Name == "" {
		return nil, errs.Invalidf("name is required")
	}
	if err := compileCheck(s.Expr, false); err != nil {
		return nil, err
	}
	if s.Type != "" {
		if s.typ, err = parseType(s.Type); err != nil {
			return nil, err
		}
	}
	if s.role, err = parseRole(s.Role, dataset.RoleFeature); err != nil {
		return nil, err
	}
	if s.Missing != "" && s.Missing != "propagate" && s.Missing != "pass" {
		return nil, errs.Invalidf("missing: want propagate or pass")
	}
	return s, nil
}

func (s *deriveStep) apply(w *work) error {
	c, err := compileFor(w, s.Expr, false)
	if err != nil {
		return err
	}
	typ := s.typ
	if typ == "" {
		if typ, err = resultType(c.prog.Node().Type()); err != nil {
			return err
		}
	}
	pass := s.Missing == "pass"
	out := dataset.NewVec(typ, w.rows())
	var machine vm.VM
	for i := range w.rows() {
		if c.load(w, i, pass) && !pass {
			out.AppendNull()
			continue
		}
		res, err := machine.Run(c.prog, c.env)
		if err != nil {
			// The runtime error may quote a value: keep it out.
			return errs.Invalidf("row %d: the expression failed", w.pos(i))
		}
		if res == nil {
			out.AppendNull()
			continue
		}
		l, ok := fromGo(res, typ)
		if !ok {
			return errs.Invalidf("row %d: the result does not fit type %s (or is not finite)", w.pos(i), typ)
		}
		appendLit(out, l)
	}
	return w.add(dataset.Column{Name: s.Name, Type: typ, Role: s.role}, out)
}

// resultType maps an expression's static type to a column type.
func resultType(t reflect.Type) (dataset.Type, error) {
	switch {
	case t == durationType:
		return "", errs.Invalidf("the expression gives a duration: make it a number, e.g. (a - b).Hours() / 24")
	case t == timeType:
		return dataset.TypeDatetime, nil
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return dataset.TypeInteger, nil
	case reflect.Float32, reflect.Float64:
		return dataset.TypeFloat, nil
	case reflect.Bool:
		return dataset.TypeBoolean, nil
	case reflect.String:
		return dataset.TypeString, nil
	}
	return "", errs.Invalidf("cannot tell the type of the expression's result (%s): declare type", t)
}

// fromGo converts an expression's result to a value of type t.
func fromGo(x any, t dataset.Type) (lit, bool) {
	rv := reflect.ValueOf(x)
	switch t {
	case dataset.TypeInteger:
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if rv.Type() == durationType {
				return lit{}, false
			}
			return lit{i: rv.Int()}, true
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return lit{i: int64(rv.Uint())}, rv.Uint() <= math.MaxInt64
		case reflect.Float32, reflect.Float64:
			f := rv.Float()
			return lit{i: int64(f)}, f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63
		}
	case dataset.TypeFloat:
		var f float64
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if rv.Type() == durationType {
				return lit{}, false
			}
			f = float64(rv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f = float64(rv.Uint())
		case reflect.Float32, reflect.Float64:
			f = rv.Float()
		default:
			return lit{}, false
		}
		return lit{f: f}, !math.IsInf(f, 0) && !math.IsNaN(f)
	case dataset.TypeBoolean:
		if b, ok := x.(bool); ok {
			if b {
				return lit{i: 1}, true
			}
			return lit{i: 0}, true
		}
	case dataset.TypeDate:
		if tm, ok := x.(time.Time); ok {
			return lit{i: dataset.Days(tm.UTC())}, true
		}
	case dataset.TypeDatetime:
		if tm, ok := x.(time.Time); ok {
			return lit{i: tm.UnixMicro()}, true
		}
	case dataset.TypeString, dataset.TypeText:
		switch v := x.(type) {
		case string:
			return lit{s: v}, true
		case bool:
			return lit{s: strconv.FormatBool(v)}, true
		case time.Time:
			return lit{s: v.UTC().Format(time.RFC3339Nano)}, true
		case time.Duration:
			return lit{}, false
		}
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return lit{s: strconv.FormatInt(rv.Int(), 10)}, true
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return lit{s: strconv.FormatUint(rv.Uint(), 10)}, true
		case reflect.Float32, reflect.Float64:
			return lit{s: strconv.FormatFloat(rv.Float(), 'f', -1, 64)}, true
		}
	}
	return lit{}, false
}

func (s *deriveStep) describe() string {
	d := fmt.Sprintf("derive %s = %s", s.Name, oneLine(s.Expr))
	if s.Type != "" {
		d += " (" + s.Type + ")"
	}
	return d
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// filter: keep the rows where an expression is true.
type filterStep struct {
	Expr    string `yaml:"expr"`
	Missing string `yaml:"missing"` // drop (default), keep or pass
}

func parseFilter(n *yaml.Node) (op, error) {
	s, err := decode[filterStep](n, "expr")
	if err != nil {
		return nil, err
	}
	if err := compileCheck(s.Expr, true); err != nil {
		return nil, err
	}
	if s.Missing != "" && s.Missing != "drop" && s.Missing != "keep" && s.Missing != "pass" {
		return nil, errs.Invalidf("missing: want drop, keep or pass")
	}
	return s, nil
}

func (s *filterStep) apply(w *work) error {
	c, err := compileFor(w, s.Expr, true)
	if err != nil {
		return err
	}
	pass := s.Missing == "pass"
	var keep []int
	var machine vm.VM
	for i := range w.rows() {
		if c.load(w, i, pass) && !pass {
			if s.Missing == "keep" {
				keep = append(keep, i)
			}
			continue
		}
		res, err := machine.Run(c.prog, c.env)
		if err != nil {
			return errs.Invalidf("row %d: the expression failed", w.pos(i))
		}
		b, ok := res.(bool)
		if !ok {
			return errs.Invalidf("row %d: the expression did not give true or false", w.pos(i))
		}
		if b {
			keep = append(keep, i)
		}
	}
	w.keepRows(keep)
	return nil
}

func (s *filterStep) describe() string { return "filter " + oneLine(s.Expr) }
