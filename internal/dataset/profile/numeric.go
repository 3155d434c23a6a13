package profile

import (
	"cmp"
	"math"
	"slices"

	"github.com/hygie-health/hygie/internal/dataset"
)

// numericColumn profiles an integer or float column: one read of the column
// into sortable keys, a radix sort, one walk over the sorted keys.
func numericColumn(v *dataset.Vec, t treatment, o Options, p *ColumnProfile, sc *scratch) {
	isFloat := v.Type == dataset.TypeFloat
	n := v.Len()
	keys := sc.keyBuf(n)
	var inf int
	if isFloat {
		for i, x := range v.F {
			switch {
			case v.IsNull(i) || math.IsNaN(x):
				p.Missing++
			case math.IsInf(x, 0):
				inf++
			default:
				if x == 0 {
					x = 0 // -0 is 0
				}
				keys = append(keys, floatKey(x))
			}
		}
	} else {
		for i, x := range v.I {
			if v.IsNull(i) {
				p.Missing++
				continue
			}
			keys = append(keys, intKey(x))
		}
	}
	p.Count = n - p.Missing
	sc.radixSort(keys, nil)
	if t == countsOnly || len(keys) < o.MinCount {
		p.Distinct = ptr(countRuns(keys) + distinctInf(v, inf))
		if t != countsOnly && p.Count >= o.MinCount {
			p.Numeric = &Numeric{Infinite: inf}
		}
		return
	}
	dec := func(k uint64) float64 { return float64(keyInt(k)) }
	if isFloat {
		dec = keyFloat
	}
	s := newNumericStats(keys, dec, !isFloat, o)
	p.Distinct = ptr(s.distinct + distinctInf(v, inf))
	p.Numeric = s.report(t == coarse, isFloat, o)
	p.Numeric.Infinite = inf
}

func countRuns(keys []uint64) int {
	d := 0
	for i := range keys {
		if i == 0 || keys[i] != keys[i-1] {
			d++
		}
	}
	return d
}

func distinctInf(v *dataset.Vec, inf int) int {
	if inf == 0 {
		return 0
	}
	var pos, neg bool
	for i, x := range v.F {
		if !v.IsNull(i) {
			pos = pos || math.IsInf(x, 1)
			neg = neg || math.IsInf(x, -1)
		}
	}
	d := 0
	if pos {
		d++
	}
	if neg {
		d++
	}
	return d
}

// run is a value and the number of records holding it.
type run struct {
	key   uint64
	count int64
}

type numericStats struct {
	keys     []uint64
	dec      func(uint64) float64
	integer  bool
	k        int64
	distinct int
	mean     float64
	std      float64 // NaN when undefined
	frequent []run   // values held by at least k records, most frequent first
	rareN    int64   // values held by fewer than k records
	rareSum  int64
	grid     grid
	gridOK   bool
	j0       int64   // grid index of the first bin
	bins     []int64 // records per grid bin
}

// newNumericStats walks the sorted keys once: distinct values and their
// counts, moments (shifted by the median, for accuracy) and the histogram.
func newNumericStats(keys []uint64, dec func(uint64) float64, integer bool, o Options) *numericStats {
	m := len(keys)
	s := &numericStats{keys: keys, dec: dec, integer: integer, k: int64(o.MinCount)}
	lo, hi := dec(keys[0]), dec(keys[m-1])
	shift := s.quantile(0.5)
	s.grid, s.gridOK = chooseGrid(lo, hi, s.quantile(0.75)-s.quantile(0.25), m, integer, o.MaxBins)
	var next float64 // upper edge of the current bin
	if s.gridOK {
		s.j0 = s.grid.index(lo)
		s.bins = make([]int64, s.grid.index(hi)-s.j0+1)
		next = s.grid.edge(s.j0 + 1)
	}
	b := 0
	var sd, sdd float64
	for i := 0; i < m; {
		key := keys[i]
		j := i + 1
		for j < m && keys[j] == key {
			j++
		}
		c := int64(j - i)
		x := dec(key)
		d := x - shift
		sd += d * float64(c)
		sdd += d * d * float64(c)
		if s.gridOK {
			for x >= next && b < len(s.bins)-1 {
				b++
				next = s.grid.edge(s.j0 + int64(b) + 1)
			}
			s.bins[b] += c
		}
		s.distinct++
		if c >= s.k {
			s.frequent = append(s.frequent, run{key, c})
		} else {
			s.rareN++
			s.rareSum += c
		}
		i = j
	}
	fm := float64(m)
	s.mean = shift + sd/fm
	s.std = math.NaN()
	if m > 1 {
		s.std = math.Sqrt(max(0, (sdd-sd*sd/fm)/(fm-1)))
	}
	slices.SortFunc(s.frequent, func(a, b run) int {
		return cmp.Or(cmp.Compare(b.count, a.count), cmp.Compare(a.key, b.key))
	})
	return s
}

// quantile interpolates linearly between the closest ranks (numpy's
// default, Hyndman & Fan type 7).
func (s *numericStats) quantile(p float64) float64 {
	h := p * float64(len(s.keys)-1)
	i := int(h)
	x := s.dec(s.keys[i])
	if i+1 >= len(s.keys) {
		return x
	}
	return x + (h-float64(i))*(s.dec(s.keys[i+1])-x)
}

var quantileLevels = [7]float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99}

// finalBin is a bin of the written histogram: grid bins [first, last], open
// at an end when merged there.
type finalBin struct {
	first, last    int // positions in numericStats.bins
	openLo, openHi bool
	count          int64
}

func (s *numericStats) report(coarsened, isFloat bool, o Options) *Numeric {
	nr := &Numeric{Mean: finite(s.mean), Std: finite(s.std), Coarsened: coarsened}
	qs := make([]*float64, len(quantileLevels))
	var final []finalBin
	if s.gridOK {
		final = s.finalBins(coarsened)
	}
	if !coarsened {
		nr.Min = finite(s.dec(s.keys[0]))
		nr.Max = finite(s.dec(s.keys[len(s.keys)-1]))
		for i, p := range quantileLevels {
			qs[i] = finite(s.quantile(p))
		}
	} else if len(final) > 0 {
		first, last := final[0], final[len(final)-1]
		if !first.openLo {
			nr.Min = finite(s.grid.edge(s.j0))
		}
		if !last.openHi {
			nr.Max = finite(s.grid.edge(s.j0 + int64(len(s.bins))))
		}
		for i, p := range quantileLevels {
			b := int(s.grid.index(s.quantile(p)) - s.j0)
			b = min(max(b, 0), len(s.bins)-1)
			f := final[s.finalIndex(final, b)]
			if !f.openLo && !f.openHi && s.bins[b] >= s.k {
				qs[i] = finite(s.grid.edge(s.j0 + int64(b)))
			}
		}
	}
	nr.Quantiles = Quantiles{qs[0], qs[1], qs[2], qs[3], qs[4], qs[5], qs[6]}

	listed := s.frequent[:listable(runCounts(s.frequent), s.rareN, s.rareSum, s.k, o.TopN)]
	if len(final) > 0 {
		counts := make([]int64, len(final))
		for i, f := range final {
			counts[i] = f.count
		}
		st := protect(counts, s.k)
		listed = s.consistentWithBins(listed, final, st)
		nr.Histogram = &Histogram{Width: s.grid.width()}
		for i, c := range cells(counts, st, o.MinCount) {
			f := final[i]
			bin := Bin{Cell: c}
			if !f.openLo {
				bin.Lo = finite(s.grid.edge(s.j0 + int64(f.first)))
			}
			if !f.openHi {
				bin.Hi = finite(s.grid.edge(s.j0 + int64(f.last) + 1))
			}
			nr.Histogram.Bins = append(nr.Histogram.Bins, bin)
		}
	} else if coarsened {
		listed = nil // without bins there is nothing to check the list against
	}
	nr.Top = make([]Value, 0, len(listed))
	for _, r := range listed {
		var x any = keyInt(r.key)
		if isFloat {
			x = keyFloat(r.key)
		}
		nr.Top = append(nr.Top, Value{Value: x, Count: r.count})
	}
	return nr
}

func runCounts(rs []run) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.count
	}
	return out
}

// finalBins returns the histogram's bins. For a quasi-identifier, the bins
// at each end are merged until the end bin holds k records; nil when the
// two merged ends would meet (nothing left to show between them).
func (s *numericStats) finalBins(coarsened bool) []finalBin {
	nb := len(s.bins)
	if !coarsened {
		out := make([]finalBin, nb)
		for i, c := range s.bins {
			out[i] = finalBin{first: i, last: i, count: c}
		}
		return out
	}
	return mergeEnds(s.bins, s.k)
}

// mergeEnds merges the end bins of counts until each end holds at least k
// records; nil when the ends meet, unless there is a single bin of k or more.
func mergeEnds(counts []int64, k int64) []finalBin {
	nb := len(counts)
	left, acc := 0, counts[0]
	for acc < k && left < nb-1 {
		left++
		acc += counts[left]
	}
	leftCount := acc
	right, acc := nb-1, counts[nb-1]
	for acc < k && right > 0 {
		right--
		acc += counts[right]
	}
	rightCount := acc
	if nb == 1 {
		if counts[0] < k {
			return nil
		}
		return []finalBin{{first: 0, last: 0, count: counts[0]}}
	}
	if left >= right || leftCount < k || rightCount < k {
		return nil
	}
	out := []finalBin{{first: 0, last: left, openLo: left > 0, count: leftCount}}
	for i := left + 1; i < right; i++ {
		out = append(out, finalBin{first: i, last: i, count: counts[i]})
	}
	return append(out, finalBin{first: right, last: nb - 1, openHi: right < nb-1, count: rightCount})
}

func (s *numericStats) finalIndex(final []finalBin, b int) int {
	i, _ := slices.BinarySearchFunc(final, b, func(f finalBin, b int) int {
		switch {
		case f.last < b:
			return -1
		case f.first > b:
			return 1
		}
		return 0
	})
	return i
}

// consistentWithBins drops listed values whose bin is suppressed, or whose
// bin's other records number 1 to k−1: either would let the bin count and
// the listed counts give a hidden count away.
func (s *numericStats) consistentWithBins(listed []run, final []finalBin, st []cellState) []run {
	inBin := make([]int64, len(final))
	where := make([]int, len(listed))
	for i, r := range listed {
		b := int(s.grid.index(s.dec(r.key)) - s.j0)
		where[i] = s.finalIndex(final, min(max(b, 0), len(s.bins)-1))
		inBin[where[i]] += r.count
	}
	out := listed[:0:0]
	for i, r := range listed {
		f := where[i]
		rest := final[f].count - inBin[f]
		if st[f] == shown && (rest == 0 || rest >= s.k) {
			out = append(out, r)
		}
	}
	return out
}

// finite returns &x, or nil when x is NaN or infinite (JSON has neither).
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}
