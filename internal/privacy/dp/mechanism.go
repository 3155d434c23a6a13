package dp

import (
	"math"
	"math/big"
	"slices"
	"sort"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/dp/noise"
)

// Mechanism names, as recorded in releases.
const (
	MechDiscreteLaplace  = "discrete_laplace"
	MechDiscreteGaussian = "discrete_gaussian"
	MechExponential      = "exponential"
)

// gridBits is how many bits of the noise's scale the power-of-two grid of a
// sum or mean resolves: the grid step is about 2⁻²⁴ of the noise's scale, so
// the rounding of values to the grid is negligible beside the noise.
const gridBits = 24

// Result is a differentially private release: noisy values and the declared
// parameters that produced them, nothing else from the data.
type Result struct {
	Kind              Kind     `json:"kind"`
	Column            string   `json:"column,omitempty"`
	By                []string `json:"by,omitempty"`
	Mechanism         string   `json:"mechanism"`
	Epsilon           Decimal  `json:"epsilon"`
	Delta             Decimal  `json:"delta"`
	MaxRowsPerPatient int      `json:"max_rows_per_patient"`
	// Granularity is the step of the grid the values of a sum or mean are
	// computed and released on (a power of two).
	Granularity float64 `json:"granularity,omitempty"`
	// NoiseStdDev is the standard deviation of the noise of each count or
	// sum, in the units of the released values (for a Gaussian, σ, an upper
	// bound). Means and quantiles have no single such figure.
	NoiseStdDev float64 `json:"noise_stddev,omitempty"`
	Cells       []Cell  `json:"cells"`
}

// Cell is one released value.
type Cell struct {
	Group    []string `json:"group,omitempty"`    // one label per --by column
	Quantile string   `json:"quantile,omitempty"` // for quantile queries
	Value    float64  `json:"value"`
}

// prepared holds the exact aggregates of a query on one version. It never
// leaves this package: only release's noisy output does.
type prepared struct {
	q      Query
	labels [][]string // per cell, its group labels
	counts []int64    // per cell: rows kept (count, histogram, mean)
	sums   []int64    // per cell: sum in grid units (sum, mean)
	// The grid of sums and means: step g = 2^gridExp, and bound = ⌈M/g⌉
	// with M = max(|lo|, |hi|), the largest |value| in grid units.
	gridExp int
	bound   int64
	values  []float64 // quantile: the kept values, clamped and sorted
}

// resolvePatientColumn finds the column saying whose rows are whose.
func resolvePatientColumn(f *dataset.Frame, name string) (int, error) {
	if name != "" {
		i := f.Index(name)
		if i < 0 {
			return -1, errs.Invalidf("patient column %q is not in the dataset", name)
		}
		return i, nil
	}
	found := -1
	for i, c := range f.Columns {
		if c.Role == dataset.RolePatientID {
			if found >= 0 {
				return -1, errs.Invalidf("several columns have role patient_id: choose one with --patient-column")
			}
			found = i
		}
	}
	if found < 0 {
		return -1, errs.Invalidf("no column has role patient_id: name the column that says whose rows are whose with --patient-column")
	}
	return found, nil
}

// usableColumn checks that a column may be measured or grouped by.
func usableColumn(f *dataset.Frame, name, use string) (int, error) {
	i := f.Index(name)
	if i < 0 {
		return -1, errs.Invalidf("column %q is not in the dataset", name)
	}
	c := f.Columns[i]
	if c.Role.Identifying() || c.Role == dataset.RoleText || c.Type == dataset.TypeText {
		return -1, errs.Invalidf("column %q has role %s: differentially private queries may not %s identifying or free-text columns", name, c.Role, use)
	}
	return i, nil
}

func numericType(t dataset.Type) bool {
	return t == dataset.TypeInteger || t == dataset.TypeFloat || t == dataset.TypeBoolean
}

// prepare computes the exact aggregates of a normalised query on f.
func prepare(f *dataset.Frame, q Query) (*prepared, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	pc, err := resolvePatientColumn(f, q.PatientColumn)
	if err != nil {
		return nil, err
	}
	var measured *dataset.Vec
	if q.Column != "" {
		i, err := usableColumn(f, q.Column, "measure")
		if err != nil {
			return nil, err
		}
		if !numericType(f.Columns[i].Type) {
			return nil, errs.Invalidf("column %q is of type %s: a %s needs a numeric column", q.Column, f.Columns[i].Type, q.Kind)
		}
		measured = f.Vecs[i]
	}
	// Cells: the cartesian product of the declared groups, in order.
	type grouper struct {
		vec   *dataset.Vec
		cats  map[string]int
		edges []float64
	}
	groupers := make([]grouper, len(q.By))
	p := &prepared{q: q, labels: [][]string{nil}}
	for gi, g := range q.By {
		i, err := usableColumn(f, g.Column, "group by")
		if err != nil {
			return nil, err
		}
		gr := grouper{vec: f.Vecs[i]}
		if len(g.Edges) > 0 {
			if t := f.Columns[i].Type; t != dataset.TypeInteger && t != dataset.TypeFloat {
				return nil, errs.Invalidf("column %q is of type %s: bins need an integer or float column (declare --categories instead)", g.Column, t)
			}
			for _, e := range g.Edges {
				gr.edges = append(gr.edges, e.Float64())
			}
		} else {
			gr.cats = make(map[string]int, len(g.Categories))
			for k, c := range g.Categories {
				gr.cats[c] = k
			}
		}
		groupers[gi] = gr
		var next [][]string
		for _, prefix := range p.labels {
			for _, l := range g.Labels() {
				next = append(next, append(slices.Clip(prefix), l))
			}
		}
		p.labels = next
	}
	cellOf := func(r int) int {
		cell := 0
		for gi, gr := range groupers {
			if gr.vec.IsNull(r) {
				return -1
			}
			var k int
			if gr.cats != nil {
				var ok bool
				if k, ok = gr.cats[gr.vec.String(r)]; !ok {
					return -1 // undeclared: in no cell, never revealed
				}
			} else {
				x, ok := gr.vec.Float(r)
				if !ok || x < gr.edges[0] || x > gr.edges[len(gr.edges)-1] {
					return -1
				}
				// The bin [e_k, e_{k+1}) holding x; the last bin is closed.
				k = sort.Search(len(gr.edges), func(j int) bool { return gr.edges[j] > x }) - 1
				if k == len(gr.edges)-1 {
					k--
				}
			}
			cell = cell*len(q.By[gi].Labels()) + k
		}
		return cell
	}

	rows := boundContributions(f, pc, q.MaxRowsPerPatient)
	ncells := len(p.labels)
	p.counts = make([]int64, ncells)
	lo, hi := q.Lo.Float64(), q.Hi.Float64()
	var g float64
	if q.Kind == KindSum || q.Kind == KindMean {
		p.sums = make([]int64, ncells)
		p.gridExp, p.bound, err = sumGrid(q)
		if err != nil {
			return nil, err
		}
		g = math.Ldexp(1, p.gridExp)
	}
	for _, r := range rows {
		cell := cellOf(r)
		if cell < 0 {
			continue
		}
		if measured == nil {
			p.counts[cell]++
			continue
		}
		x, ok := measured.Float(r)
		if !ok {
			continue // a missing value: the row is left out
		}
		x = min(max(x, lo), hi)
		switch q.Kind {
		case KindQuantile:
			p.values = append(p.values, x)
		default:
			k := int64(math.Round(x / g)) // |k| ≤ bound
			s := p.sums[cell] + k
			if (k > 0 && s < p.sums[cell]) || (k < 0 && s > p.sums[cell]) {
				return nil, errs.E(errs.Internal, "sum overflows the 64-bit grid")
			}
			p.sums[cell] = s
			p.counts[cell]++
		}
	}
	slices.Sort(p.values)
	return p, nil
}

// parts is how many mechanisms the query's budget is split between.
func (q Query) parts() int64 {
	switch q.Kind {
	case KindMean:
		return 2
	case KindQuantile:
		return int64(len(q.Quantiles))
	}
	return 1
}

// epsilonShare returns ε / parts.
func (q Query) epsilonShare() *big.Rat {
	return new(big.Rat).Quo(q.Epsilon.rat(), big.NewRat(q.parts(), 1))
}

// rho returns the zCDP parameter ρ of the whole query for a Gaussian: the
// largest ρ whose conversion ε = ρ + 2√(ρ·ln(1/δ)) (Bun and Steinke 2016,
// Proposition 1.3) stays within the declared (ε, δ). Computed in floating
// point, then lowered by one part in 10⁹ so that rounding can only make the
// noise larger. (Only calibration uses floating point: the noise itself is
// sampled exactly.)
func (q Query) rho() float64 {
	eps, delta := q.Epsilon.Float64(), q.Delta.Float64()
	l := math.Log(1 / delta)
	r := math.Sqrt(l+eps) - math.Sqrt(l)
	return r * r * (1 - 1e-9)
}

// noiseScale returns, in real units, the scale of the noise of one sum
// (sensitivity m·M): b = m·M/ε_share for Laplace, σ = m·M/√(2ρ_share) for
// Gaussian. It sets the grid, from declared parameters only.
func (q Query) noiseScale() float64 {
	m := float64(q.MaxRowsPerPatient) * max(math.Abs(q.Lo.Float64()), math.Abs(q.Hi.Float64()))
	if q.Noise == Gaussian {
		return m / math.Sqrt(2*q.rho()/float64(q.parts()))
	}
	eps, _ := q.epsilonShare().Float64()
	return m / eps
}

// sumGrid chooses the power-of-two grid of a sum or mean from the declared
// bounds, ε (and δ) — never from the data: g = 2^e with e = ⌊log₂ b⌋ − 24,
// for b the noise scale in real units. It returns e and ⌈M/g⌉.
func sumGrid(q Query) (int, int64, error) {
	b := q.noiseScale()
	if b <= 0 || math.IsInf(b, 0) || math.IsNaN(b) {
		return 0, 0, errs.Invalidf("bounds and ε give no usable noise scale")
	}
	_, e := math.Frexp(b) // b = f·2^e, f ∈ [0.5, 1): ⌊log₂ b⌋ = e − 1
	e = e - 1 - gridBits
	m := max(math.Abs(q.Lo.Float64()), math.Abs(q.Hi.Float64()))
	c := math.Ceil(m / math.Ldexp(1, e))
	if c < 1 || c > 1<<40 {
		return 0, 0, errs.Invalidf("bounds and ε give a grid of %g steps: out of range", c)
	}
	return e, int64(c), nil
}

// laplaceScale returns sensitivity·parts/ε, the discrete Laplace scale (in
// grid units) of one of the query's mechanisms.
func (q Query) laplaceScale(sensitivity int64) *big.Rat {
	return new(big.Rat).Quo(big.NewRat(sensitivity, 1), q.epsilonShare())
}

// gaussianSigma2 returns σ² = Δ²/(2ρ_share) (in grid units), rounded up to a
// multiple of 2⁻¹⁰: the discrete Gaussian with this σ² on a query of ℓ2
// sensitivity Δ is ρ_share-zCDP (Canonne, Kamath and Steinke, Theorem 14),
// and the parts compose to ρ.
func (q Query) gaussianSigma2(sensitivity int64) (*big.Rat, error) {
	rho := q.rho() / float64(q.parts())
	s2 := float64(sensitivity) * float64(sensitivity) / (2 * rho)
	scaled := s2 * 1024 * (1 + 1e-9)
	if math.IsInf(scaled, 0) || math.IsNaN(scaled) || scaled > 1e36 {
		return nil, errs.Invalidf("ε and δ give a Gaussian noise too large to sample")
	}
	n, _ := new(big.Float).SetFloat64(math.Ceil(scaled)).Int(nil)
	return new(big.Rat).SetFrac(n, big.NewInt(1024)), nil
}

// noiser adds the query's noise, of the given sensitivity, to integers.
type noiser struct {
	sample func() (int64, error)
	stddev float64 // in the integer units
}

func (q Query) noiser(s *noise.Sampler, sensitivity int64) (noiser, error) {
	if q.Noise == Gaussian {
		s2, err := q.gaussianSigma2(sensitivity)
		if err != nil {
			return noiser{}, err
		}
		f, _ := s2.Float64()
		return noiser{func() (int64, error) { return s.DiscreteGaussian(s2) }, math.Sqrt(f)}, nil
	}
	b := q.laplaceScale(sensitivity)
	bf, _ := b.Float64()
	// Var = 2e^{−1/b}/(1 − e^{−1/b})² for the discrete Laplace of scale b.
	e := math.Exp(-1 / bf)
	return noiser{func() (int64, error) { return s.DiscreteLaplace(b) }, math.Sqrt(2*e) / -math.Expm1(-1/bf)}, nil
}

// release adds noise to p and post-processes it (clamping to the output
// domain). It consumes the query's whole budget.
func (p *prepared) release(s *noise.Sampler) (Result, error) {
	q := p.q
	res := Result{Kind: q.Kind, Column: q.Column, Epsilon: q.Epsilon, Delta: q.Delta, MaxRowsPerPatient: q.MaxRowsPerPatient, Mechanism: MechDiscreteLaplace}
	if q.Noise == Gaussian {
		res.Mechanism = MechDiscreteGaussian
	}
	for _, g := range q.By {
		res.By = append(res.By, g.Column)
	}
	m := int64(q.MaxRowsPerPatient)
	lo, hi := q.Lo.Float64(), q.Hi.Float64()
	switch q.Kind {
	case KindQuantile:
		return p.releaseQuantiles(s, res)
	case KindCount, KindHistogram:
		// Adding or removing a patient changes the counts by at most m in
		// total (ℓ1) and so by at most m in ℓ2.
		nz, err := q.noiser(s, m)
		if err != nil {
			return Result{}, err
		}
		res.NoiseStdDev = nz.stddev
		for c, n := range p.counts {
			z, err := nz.sample()
			if err != nil {
				return Result{}, err
			}
			res.Cells = append(res.Cells, Cell{Group: p.labels[c], Value: float64(max(n+z, 0))})
		}
	case KindSum, KindMean:
		g := math.Ldexp(1, p.gridExp)
		res.Granularity = g
		// A patient's m rows move the sums by at most m·⌈M/g⌉ grid steps.
		sumNoise, err := q.noiser(s, m*p.bound)
		if err != nil {
			return Result{}, err
		}
		var countNoise noiser
		if q.Kind == KindMean {
			if countNoise, err = q.noiser(s, m); err != nil {
				return Result{}, err
			}
		} else {
			res.NoiseStdDev = sumNoise.stddev * g
		}
		for c := range p.sums {
			z, err := sumNoise.sample()
			if err != nil {
				return Result{}, err
			}
			sum := float64(p.sums[c]+z) * g // a multiple of g: snapped to the grid
			if q.Kind == KindSum {
				// The output domain: a sum of values ≥ 0 is ≥ 0, and of
				// values ≤ 0 is ≤ 0.
				if lo >= 0 {
					sum = max(sum, 0)
				}
				if hi <= 0 {
					sum = min(sum, 0)
				}
				res.Cells = append(res.Cells, Cell{Group: p.labels[c], Value: sum})
				continue
			}
			zc, err := countNoise.sample()
			if err != nil {
				return Result{}, err
			}
			n := float64(max(p.counts[c]+zc, 1))
			res.Cells = append(res.Cells, Cell{Group: p.labels[c], Value: min(max(sum/n, lo), hi)})
		}
	}
	return res, nil
}

// releaseQuantiles answers each quantile with the exponential mechanism over
// the declared grid c_i = lo + i·(hi − lo)/N, i = 0…N, with utility
// u_i = −|#{v ≤ c_i} − q·n|. A patient's m rows change u by at most m, so
// drawing i with probability ∝ exp(ε_share·u_i/(2m)) is ε_share-DP (McSherry
// and Talwar 2007). The draw is exact: pick i uniformly and accept it with
// probability exp(−ε_share·(u* − u_i)/(2m)), u* = max u — a Bernoulli(exp(−γ))
// with rational γ — until one is accepted; the accepted i has exactly the
// exponential mechanism's distribution, in at most N+1 expected tries.
func (p *prepared) releaseQuantiles(s *noise.Sampler, res Result) (Result, error) {
	q := p.q
	res.Mechanism = MechExponential
	n := len(p.values)
	N := q.GridSize
	lo, hi := q.Lo.rat(), q.Hi.rat()
	step := new(big.Rat).Quo(new(big.Rat).Sub(hi, lo), big.NewRat(int64(N), 1))
	cands := make([]float64, N+1)
	for i := range cands {
		c := new(big.Rat).Mul(step, big.NewRat(int64(i), 1))
		cands[i], _ = c.Add(c, lo).Float64()
	}
	epsShare := q.epsilonShare()
	for _, qq := range q.Quantiles {
		// a_i = |L_i·den − num·n| = den·|u_i| for q = num/den.
		num, den := qq.rat().Num(), qq.rat().Denom()
		target := new(big.Int).Mul(num, big.NewInt(int64(n)))
		a := make([]*big.Int, N+1)
		var best *big.Int
		for i, c := range cands {
			l := sort.Search(n, func(j int) bool { return p.values[j] > c }) // #{v ≤ c}
			ai := new(big.Int).Mul(big.NewInt(int64(l)), den)
			ai.Sub(ai, target).Abs(ai)
			a[i] = ai
			if best == nil || ai.Cmp(best) < 0 {
				best = ai
			}
		}
		// γ_i = ε_share·(a_i − a*)/(2·m·den).
		scale := new(big.Rat).Quo(epsShare, new(big.Rat).SetInt(new(big.Int).Mul(big.NewInt(2*int64(q.MaxRowsPerPatient)), den)))
		gamma := new(big.Rat)
		for {
			i := int(s.Uniform(uint64(N + 1)))
			gamma.SetInt(new(big.Int).Sub(a[i], best))
			gamma.Mul(gamma, scale)
			ok, err := s.BernoulliExp(gamma)
			if err != nil {
				return Result{}, err
			}
			if ok {
				res.Cells = append(res.Cells, Cell{Quantile: qq.String(), Value: cands[i]})
				break
			}
		}
	}
	return res, nil
}
