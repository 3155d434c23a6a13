package serve

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/model"
)

// signature is what validating and encoding requests against a model
// needs, computed once per loaded model.
type signature struct {
	ins   []model.Input
	index map[string]int   // input name → position
	codes []map[string]int // categorical inputs: category → code
}

func newSignature(ins []model.Input) *signature {
	sg := &signature{ins: ins, index: make(map[string]int, len(ins)), codes: make([]map[string]int, len(ins))}
	for k, in := range ins {
		sg.index[in.Name] = k
		if in.Type != model.Numeric {
			sg.codes[k] = make(map[string]int, len(in.Categories))
			for c, v := range in.Categories {
				sg.codes[k][v] = c
			}
		}
	}
	return sg
}

func (sg *signature) names() string {
	names := make([]string, len(sg.ins))
	for i, in := range sg.ins {
		names[i] = in.Name
	}
	return strings.Join(names, ", ")
}

// table turns request tensors into the input table of a hygie model: one
// tensor per input, named after it, of shape [N] or [N,1]; numeric inputs
// need a numeric datatype, categorical inputs take BYTES (strings) or
// numbers (read as their text). Its columns are in the signature's order.
func table(ins []model.Input, inputs []Tensor) (*model.Table, error) {
	return newSignature(ins).table(inputs)
}

func (sg *signature) table(inputs []Tensor) (*model.Table, error) {
	if len(inputs) == 0 {
		return nil, errs.Invalidf("inputs: at least one tensor is required")
	}
	t := &model.Table{Cols: make([]model.Column, len(sg.ins))}
	var seenBuf [32]bool
	seen := seenBuf[:0]
	if len(sg.ins) <= len(seenBuf) {
		seen = seenBuf[:len(sg.ins)]
	} else {
		seen = make([]bool, len(sg.ins))
	}
	rows := int64(-1)
	// The columns share two arrays: one allocation for all numbers, one
	// for all strings (each column is a full slice of its part).
	var (
		nums    []float64
		texts   []string
		numCols int
	)
	for _, tn := range inputs {
		if numericTypes[tn.Datatype] {
			numCols++
		}
	}
	for _, tn := range inputs {
		k, ok := sg.index[tn.Name]
		if !ok {
			return nil, errs.Invalidf("input %q is not an input of this model (inputs: %s)", tn.Name, sg.names())
		}
		if seen[k] {
			return nil, errs.Invalidf("input %q given twice", tn.Name)
		}
		seen[k] = true
		in := sg.ins[k]
		if len(tn.Shape) == 0 || len(tn.Shape) > 2 || (len(tn.Shape) == 2 && tn.Shape[1] != 1) || tn.Shape[0] < 0 {
			return nil, errs.Invalidf("input %q: shape %v; want [N] or [N,1]", tn.Name, tn.Shape)
		}
		if tn.Shape[0] > MaxBatch {
			return nil, errs.Invalidf("input %q: at most %d rows per request", tn.Name, MaxBatch)
		}
		n := int(tn.Shape[0])
		col := model.Column{Name: in.Name}
		switch {
		case numericTypes[tn.Datatype]:
			if nums == nil {
				nums = make([]float64, 0, min(max(n, 1), MaxBatch)*numCols)
			}
			from := len(nums)
			more, err := appendNumbers(nums, tn.Data, tn.Datatype)
			if err != nil {
				return nil, errs.Invalidf("input %q: %v", tn.Name, err)
			}
			nums = more
			data := nums[from:len(nums):len(nums)]
			if in.Type == model.Numeric {
				col.Num = data
			} else {
				col.Text = make([]string, len(data))
				for i, v := range data {
					switch {
					case math.IsNaN(v):
						col.Text[i] = ""
					case tn.Datatype == "BOOL":
						col.Text[i] = strconv.FormatBool(v == 1)
					default:
						col.Text[i] = strconv.FormatFloat(v, 'g', -1, 64)
					}
				}
			}
		case tn.Datatype == "BYTES":
			if in.Type == model.Numeric {
				return nil, errs.Invalidf("input %q: datatype BYTES is not numeric (want FP32, FP64, INT32, …)", tn.Name)
			}
			if texts == nil {
				texts = make([]string, 0, min(max(n, 1), MaxBatch)*(len(inputs)-numCols))
			}
			from := len(texts)
			more, err := appendStrings(texts, tn.Data)
			if err != nil {
				return nil, errs.Invalidf("input %q: %v", tn.Name, err)
			}
			texts = more
			data := texts[from:len(texts):len(texts)]
			col.Text = data
		default:
			return nil, errs.Invalidf("input %q: unknown datatype %q (want BOOL, UINT8…64, INT8…64, FP16, FP32, FP64 or BYTES)", tn.Name, tn.Datatype)
		}
		if col.Len() != n {
			return nil, errs.Invalidf("input %q: shape %v holds %d values, data has %d", tn.Name, tn.Shape, n, col.Len())
		}
		if rows >= 0 && int64(n) != rows {
			return nil, errs.Invalidf("inputs: input %q has %d rows, others have %d", tn.Name, n, rows)
		}
		rows = int64(n)
		t.Cols[k] = col
	}
	for k, in := range sg.ins {
		if !seen[k] {
			return nil, errs.Invalidf("input %q is missing (the model needs %s)", in.Name, sg.names())
		}
	}
	return t, nil
}

// encode is model.Encode with the category codes computed once: one row
// per table row, one value per input (the number, the category's code, or
// NaN when missing or unknown).
func (sg *signature) encode(t *model.Table) [][]float64 {
	n, w := t.Rows(), len(sg.ins)
	X := make([][]float64, n)
	flat := make([]float64, n*w)
	for i := range X {
		X[i] = flat[i*w : (i+1)*w : (i+1)*w]
	}
	for k := range sg.ins {
		c := &t.Cols[k]
		if sg.codes[k] == nil {
			for i, v := range c.Num {
				X[i][k] = v
			}
			continue
		}
		for i, s := range c.Text {
			X[i][k] = math.NaN()
			if model.IsMissing(s) {
				continue
			}
			if code, ok := sg.codes[k][strings.TrimSpace(s)]; ok {
				X[i][k] = float64(code)
			}
		}
	}
	return X
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

// appendRowJSON appends row i of t as a JSON object: the model's inputs
// only (the table holds nothing else), a missing number as null.
func appendRowJSON(b []byte, t *model.Table, i int) []byte {
	b = append(b, '{')
	for k, c := range t.Cols {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c.Name)
		b = append(b, ':')
		if c.Num != nil {
			b = appendJSONNumber(b, c.Num[i])
		} else {
			b = appendJSONString(b, c.Text[i])
		}
	}
	return append(b, '}')
}

func appendJSONNumber(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
