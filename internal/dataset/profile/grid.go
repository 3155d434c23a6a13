package profile

import "math"

// grid is a histogram's grid: bin j is [j·w, (j+1)·w) with w = m·10^e and
// m ∈ {1, 2, 25, 5} (25 with e one lower: 2.5). Edges are computed from
// integers and exact powers of ten, so they print as round decimals and are
// never a data value unless one happens to be round.
type grid struct {
	m int64
	e int
}

// maxGridIndex keeps j·m exact in a float64.
const maxGridIndex = 1 << 48

func scale(x float64, e int) float64 {
	if e >= 0 {
		return x * math.Pow10(e)
	}
	return x / math.Pow10(-e)
}

func (g grid) width() float64       { return scale(float64(g.m), g.e) }
func (g grid) edge(j int64) float64 { return scale(float64(j*g.m), g.e) }

// index returns j with edge(j) ≤ x < edge(j+1).
func (g grid) index(x float64) int64 {
	j := int64(math.Floor(x / g.width()))
	for g.edge(j) > x {
		j--
	}
	for g.edge(j+1) <= x {
		j++
	}
	return j
}

// up returns the next wider grid: 1, 2, 2.5, 5, 10… (integer widths only
// when integer is set: 2.5 is skipped).
func (g grid) up(integer bool) grid {
	switch g.m {
	case 1:
		return grid{2, g.e}
	case 2:
		if integer && g.e < 1 {
			return grid{5, g.e}
		}
		return grid{25, g.e - 1}
	case 25:
		return grid{5, g.e + 1}
	}
	return grid{1, g.e + 1}
}

// niceAtLeast returns the narrowest grid of width at least w.
func niceAtLeast(w float64, integer bool) grid {
	if integer && w < 1 {
		w = 1
	}
	g := grid{1, int(math.Floor(math.Log10(w))) - 1}
	if integer {
		g.e = max(g.e, 0)
	}
	for g.width() < w {
		g = g.up(integer)
	}
	return g
}

// niceNear returns the grid whose width is nearest to w, in ratio.
func niceNear(w float64, integer bool) grid {
	g := niceAtLeast(w/2, integer)
	best := g
	for g.width() <= 2*w {
		if math.Abs(math.Log(g.width()/w)) < math.Abs(math.Log(best.width()/w)) {
			best = g
		}
		g = g.up(integer)
	}
	return best
}

// chooseGrid picks the bin width by the Freedman–Diaconis rule (2·IQR/∛n),
// or Sturges' bin count when the IQR is 0, rounded to the nearest round
// width, then widened until there are at most maxBins bins.
// ok is false when no grid fits (values too large or too close to the
// float64 limits).
func chooseGrid(lo, hi, iqr float64, n int, integer bool, maxBins int) (grid, bool) {
	rng := hi/2 - lo/2 // halved: hi − lo may overflow
	var w float64
	switch {
	case rng == 0:
		w = 1
		if !integer && lo != 0 {
			w = math.Pow10(int(math.Floor(math.Log10(math.Abs(lo)))))
		}
	default:
		w = 2 * iqr / math.Cbrt(float64(n))
		if w <= 0 || math.IsNaN(w) {
			w = 2 * rng / (math.Ceil(math.Log2(float64(n))) + 1)
		}
	}
	if w <= 0 || math.IsInf(w, 0) || math.IsNaN(w) {
		return grid{}, false
	}
	g := niceNear(w, integer)
	for range 2000 {
		if g.e > 300 {
			break
		}
		a, b := math.Abs(lo/g.width()), math.Abs(hi/g.width())
		if a < maxGridIndex && b < maxGridIndex {
			if j0, j1 := g.index(lo), g.index(hi); j1-j0+1 <= int64(maxBins) && !math.IsInf(g.edge(j1+1), 0) && !math.IsInf(g.edge(j0), 0) {
				return g, true
			}
		}
		g = g.up(integer)
	}
	return grid{}, false
}
