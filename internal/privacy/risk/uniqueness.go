package risk

import (
	"math"
	"sort"
)

// Estimate is an estimate of population uniqueness: shares of the
// population that are unique on the quasi-identifiers.
type Estimate struct {
	Pitman float64 // -1 when the model does not converge
	Zayatz float64
	Dankar float64
	Model  string // the model Dankar's rule chose: pitman, zayatz or none (no sample uniques)
}

// EstimatePopulationUniques estimates population uniqueness from the class
// size histogram (size → number of classes) of a sample of n records drawn
// with sampling fraction pf.
//
// Dankar et al.'s rule (2012), as ARX applies it: for pf <= 0.1 use Pitman's
// model when it converges and Zayatz's otherwise; above 0.1 the rule takes
// the smaller of Zayatz's and the SNB model's estimates — SNB is not
// implemented here, so Zayatz's estimate is used (it is the one the rule
// picks whenever SNB fails or exceeds it).
func EstimatePopulationUniques(hist map[int]int, n int, pf float64) Estimate {
	if hist[1] == 0 {
		return Estimate{Model: "none"}
	}
	N := math.Round(float64(n) / pf)
	e := Estimate{Pitman: -1}
	if p, ok := pitman(hist, n, N); ok {
		e.Pitman = p / N
	}
	e.Zayatz = zayatz(hist, n, N, pf) / N
	if pf <= 0.1 && e.Pitman > 0 {
		e.Dankar, e.Model = e.Pitman, "pitman"
	} else {
		e.Dankar, e.Model = e.Zayatz, "zayatz"
	}
	return e
}

// zayatz returns Zayatz's (1991) estimate of the number of population
// uniques: the sample uniques times the probability that a sample unique
// is a population unique, under hypergeometric sampling with the sample's
// class size distribution standing for the population's, divided by pf.
func zayatz(hist map[int]int, n int, N, pf float64) float64 {
	classes := 0
	for _, c := range hist {
		classes += c
	}
	u := float64(classes)
	num, den := 0.0, 0.0
	for size, c := range hist {
		p := hyper1(N, float64(size), float64(n)) * float64(c) / u
		den += p
		if size == 1 {
			num = p
		}
	}
	if den == 0 {
		return 0
	}
	return float64(hist[1]) * (num / den) / pf
}

// hyper1 is P(X = 1) for X hypergeometric: population N with K successes,
// n draws.
func hyper1(N, K, n float64) float64 {
	if K < 1 || n < 1 || K > N || n > N || N-K < n-1 {
		return 0
	}
	return math.Exp(math.Log(K) + lchoose(N-K, n-1) - lchoose(N, n))
}

func lchoose(a, b float64) float64 {
	x, _ := math.Lgamma(a + 1)
	y, _ := math.Lgamma(b + 1)
	z, _ := math.Lgamma(a - b + 1)
	return x - y - z
}

// pitman fits Pitman's sampling formula (Hoshino 2001) to the class sizes by
// maximum likelihood (Newton-Raphson on θ and α) and returns the expected
// number of population uniques, Γ(θ+1)/Γ(θ+α) N^α.
func pitman(hist map[int]int, n int, N float64) (float64, bool) {
	sizes := make([]int, 0, len(hist))
	u := 0.0
	for s, c := range hist {
		sizes = append(sizes, s)
		u += float64(c)
	}
	sort.Ints(sizes)
	c1 := float64(hist[1])
	c2 := float64(hist[2])
	if c2 == 0 {
		c2 = 1
	}
	nn := float64(n)
	c := c1 * (c1 - 1) / c2
	t := (nn*u*c - c1*(nn-1)*(2*u+c)) / (2*c1*u + c1*c - nn*c)
	a := (t*(c1-nn) + (nn-1)*c1) / (nn * u)
	// eval returns the likelihood equations and their Jacobian at (t, a).
	eval := func(t, a float64) (f1, f2, j11, j12, j21, j22 float64) {
		var o1, o2, o3, o4, d1, d2, d3, d4, d5 float64
		for i := 1; float64(i) < u; i++ {
			fi := float64(i)
			x := t + fi*a
			o1 += 1 / x
			o3 += fi / x
			d1 += 1 / (x * x)
			d5 += fi / (x * x)
			d3 += fi * fi / (x * x)
		}
		for i := 1; i < n; i++ {
			x := t + float64(i)
			o2 += 1 / x
			d2 += 1 / (x * x)
		}
		for _, s := range sizes {
			cnt := float64(hist[s])
			for m := 1; m < s; m++ {
				x := float64(m) - a
				o4 += cnt / x
				d4 += cnt / (x * x)
			}
		}
		return o1 - o2, o3 - o4, d2 - d1, -d5, -d5, -d3 - d4
	}
	feasible := func(t, a float64) bool { return a > 0 && a < 1 && t > -a }
	if !feasible(t, a) {
		t, a = math.Max(t, 1), 0.5
	}
	f1, f2, j11, j12, j21, j22 := eval(t, a)
	for iter := 0; iter < 500; iter++ {
		det := j11*j22 - j12*j21
		if det == 0 || math.IsNaN(det) {
			return 0, false
		}
		dt := (f1*j22 - f2*j12) / det
		da := (j11*f2 - j21*f1) / det
		// Damped step: stay where the model is defined (θ > -α, 0 < α < 1)
		// and make the equations' residual smaller.
		res := math.Hypot(f1, f2)
		step, moved := 1.0, false
		for ; step > 1e-12; step /= 2 {
			tn, an := t-step*dt, a-step*da
			if !feasible(tn, an) {
				continue
			}
			g1, g2, k11, k12, k21, k22 := eval(tn, an)
			if r := math.Hypot(g1, g2); r < res || math.IsNaN(res) {
				t, a = tn, an
				f1, f2, j11, j12, j21, j22 = g1, g2, k11, k12, k21, k22
				moved = true
				break
			}
		}
		if !moved || math.Hypot(f1, f2) < 1e-10 {
			break
		}
	}
	if math.Hypot(f1, f2) > 1e-6 {
		return 0, false
	}
	if a <= 0 || a >= 1 || t <= -a {
		return 0, false
	}
	lg1, _ := math.Lgamma(t + 1)
	lg2, _ := math.Lgamma(t + a)
	v := math.Exp(lg1-lg2) * math.Pow(N, a)
	if math.IsNaN(v) || v < 0 || v > N {
		return 0, false
	}
	return v, true
}
