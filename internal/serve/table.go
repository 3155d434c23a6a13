package serve

import (
	"fmt"
	"math"
	"strings"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/model"
)

// table turns request tensors into the input table of a hygie model: one
// tensor per input, named after it, of shape [N] or [N,1]; numeric inputs
// need a numeric datatype, categorical inputs take BYTES (strings) or
// numbers (read as their text).
func table(ins []model.Input, inputs []Tensor) (*model.Table, error) {
	if len(inputs) == 0 {
		return nil, errs.Invalidf("inputs: at least one tensor is required")
	}
	byName := map[string]model.Input{}
	names := make([]string, len(ins))
	for i, in := range ins {
		byName[in.Name] = in
		names[i] = in.Name
	}
	t := &model.Table{}
	seen := map[string]bool{}
	for _, tn := range inputs {
		in, ok := byName[tn.Name]
		if !ok {
			return nil, errs.Invalidf("input %q is not an input of this model (inputs: %s)", tn.Name, strings.Join(names, ", "))
		}
		if seen[tn.Name] {
			return nil, errs.Invalidf("input %q given twice", tn.Name)
		}
		seen[tn.Name] = true
		if len(tn.Shape) == 0 || len(tn.Shape) > 2 || (len(tn.Shape) == 2 && tn.Shape[1] != 1) || tn.Shape[0] < 0 {
			return nil, errs.Invalidf("input %q: shape %v; want [N] or [N,1]", tn.Name, tn.Shape)
		}
		if tn.Shape[0] > MaxBatch {
			return nil, errs.Invalidf("input %q: at most %d rows per request", tn.Name, MaxBatch)
		}
		col := model.Column{Name: tn.Name}
		switch {
		case numericTypes[tn.Datatype]:
			data, err := flatten(tn.Data)
			if err != nil {
				return nil, errs.Invalidf("input %q: %v", tn.Name, err)
			}
			if in.Type == model.Numeric {
				col.Num = data
			} else {
				col.Text = make([]string, len(data))
				for i, v := range data {
					col.Text[i] = fmt.Sprint(v)
				}
			}
		case tn.Datatype == "BYTES":
			if in.Type == model.Numeric {
				return nil, errs.Invalidf("input %q: datatype BYTES is not numeric (want FP32, FP64, INT32, …)", tn.Name)
			}
			data, err := flattenStrings(tn.Data)
			if err != nil {
				return nil, errs.Invalidf("input %q: %v", tn.Name, err)
			}
			col.Text = data
		default:
			return nil, errs.Invalidf("input %q: unknown datatype %q", tn.Name, tn.Datatype)
		}
		if int64(col.Len()) != tn.Shape[0] {
			return nil, errs.Invalidf("input %q: shape %v holds %d values, data has %d", tn.Name, tn.Shape, tn.Shape[0], col.Len())
		}
		t.Cols = append(t.Cols, col)
	}
	for _, in := range ins {
		if !seen[in.Name] {
			return nil, errs.Invalidf("input %q is missing (the model needs %s)", in.Name, strings.Join(names, ", "))
		}
	}
	if err := t.Check(); err != nil {
		return nil, errs.Invalidf("inputs: %s", errs.MessageOf(err))
	}
	return t, nil
}

// rowInputs is one row of t as logged: numbers and category values.
func rowInputs(t *model.Table, i int) map[string]any {
	out := make(map[string]any, len(t.Cols))
	for _, c := range t.Cols {
		if c.Num != nil {
			if math.IsNaN(c.Num[i]) {
				out[c.Name] = nil
			} else {
				out[c.Name] = c.Num[i]
			}
		} else {
			out[c.Name] = c.Text[i]
		}
	}
	return out
}
