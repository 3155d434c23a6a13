package profile

import (
	"math"

	"github.com/hygie-health/hygie/internal/dataset"
)

// correlations returns the Pearson matrix of the numeric feature and target
// columns that show values; nil when there are none.
func correlations(f *dataset.Frame, cols []ColumnProfile, o Options) *Correlations {
	var idx []int
	for i, c := range f.Columns {
		switch {
		case c.Role != dataset.RoleFeature && c.Role != dataset.RoleTarget,
			c.Type != dataset.TypeInteger && c.Type != dataset.TypeFloat && c.Type != dataset.TypeBoolean,
			cols[i].Withheld != "":
			continue
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return nil
	}
	n := f.Rows()
	vs := make([]centered, len(idx))
	tasks := make([]func(*scratch), len(idx))
	for a, i := range idx {
		tasks[a] = func(*scratch) { vs[a] = center(f.Vecs[i]) }
	}
	parallel(tasks)

	c := &Correlations{Columns: make([]string, len(idx)), Pearson: make([][]*float64, len(idx))}
	for a, i := range idx {
		c.Columns[a] = f.Columns[i].Name
		c.Pearson[a] = make([]*float64, len(idx))
	}
	// Sums over the rows where both columns are present, a block of rows
	// at a time so that the block stays in cache: a dot product for two
	// complete columns, masked sums otherwise.
	sums := make([][]pairSums, len(vs))
	for a := range sums {
		sums[a] = make([]pairSums, len(vs))
	}
	ones := make([]float64, min(n, corrBlock))
	for i := range ones {
		ones[i] = 1
	}
	for lo := 0; lo < n; lo += corrBlock {
		hi := min(lo+corrBlock, n)
		for a := range vs {
			if vs[a].constant {
				continue
			}
			x := vs[a].x[lo:hi]
			for b := a; b < len(vs); b++ {
				if vs[b].constant {
					continue
				}
				y := vs[b].x[lo:hi]
				if vs[a].mask == nil && vs[b].mask == nil {
					sums[a][b].xy += dot(x, y)
					continue
				}
				ma, mb := ones[:hi-lo], ones[:hi-lo]
				if vs[a].mask != nil {
					ma = vs[a].mask[lo:hi]
				}
				if vs[b].mask != nil {
					mb = vs[b].mask[lo:hi]
				}
				sums[a][b].addMasked(x, y, ma, mb)
			}
		}
	}
	for a := range vs {
		for b := a; b < len(vs); b++ {
			if vs[a].constant || vs[b].constant {
				continue
			}
			s := sums[a][b]
			if vs[a].mask == nil && vs[b].mask == nil {
				s = pairSums{n: float64(n), xx: sums[a][a].xy, yy: sums[b][b].xy, xy: s.xy}
			}
			if r, ok := s.pearson(o.MinCount); ok {
				c.Pearson[a][b], c.Pearson[b][a] = ptr(r), ptr(r)
			}
		}
	}
	return c
}

const corrBlock = 4096

func dot(x, y []float64) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// pairSums are the sums over the rows where two columns are both present.
type pairSums struct{ n, x, y, xx, yy, xy float64 }

// addMasked adds rows where ma and mb are 1 (missing values are 0 in x, y).
func (s *pairSums) addMasked(x, y, ma, mb []float64) {
	y, ma, mb = y[:len(x)], ma[:len(x)], mb[:len(x)]
	var n, sx, sy, sxx, syy, sxy float64
	for i, xi := range x {
		yi, a, b := y[i], ma[i], mb[i]
		xb, ya := xi*b, yi*a
		n += a * b
		sx += xb
		sy += ya
		sxx += xi * xb
		syy += yi * ya
		sxy += xi * yi
	}
	s.n += n
	s.x += sx
	s.y += sy
	s.xx += sxx
	s.yy += syy
	s.xy += sxy
}

// pearson returns the coefficient, false when fewer than k rows have both
// values or one column does not vary over them (to rounding: a variance
// below 1e-9 of the sum of squares is taken for 0).
func (s pairSums) pearson(k int) (float64, bool) {
	if s.n < float64(k) {
		return 0, false
	}
	vx, vy := s.xx-s.x*s.x/s.n, s.yy-s.y*s.y/s.n
	if vx <= 1e-9*s.xx || vy <= 1e-9*s.yy {
		return 0, false
	}
	return clampRound((s.xy - s.x*s.y/s.n) / math.Sqrt(vx*vy))
}

// centered is a column as float64s minus their mean; mask is nil when no
// value is missing, else missing slots hold 0 in x and in mask, present
// ones 1 in mask.
type centered struct {
	x        []float64
	mask     []float64
	constant bool // all present values are equal (or none is present)
}

func center(v *dataset.Vec) centered {
	n := v.Len()
	c := centered{x: make([]float64, n), constant: true}
	absent := func(i int) {
		if c.mask == nil {
			c.mask = make([]float64, n)
			for j := range i {
				c.mask[j] = 1
			}
		}
	}
	if storage(v.Type) == 'f' {
		for i, x := range v.F {
			if v.IsNull(i) || math.IsNaN(x) || math.IsInf(x, 0) {
				absent(i)
				continue
			}
			c.x[i] = x
			if c.mask != nil {
				c.mask[i] = 1
			}
		}
	} else {
		for i, x := range v.I {
			if v.IsNull(i) {
				absent(i)
				continue
			}
			c.x[i] = float64(x)
			if c.mask != nil {
				c.mask[i] = 1
			}
		}
	}
	var sum, first float64
	m := 0
	for i, x := range c.x {
		if c.mask != nil && c.mask[i] == 0 {
			continue
		}
		if m == 0 {
			first = x
		} else if x != first {
			c.constant = false
		}
		sum += x
		m++
	}
	if m == 0 {
		return c
	}
	mean := sum / float64(m)
	for i := range c.x {
		if c.mask == nil || c.mask[i] == 1 {
			c.x[i] -= mean
		}
	}
	return c
}

// clampRound rounds r to 12 decimals and into [-1, 1]: a perfect
// correlation reads 1, not 0.9999999999999998.
func clampRound(r float64) (float64, bool) {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return 0, false
	}
	r = math.Round(r*1e12) / 1e12
	return max(-1, min(1, r)), true
}
