package recipe

import (
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/errs"
)

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// decode reads a step's fields into a new T. A step written as a scalar or
// a list instead of a mapping ("drop: [a, b]", "filter: age > 18") fills
// the field named short; without one, a mapping is required.
func decode[T any](n *yaml.Node, short string) (*T, error) {
	cfg := new(T)
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		if short == "" {
			return nil, errs.Invalidf("want a mapping of fields (%s)", strings.Join(fieldNames(reflect.TypeFor[T]()), ", "))
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return cfg, nil
		}
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: short}, n,
		}}
	}
	if err := decodeNode(n, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeNode decodes a mapping into the struct cfg points to, refusing
// unknown and repeated fields (yaml.Node.Decode ignores KnownFields).
func decodeNode(n *yaml.Node, cfg any) error {
	if err := checkFields(n, reflect.TypeOf(cfg).Elem(), ""); err != nil {
		return err
	}
	if err := n.Decode(cfg); err != nil {
		return errs.Invalidf("%s", yamlMessage(err))
	}
	return nil
}

var nodeType = reflect.TypeFor[yaml.Node]()

func checkFields(n *yaml.Node, t reflect.Type, prefix string) error {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	seen := map[string]bool{}
	for k := 0; k+1 < len(n.Content); k += 2 {
		key := deref(n.Content[k]).Value
		ft, ok := fields[key]
		if !ok {
			return errs.Invalidf("unknown field %q (fields: %s)", prefix+key, strings.Join(fieldNames(t), ", "))
		}
		if seen[key] {
			return errs.Invalidf("field %q given twice", prefix+key)
		}
		seen[key] = true
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if v := deref(n.Content[k+1]); ft.Kind() == reflect.Struct && ft != nodeType && v.Kind == yaml.MappingNode {
			if err := checkFields(v, ft, prefix+key+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// yamlMessage shortens a YAML error to one line.
func yamlMessage(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = strings.TrimPrefix(s, "unmarshal errors:\n")
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool { return l == "" }), "; ")
}

// pairs reads a mapping of scalars in order, refusing repeated keys.
func pairs(n *yaml.Node, what string) ([][2]string, []bool, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		return nil, nil, errs.Invalidf("%s: want a non-empty mapping", what)
	}
	var out [][2]string
	var null []bool
	seen := map[string]bool{}
	for k := 0; k+1 < len(n.Content); k += 2 {
		key, val := deref(n.Content[k]), deref(n.Content[k+1])
		if key.Kind != yaml.ScalarNode || val.Kind != yaml.ScalarNode {
			return nil, nil, errs.Invalidf("%s: want plain values, line %d", what, key.Line)
		}
		if seen[key.Value] {
			return nil, nil, errs.Invalidf("%s: key %q given twice", what, key.Value)
		}
		seen[key.Value] = true
		out = append(out, [2]string{key.Value, val.Value})
		null = append(null, val.Tag == "!!null")
	}
	return out, null, nil
}
