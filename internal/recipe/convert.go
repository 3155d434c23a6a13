package recipe

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// Dimensions of units.
const (
	dimLength = "length"
	dimMass   = "mass"
	dimMassC  = "mass concentration"
	dimMolarC = "molar concentration"
)

// units maps a unit, lower case, with "u" for µ, to its dimension and its
// factor to the dimension's base unit (m, kg, g/L, mmol/L).
var units = map[string]struct {
	dim    string
	factor float64
}{
	"m": {dimLength, 1}, "cm": {dimLength, 0.01}, "mm": {dimLength, 0.001}, "in": {dimLength, 0.0254},
	"kg": {dimMass, 1}, "g": {dimMass, 0.001}, "lb": {dimMass, 0.45359237},
	"g/l": {dimMassC, 1}, "g/dl": {dimMassC, 10}, "mg/dl": {dimMassC, 0.01}, "mg/l": {dimMassC, 0.001},
	"mol/l": {dimMolarC, 1000}, "mmol/l": {dimMolarC, 1}, "umol/l": {dimMolarC, 0.001},
}

// analytes maps a lab analyte to its mmol/L per mg/dL, the conventional
// clinical factors (so mmol/L = mg/dL × factor).
var analytes = map[string]float64{
	"glucose":       1 / 18.016, // mg/dL ÷ 18.016
	"creatinine":    88.42 / 1000,
	"cholesterol":   1 / 38.67,
	"triglycerides": 1 / 88.57,
	"urea":          1 / 6.006, // urea itself (60.06 g/mol)
	"urea_nitrogen": 1 / 2.801, // BUN: urea nitrogen mg/dL → urea mmol/L
}

func unitKey(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	return strings.NewReplacer("µ", "u", "μ", "u").Replace(u)
}

func unitNames() string {
	return "m, cm, mm, in, kg, g, lb, g/L, g/dL, mg/dL, mg/L, mol/L, mmol/L, µmol/L"
}

func analyteNames() string {
	var n []string
	for a := range analytes {
		n = append(n, a)
	}
	slices.Sort(n)
	return strings.Join(n, ", ")
}

// convert: change a numeric column's unit; the result is a float column.
type convertStep struct {
	Column  string `yaml:"column"`
	From    string `yaml:"from"`
	To      string `yaml:"to"`
	Analyte string `yaml:"analyte"` // for mg/dL ↔ mmol/L and the like
	As      string `yaml:"as"`      // new name of the column
	Digits  *int   `yaml:"digits"`  // decimals to round to
	Keep    bool   `yaml:"keep"`    // keep the source column too
	factor  float64
}

func parseConvert(n *yaml.Node) (op, error) {
	s, err := decode[convertStep](n, "")
	if err != nil {
		return nil, err
	}
	if s.Column == "" {
		return nil, errs.Invalidf("column is required")
	}
	if s.From == "" || s.To == "" {
		return nil, errs.Invalidf("from and to are required")
	}
	f, ok1 := units[unitKey(s.From)]
	t, ok2 := units[unitKey(s.To)]
	switch {
	case !ok1:
		return nil, errs.Invalidf("unknown unit %q (units: %s)", s.From, unitNames())
	case !ok2:
		return nil, errs.Invalidf("unknown unit %q (units: %s)", s.To, unitNames())
	}
	s.factor = f.factor / t.factor
	conc := func(d string) bool { return d == dimMassC || d == dimMolarC }
	var k float64
	if s.Analyte != "" {
		if !conc(f.dim) || !conc(t.dim) {
			return nil, errs.Invalidf("analyte applies to concentrations (g/L, mg/dL, mmol/L, ...)")
		}
		if k, ok1 = analytes[strings.ToLower(s.Analyte)]; !ok1 {
			return nil, errs.Invalidf("unknown analyte %q (analytes: %s)", s.Analyte, analyteNames())
		}
	}
	switch {
	case f.dim == t.dim:
	case conc(f.dim) && conc(t.dim) && k == 0:
		return nil, errs.Invalidf("converting %s to %s needs an analyte (%s)", s.From, s.To, analyteNames())
	case f.dim == dimMassC && t.dim == dimMolarC:
		s.factor = f.factor / 0.01 * k / t.factor // → mg/dL → mmol/L → to
	case f.dim == dimMolarC && t.dim == dimMassC:
		s.factor = f.factor / k * 0.01 / t.factor // → mmol/L → mg/dL → to
	default:
		return nil, errs.Invalidf("cannot convert %s (%s) to %s (%s)", s.From, f.dim, s.To, t.dim)
	}
	if s.Digits != nil && (*s.Digits < 0 || *s.Digits > 15) {
		return nil, errs.Invalidf("digits: want 0 to 15")
	}
	if s.Keep && (s.As == "" || s.As == s.Column) {
		return nil, errs.Invalidf("keep needs as, a new name for the converted column")
	}
	return s, nil
}

func (s *convertStep) apply(w *work) error {
	j, err := w.col(s.Column)
	if err != nil {
		return err
	}
	src := w.vecs[j]
	if !numeric(src.Type) {
		return errs.Invalidf("column %q is %s, not a number (cast it first)", s.Column, src.Type)
	}
	out := dataset.NewVec(dataset.TypeFloat, src.Len())
	for i := range src.Len() {
		x, ok := src.Float(i)
		if !ok {
			out.AppendNull()
			continue
		}
		x *= s.factor
		if math.IsInf(x, 0) {
			return errs.Invalidf("row %d, column %q: the converted value is too large", w.pos(i), s.Column)
		}
		if s.Digits != nil {
			x = round(x, *s.Digits)
		}
		out.AppendFloat(x)
	}
	c := w.cols[j]
	c.Type = dataset.TypeFloat
	if s.As != "" {
		c.Name = s.As
	}
	return w.put(j, c, out, s.Keep)
}

// round rounds x to d decimals, correctly: through its decimal form.
func round(x float64, d int) float64 {
	y, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', d, 64), 64)
	return y
}

func (s *convertStep) describe() string {
	d := fmt.Sprintf("convert %s from %s to %s", s.Column, s.From, s.To)
	if s.Analyte != "" {
		d += " (" + s.Analyte + ")"
	}
	if s.As != "" {
		d += " as " + s.As
	}
	if s.Digits != nil {
		d += fmt.Sprintf(", %d digits", *s.Digits)
	}
	if s.Keep {
		d += ", keeping " + s.Column
	}
	return d
}
