package annotate

// Agreement statistics, pure functions with no storage:
//
//   - Cohen's kappa for two raters on nominal labels (Cohen 1960);
//   - Fleiss' kappa for n raters per item (Fleiss 1971), items with fewer
//     ratings than the most common count being excluded (the statistic
//     assumes the same number of ratings per item);
//   - Krippendorff's alpha for nominal data (any number of raters, missing
//     values allowed) through the coincidence matrix (Krippendorff 2011,
//     "Computing Krippendorff's Alpha-Reliability");
//   - span agreement between two annotators: exact-match span F1 and
//     overlap F1 (same label, at least one character in common);
//   - Krippendorff's unitizing alpha (uα) for one label on a continuum of
//     character offsets (Krippendorff 1995; the formula of Krippendorff 2004,
//     "Measuring the reliability of qualitative text analysis data",
//     Quality & Quantity 38, with integer lengths, as in DKPro Agreement).
//
// Undefined statistics (no pairable value, no expected disagreement) are
// NaN; reports turn them into null.

import (
	"math"
	"sort"
)

// CohenKappa is Cohen's kappa between two raters' nominal labels; a[i] and
// b[i] label the same item, "" meaning missing (the item is left out). It
// returns kappa, the observed agreement and the number of items used. Kappa
// is NaN with no item and when the expected agreement is 1 (both raters
// always give the same single label), as in scikit-learn.
func CohenKappa(a, b []string) (kappa, observed float64, n int) {
	ca := map[string]float64{}
	cb := map[string]float64{}
	agree := 0.0
	for i := range a {
		if i >= len(b) || a[i] == "" || b[i] == "" {
			continue
		}
		n++
		ca[a[i]]++
		cb[b[i]]++
		if a[i] == b[i] {
			agree++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN(), 0
	}
	po := agree / float64(n)
	pe := 0.0
	for k, x := range ca {
		pe += x / float64(n) * cb[k] / float64(n)
	}
	if pe == 1 {
		return math.NaN(), po, n
	}
	return (po - pe) / (1 - pe), po, n
}

// FleissKappaCounts is Fleiss' kappa from a table of counts: counts[i][j]
// raters put item i in category j, every row summing to the same number
// of raters (at least 2). It returns NaN when undefined.
func FleissKappaCounts(counts [][]float64) float64 {
	if len(counts) == 0 {
		return math.NaN()
	}
	k := len(counts[0])
	n := 0.0
	for _, x := range counts[0] {
		n += x
	}
	if n < 2 {
		return math.NaN()
	}
	N := float64(len(counts))
	pj := make([]float64, k)
	pbar := 0.0
	for _, row := range counts {
		s := 0.0
		for j, x := range row {
			pj[j] += x
			s += x * (x - 1)
		}
		pbar += s / (n * (n - 1))
	}
	pbar /= N
	pe := 0.0
	for j := range pj {
		p := pj[j] / (N * n)
		pe += p * p
	}
	if pe == 1 {
		return math.NaN()
	}
	return (pbar - pe) / (1 - pe)
}

// FleissKappa is Fleiss' kappa over items, each the labels its raters gave
// ("" entries are ignored). Fleiss' kappa needs the same number of ratings
// per item: items with another count than the most common one (ties: the
// largest) are excluded, and their number is returned as excluded.
func FleissKappa(items [][]string) (kappa float64, used, excluded int) {
	freq := map[int]int{}
	clean := make([][]string, len(items))
	for i, it := range items {
		for _, v := range it {
			if v != "" {
				clean[i] = append(clean[i], v)
			}
		}
		if len(clean[i]) >= 2 {
			freq[len(clean[i])]++
		}
	}
	m, best := 0, 0
	for c, f := range freq {
		if f > best || (f == best && c > m) {
			m, best = c, f
		}
	}
	if m == 0 {
		return math.NaN(), 0, len(items)
	}
	cats := categories(clean)
	idx := map[string]int{}
	for i, c := range cats {
		idx[c] = i
	}
	var counts [][]float64
	for _, it := range clean {
		if len(it) != m {
			excluded++
			continue
		}
		row := make([]float64, len(cats))
		for _, v := range it {
			row[idx[v]]++
		}
		counts = append(counts, row)
	}
	return FleissKappaCounts(counts), len(counts), excluded
}

// KrippendorffAlpha is Krippendorff's alpha for nominal data. Each unit
// holds the values its coders gave (missing values simply absent; ""
// ignored); units with fewer than two values are not pairable and are left
// out. It returns alpha and the number of pairable values n; alpha is NaN
// when there is no pairable value or no expected disagreement.
func KrippendorffAlpha(units [][]string) (alpha float64, n float64) {
	type pair struct{ c, k string }
	o := map[pair]float64{}
	nc := map[string]float64{}
	for _, u := range units {
		var vals []string
		for _, v := range u {
			if v != "" {
				vals = append(vals, v)
			}
		}
		m := float64(len(vals))
		if m < 2 {
			continue
		}
		for i, a := range vals {
			for j, b := range vals {
				if i != j {
					o[pair{a, b}] += 1 / (m - 1)
				}
			}
			nc[a]++
		}
		n += m
	}
	if n < 2 {
		return math.NaN(), n
	}
	do := 0.0
	for p, x := range o {
		if p.c != p.k {
			do += x
		}
	}
	de := 0.0
	for c, x := range nc {
		for k, y := range nc {
			if c != k {
				de += x * y
			}
		}
	}
	if de == 0 {
		return math.NaN(), n
	}
	return 1 - (n-1)*do/de, n
}

func categories(items [][]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range items {
		for _, v := range it {
			if v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out
}

// oneVsRest maps every value to label or "other" (missing stays missing).
func oneVsRest(items [][]string, label string) [][]string {
	out := make([][]string, len(items))
	for i, it := range items {
		out[i] = make([]string, len(it))
		for j, v := range it {
			switch v {
			case "":
			case label:
				out[i][j] = label
			default:
				out[i][j] = "other"
			}
		}
	}
	return out
}

// Unit is a labelled span [Start, End) of a continuum (character offsets).
type Unit struct {
	Start, End int
	Label      string
}

// SpanF1 compares two annotators' spans over the same documents, per label
// and overall. Exact: same start, end and label. Overlap: same label and at
// least one character in common; precision is the share of b's spans
// overlapping one of a's, recall the share of a's spans overlapping one of
// b's (so the measure is symmetric). Documents are given as pairs of span
// lists (a[i] and b[i] annotate document i).
type SpanF1 struct {
	Exact   Stat `json:"exact_f1"`
	Overlap Stat `json:"overlap_f1"`
	SpansA  int  `json:"spans_a"`
	SpansB  int  `json:"spans_b"`
}

// SpanAgreement computes SpanF1 for label ("" for all labels together).
func SpanAgreement(a, b [][]Unit, label string) SpanF1 {
	var r SpanF1
	exact := 0
	matchedA, matchedB := 0, 0
	keep := func(us []Unit) []Unit {
		var out []Unit
		for _, u := range us {
			if label == "" || u.Label == label {
				out = append(out, u)
			}
		}
		return out
	}
	for i := range a {
		var ua, ub []Unit
		ua = keep(a[i])
		if i < len(b) {
			ub = keep(b[i])
		}
		r.SpansA += len(ua)
		r.SpansB += len(ub)
		type key struct {
			s, e int
			l    string
		}
		set := map[key]bool{}
		for _, u := range ua {
			set[key{u.Start, u.End, u.Label}] = true
		}
		for _, u := range ub {
			if set[key{u.Start, u.End, u.Label}] {
				exact++
			}
		}
		overlaps := func(x Unit, ys []Unit) bool {
			for _, y := range ys {
				if x.Label == y.Label && x.Start < y.End && y.Start < x.End {
					return true
				}
			}
			return false
		}
		for _, u := range ua {
			if overlaps(u, ub) {
				matchedA++
			}
		}
		for _, u := range ub {
			if overlaps(u, ua) {
				matchedB++
			}
		}
	}
	tot := r.SpansA + r.SpansB
	if tot == 0 {
		r.Exact, r.Overlap = Stat(math.NaN()), Stat(math.NaN())
		return r
	}
	r.Exact = Stat(2 * float64(exact) / float64(tot))
	var p, rc float64
	if r.SpansB > 0 {
		p = float64(matchedB) / float64(r.SpansB)
	}
	if r.SpansA > 0 {
		rc = float64(matchedA) / float64(r.SpansA)
	}
	if p+rc > 0 {
		r.Overlap = Stat(2 * p * rc / (p + rc))
	}
	return r
}

// section is a stretch of one coder's continuum: a unit of the category
// (v) or a gap.
type section struct {
	b, l int
	v    bool
}

// sections cuts [0, length) into the coder's units of one label and the
// gaps between them. Units must not overlap (checked at submission).
func sections(units []Unit, length int) []section {
	us := append([]Unit(nil), units...)
	sort.Slice(us, func(i, j int) bool { return us[i].Start < us[j].Start })
	var out []section
	pos := 0
	for _, u := range us {
		if u.Start < pos || u.End > length || u.End <= u.Start {
			continue // overlapping or out of range: ignored
		}
		if u.Start > pos {
			out = append(out, section{b: pos, l: u.Start - pos})
		}
		out = append(out, section{b: u.Start, l: u.End - u.Start, v: true})
		pos = u.End
	}
	if pos < length {
		out = append(out, section{b: pos, l: length - pos})
	}
	return out
}

// UnitizingAlpha is Krippendorff's uα for one label. coders[i] holds
// coder i's units of that label on a continuum of length L (other labels'
// units are ignored: they are gaps for this label, the binary "c or not c"
// variant that the per-label figure reports). Every coder must have coded
// the whole continuum. With B the begin, l the length and v ∈ {0,1} whether
// a section is a unit of c:
//
//	uDo = Σ_i Σ_g Σ_{j≠i} Σ_h δ²(g,h) / (m(m−1)L²)
//	δ²  = (b_g−b_h)² + (b_g+l_g−b_h−l_h)²   both units, overlapping
//	    = l_g²                              g a unit inside the gap h
//	    = l_h²                              h a unit inside the gap g
//	    = 0                                 otherwise
//	uDe = (2/L) Σ_i Σ_g v_g [ (N_c−1)/3 (2l_g³−3l_g²+l_g)
//	          + l_g² Σ_j Σ_h (1−v_h)(l_h−l_g+1)[l_h ≥ l_g] ]
//	      / ( mL(mL−1) − Σ_i Σ_g v_g l_g(l_g−1) )
//	uα  = 1 − uDo/uDe
//
// N_c is the number of units of c over all coders. It returns NaN when
// undefined (fewer than two coders, an empty continuum, no unit at all).
func UnitizingAlpha(coders [][]Unit, label string, L int) float64 {
	m := len(coders)
	if m < 2 || L <= 0 {
		return math.NaN()
	}
	secs := make([][]section, m)
	nc := 0
	for i, us := range coders {
		var mine []Unit
		for _, u := range us {
			if u.Label == label {
				mine = append(mine, u)
			}
		}
		secs[i] = sections(mine, L)
		for _, s := range secs[i] {
			if s.v {
				nc++
			}
		}
	}
	if nc == 0 {
		return math.NaN()
	}
	// Only overlapping sections disagree (δ² is 0 otherwise), and each
	// coder's sections are sorted and contiguous: a merge visits each
	// overlapping pair once.
	do := 0.0
	for i := range secs {
		for j := range secs {
			if i == j {
				continue
			}
			k := 0
			for _, g := range secs[i] {
				for k < len(secs[j]) && secs[j][k].b+secs[j][k].l <= g.b {
					k++
				}
				for q := k; q < len(secs[j]) && secs[j][q].b < g.b+g.l; q++ {
					do += delta2(g, secs[j][q])
				}
			}
		}
	}
	fm, fL := float64(m), float64(L)
	do /= fm * (fm - 1) * fL * fL
	// Σ over gaps h with l_h ≥ l of (l_h − l + 1), from the sorted gap
	// lengths and their suffix sums.
	var gaps []int
	for i := range secs {
		for _, h := range secs[i] {
			if !h.v {
				gaps = append(gaps, h.l)
			}
		}
	}
	sort.Ints(gaps)
	suffix := make([]float64, len(gaps)+1)
	for k := len(gaps) - 1; k >= 0; k-- {
		suffix[k] = suffix[k+1] + float64(gaps[k])
	}
	num, sub := 0.0, 0.0
	for i := range secs {
		for _, g := range secs[i] {
			if !g.v {
				continue
			}
			l := float64(g.l)
			k := sort.SearchInts(gaps, g.l)
			c := float64(len(gaps) - k)
			num += float64(nc-1)/3*(2*l*l*l-3*l*l+l) + l*l*(suffix[k]-c*(l-1))
			sub += l * (l - 1)
		}
	}
	de := 2 / fL * num / (fm*fL*(fm*fL-1) - sub)
	if de == 0 {
		return math.NaN()
	}
	return 1 - do/de
}

func delta2(g, h section) float64 {
	d := float64(g.b - h.b)
	switch {
	case g.v && h.v:
		if -g.l < g.b-h.b && g.b-h.b < h.l {
			e := float64(g.b + g.l - h.b - h.l)
			return d*d + e*e
		}
	case g.v && !h.v:
		if h.l-g.l >= g.b-h.b && g.b-h.b >= 0 {
			return float64(g.l * g.l)
		}
	case !g.v && h.v:
		if g.l-h.l >= h.b-g.b && h.b-g.b >= 0 {
			return float64(h.l * h.l)
		}
	}
	return 0
}
