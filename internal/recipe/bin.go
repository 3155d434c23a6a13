package recipe

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// bin: cut a numeric column into labelled intervals [e0, e1), [e1, e2), …,
// the last one closed.
type binStep struct {
	Column    string    `yaml:"column"`
	Edges     []float64 `yaml:"edges"`
	Quantiles int       `yaml:"quantiles"` // that many bins of equal counts
	Labels    []string  `yaml:"labels"`
	As        string    `yaml:"as"`
	Keep      bool      `yaml:"keep"`
}

func parseBin(n *yaml.Node) (op, error) {
	s, err := decode[binStep](n, "")
	if err != nil {
		return nil, err
	}
	if s.Column == "" {
		return nil, errs.Invalidf("column is required")
	}
	bins := 0
	switch {
	case s.Edges != nil && s.Quantiles != 0:
		return nil, errs.Invalidf("give edges or quantiles, not both")
	case s.Edges != nil:
		if len(s.Edges) < 2 {
			return nil, errs.Invalidf("edges: want at least 2")
		}
		for k, e := range s.Edges {
			if math.IsNaN(e) || (k > 0 && e <= s.Edges[k-1]) {
				return nil, errs.Invalidf("edges: want increasing numbers")
			}
		}
		bins = len(s.Edges) - 1
	case s.Quantiles != 0:
		if s.Quantiles < 2 || s.Quantiles > 100 {
			return nil, errs.Invalidf("quantiles: want 2 to 100")
		}
		bins = s.Quantiles
	default:
		return nil, errs.Invalidf("edges or quantiles is required")
	}
	if s.Labels != nil && len(s.Labels) != bins {
		return nil, errs.Invalidf("%d labels for %d bins", len(s.Labels), bins)
	}
	if s.Keep && (s.As == "" || s.As == s.Column) {
		return nil, errs.Invalidf("keep needs as, a new name for the binned column")
	}
	return s, nil
}

func (s *binStep) apply(w *work) error {
	j, err := w.col(s.Column)
	if err != nil {
		return err
	}
	src := w.vecs[j]
	if !numeric(src.Type) {
		return errs.Invalidf("column %q is %s, not a number (cast it first)", s.Column, src.Type)
	}
	edges, labels := s.Edges, s.Labels
	if s.Quantiles != 0 {
		var xs []float64
		for i := range src.Len() {
			if x, ok := src.Float(i); ok {
				xs = append(xs, x)
			}
		}
		if len(xs) == 0 {
			return errs.Invalidf("column %q has no values to take quantiles of", s.Column)
		}
		slices.Sort(xs)
		edges = make([]float64, s.Quantiles+1)
		for k := range edges {
			edges[k] = quantile(xs, float64(k)/float64(s.Quantiles))
		}
		if labels == nil {
			labels = make([]string, s.Quantiles)
			for k := range labels {
				labels[k] = "Q" + strconv.Itoa(k+1)
			}
		}
	}
	if labels == nil {
		labels = make([]string, len(edges)-1)
		for k := range labels {
			closing := ")"
			if k == len(labels)-1 {
				closing = "]"
			}
			labels[k] = "[" + edgeText(edges[k]) + ", " + edgeText(edges[k+1]) + closing
		}
	}
	last := edges[len(edges)-1]
	out := dataset.NewVec(dataset.TypeString, src.Len())
	for i := range src.Len() {
		x, ok := src.Float(i)
		switch {
		case !ok || x < edges[0] || x > last:
			out.AppendNull() // outside the edges: missing
		case x == last:
			out.AppendString(labels[len(labels)-1])
		default:
			k := sort.Search(len(edges), func(k int) bool { return edges[k] > x }) - 1
			out.AppendString(labels[k])
		}
	}
	c := w.cols[j]
	c.Type = dataset.TypeString
	if s.As != "" {
		c.Name = s.As
	}
	return w.put(j, c, out, s.Keep)
}

// quantile is the type-7 (linear) quantile p of sorted xs.
func quantile(xs []float64, p float64) float64 {
	h := float64(len(xs)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	return xs[lo] + (h-float64(lo))*(xs[lo+1]-xs[lo])
}

func edgeText(e float64) string {
	if math.IsInf(e, 0) {
		if e < 0 {
			return "-inf"
		}
		return "inf"
	}
	return strconv.FormatFloat(e, 'g', -1, 64)
}

func (s *binStep) describe() string {
	var d string
	if s.Quantiles != 0 {
		d = fmt.Sprintf("bin %s into %d quantile bins", s.Column, s.Quantiles)
	} else {
		d = fmt.Sprintf("bin %s into %d bins", s.Column, len(s.Edges)-1)
	}
	if s.As != "" {
		d += " as " + s.As
	}
	return d
}

// one_hot: replace a categorical column by one 0/1 column per category.
type oneHotStep struct {
	Column        string   `yaml:"column"`
	Categories    []string `yaml:"categories"`     // fixed categories; others get all zeros
	MaxCategories int      `yaml:"max_categories"` // guard, default 50
	Prefix        string   `yaml:"prefix"`         // default: the column's name
	Keep          bool     `yaml:"keep"`
}

const defaultMaxCategories = 50

func parseOneHot(n *yaml.Node) (op, error) {
	s, err := decode[oneHotStep](n, "")
	if err != nil {
		return nil, err
	}
	if s.Column == "" {
		return nil, errs.Invalidf("column is required")
	}
	if s.MaxCategories < 0 || s.MaxCategories > 1000 {
		return nil, errs.Invalidf("max_categories: want 1 to 1000")
	}
	if s.MaxCategories == 0 {
		s.MaxCategories = defaultMaxCategories
	}
	if s.Categories != nil {
		if len(s.Categories) == 0 || len(s.Categories) > s.MaxCategories {
			return nil, errs.Invalidf("categories: want 1 to max_categories (%d)", s.MaxCategories)
		}
		seen := map[string]bool{}
		for _, c := range s.Categories {
			if seen[c] {
				return nil, errs.Invalidf("categories: %q given twice", c)
			}
			seen[c] = true
		}
	}
	return s, nil
}

func (s *oneHotStep) apply(w *work) error {
	j, err := w.col(s.Column)
	if err != nil {
		return err
	}
	src, col := w.vecs[j], w.cols[j]
	// Indicator columns are named after values: never those of identifying
	// or free-text columns.
	if col.Role.Identifying() || col.Role == dataset.RoleText || src.Type == dataset.TypeText {
		return errs.Invalidf("column %q has role %s, type %s: one-hot encoding would write its values into column names", s.Column, col.Role, src.Type)
	}
	if src.Type != dataset.TypeString && src.Type != dataset.TypeInteger && src.Type != dataset.TypeBoolean {
		return errs.Invalidf("column %q is %s: one-hot encoding takes string, integer or boolean columns", s.Column, src.Type)
	}
	var cats []string
	if s.Categories != nil {
		for _, c := range s.Categories {
			k, ok := canon(src.Type, c)
			if !ok {
				return errs.Invalidf("category %q does not fit column %q of type %s", c, s.Column, src.Type)
			}
			if slices.Contains(cats, k) {
				return errs.Invalidf("category %q repeats another for type %s", c, src.Type)
			}
			cats = append(cats, k)
		}
	} else {
		seen := map[string]int{}
		for i := range src.Len() {
			if missing(src, i) {
				continue
			}
			if k := src.String(i); seen[k] == 0 {
				seen[k] = i + 1
				cats = append(cats, k)
				if len(cats) > s.MaxCategories {
					return errs.Invalidf("column %q has more than max_categories (%d) distinct values", s.Column, s.MaxCategories)
				}
			}
		}
		if storage(src.Type) == 'i' {
			slices.SortFunc(cats, func(a, b string) int { return cmp.Compare(src.I[seen[a]-1], src.I[seen[b]-1]) })
		} else {
			slices.Sort(cats)
		}
	}
	prefix := s.Prefix
	if prefix == "" {
		prefix = s.Column
	}
	cols := make([]dataset.Column, len(cats))
	vecs := make([]*dataset.Vec, len(cats))
	for k, cat := range cats {
		cols[k] = dataset.Column{Name: prefix + "_" + cat, Type: dataset.TypeInteger, Role: col.Role}
		vecs[k] = dataset.NewVec(dataset.TypeInteger, src.Len())
	}
	at := map[string]int{}
	for k, cat := range cats {
		at[cat] = k
	}
	for i := range src.Len() {
		if missing(src, i) {
			for _, v := range vecs {
				v.AppendNull()
			}
			continue
		}
		hit, ok := at[src.String(i)]
		for k, v := range vecs {
			if ok && k == hit {
				v.AppendInt(1)
			} else {
				v.AppendInt(0)
			}
		}
	}
	// The new names hold category values: say which collides, not with what.
	rest := slices.Clone(w.cols)
	if !s.Keep {
		rest = slices.Delete(rest, j, j+1)
	}
	taken := map[string]bool{}
	for _, c := range rest {
		taken[c.Name] = true
	}
	for k, c := range cols {
		if taken[c.Name] {
			return errs.Invalidf("the indicator column of category %d collides with another column (set prefix)", k+1)
		}
		taken[c.Name] = true
	}
	pos := j
	if s.Keep {
		pos = j + 1
	} else {
		w.cols = slices.Delete(w.cols, j, j+1)
		w.vecs = slices.Delete(w.vecs, j, j+1)
	}
	w.cols = slices.Insert(w.cols, pos, cols...)
	w.vecs = slices.Insert(w.vecs, pos, vecs...)
	return nil
}

func (s *oneHotStep) describe() string {
	if s.Categories != nil {
		return fmt.Sprintf("one_hot %s into %d fixed categories", s.Column, len(s.Categories))
	}
	return fmt.Sprintf("one_hot %s (at most %d categories)", s.Column, s.MaxCategories)
}
