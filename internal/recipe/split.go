package recipe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// Split sets, in the order fractions are given.
var splitSets = [3]string{"train", "validation", "test"}

// split: a column telling which set each row belongs to.
type splitStep struct {
	Mode      string    `yaml:"mode"` // random (default), stratified or grouped
	By        string    `yaml:"by"`   // the class column (stratified), the patient column (grouped)
	Fractions fractions `yaml:"fractions"`
	Seed      uint64    `yaml:"seed"`
	Name      string    `yaml:"name"` // default "split"
	frac      [3]float64
}

type fractions struct {
	Train      *float64 `yaml:"train"`
	Validation *float64 `yaml:"validation"`
	Test       *float64 `yaml:"test"`
}

func parseSplit(n *yaml.Node) (op, error) {
	s, err := decode[splitStep](n, "")
	if err != nil {
		return nil, err
	}
	switch s.Mode {
	case "":
		s.Mode = "random"
		fallthrough
	case "random":
		if s.By != "" {
			return nil, errs.Invalidf("by applies to modes stratified and grouped")
		}
	case "stratified", "grouped":
		if s.By == "" {
			return nil, errs.Invalidf("mode %s needs by, the column to %s by", s.Mode, map[string]string{"stratified": "stratify", "grouped": "group"}[s.Mode])
		}
	default:
		return nil, errs.Invalidf("unknown mode %q (random, stratified, grouped)", s.Mode)
	}
	if s.Name == "" {
		s.Name = "split"
	}
	sum := 0.0
	for k, f := range []*float64{s.Fractions.Train, s.Fractions.Validation, s.Fractions.Test} {
		if f == nil {
			continue
		}
		if !(*f >= 0 && *f <= 1) {
			return nil, errs.Invalidf("fractions: %s must be between 0 and 1", splitSets[k])
		}
		s.frac[k] = *f
		sum += *f
	}
	if s.frac[0] == 0 {
		return nil, errs.Invalidf("fractions: train is required and must be above 0")
	}
	if math.Abs(sum-1) > 1e-6 {
		return nil, errs.Invalidf("fractions: must add up to 1, not %.6g", sum)
	}
	for k := range s.frac {
		s.frac[k] /= sum
	}
	return s, nil
}

func (s *splitStep) apply(w *work) error {
	n := w.rows()
	set := make([]int, n) // index in splitSets, per row
	r := newRNG(s.Seed)
	switch s.Mode {
	case "random":
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		r.shuffle(idx)
		deal(idx, counts(n, s.frac), set)
	case "stratified":
		j, err := w.col(s.By)
		if err != nil {
			return err
		}
		v := w.vecs[j]
		strata := map[stratum][]int{}
		for i := range n {
			k := stratum{missing: missing(v, i)}
			if !k.missing {
				k.value = v.String(i)
			}
			strata[k] = append(strata[k], i)
		}
		keys := make([]stratum, 0, len(strata))
		for k := range strata {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareStrata)
		for _, k := range keys {
			idx := strata[k]
			r.shuffle(idx)
			deal(idx, counts(len(idx), s.frac), set)
		}
	case "grouped":
		j, err := w.col(s.By)
		if err != nil {
			return err
		}
		v := w.vecs[j]
		groups := map[string][]int{}
		var bad []int
		for i := range n {
			if missing(v, i) {
				bad = append(bad, w.pos(i))
				continue
			}
			groups[v.String(i)] = append(groups[v.String(i)], i)
		}
		if len(bad) > 0 {
			return errs.Invalidf("column %q is missing in %s: every row needs a group", s.By, rowList(bad))
		}
		keys := make([]string, 0, len(groups))
		for k := range groups {
			keys = append(keys, k)
		}
		slices.Sort(keys) // independent of row order
		r.shuffleStrings(keys)
		// Each group goes, whole, to the set its middle row falls in when
		// groups are laid end to end.
		done := 0
		for _, k := range keys {
			g := groups[k]
			mid := (float64(done) + float64(len(g))/2) / float64(n)
			t := 0
			for k, f := range s.frac { // the first set reaching past mid, else the last
				if f > 0 {
					t = k
					if mid < cumulative(s.frac, k) {
						break
					}
				}
			}
			for _, i := range g {
				set[i] = t
			}
			done += len(g)
		}
	}
	out := dataset.NewVec(dataset.TypeString, n)
	for _, t := range set {
		out.AppendString(splitSets[t])
	}
	return w.add(dataset.Column{Name: s.Name, Type: dataset.TypeString, Role: dataset.RoleOther}, out)
}

type stratum struct {
	missing bool
	value   string
}

func compareStrata(a, b stratum) int {
	switch {
	case a.missing != b.missing:
		if a.missing {
			return 1
		}
		return -1
	case a.value < b.value:
		return -1
	case a.value > b.value:
		return 1
	}
	return 0
}

// cumulative is the fraction of rows in sets 0..t.
func cumulative(f [3]float64, t int) float64 {
	c := 0.0
	for k := 0; k <= t; k++ {
		c += f[k]
	}
	return c
}

// counts divides n rows by fractions, largest remainders first.
func counts(n int, f [3]float64) [3]int {
	var c [3]int
	var rem [3]float64
	total := 0
	for k := range f {
		x := float64(n) * f[k]
		c[k] = int(math.Floor(x))
		rem[k] = x - math.Floor(x)
		total += c[k]
	}
	for ; total > n; total-- { // rounding of fractions normalized to 1
		c[slices.Index(c[:], slices.Max(c[:]))]--
	}
	for ; total < n; total++ {
		best := -1
		for k := range rem {
			if f[k] > 0 && (best < 0 || rem[k] > rem[best]) {
				best = k
			}
		}
		c[best]++
		rem[best] = -1
	}
	return c
}

// deal gives the rows in idx, in order, to the sets by counts.
func deal(idx []int, c [3]int, set []int) {
	k := 0
	for t, m := range c {
		for range m {
			set[idx[k]] = t
			k++
		}
	}
}

// rng is a seeded source whose sequence the Go release does not change:
// a split must be the same whenever a recipe runs again.
type rng struct{ p *rand.PCG }

func newRNG(seed uint64) *rng { return &rng{rand.NewPCG(seed, 0x9e3779b97f4a7c15)} }

// intn returns a uniform integer in [0, n), n > 0.
func (r *rng) intn(n int) int {
	limit := math.MaxUint64 - math.MaxUint64%uint64(n)
	for {
		if x := r.p.Uint64(); x < limit {
			return int(x % uint64(n))
		}
	}
}

func (r *rng) shuffle(idx []int) {
	for i := len(idx) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		idx[i], idx[j] = idx[j], idx[i]
	}
}

func (r *rng) shuffleStrings(s []string) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

func (s *splitStep) describe() string {
	var sets []string
	for k, f := range s.frac {
		if f > 0 {
			sets = append(sets, splitSets[k]+" "+strconv.FormatFloat(f, 'g', 4, 64))
		}
	}
	d := "split " + strings.Join(sets, " / ")
	switch s.Mode {
	case "stratified":
		d += ", stratified on " + s.By
	case "grouped":
		d += ", grouped by " + s.By
	}
	return d + fmt.Sprintf(", seed %d, into %s", s.Seed, s.Name)
}
