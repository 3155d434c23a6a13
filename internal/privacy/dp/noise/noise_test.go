package noise

import (
	"math"
	"math/big"
	"math/rand/v2"
	"sort"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// seeded returns a sampler on a fixed ChaCha8 stream, so every test run
// draws the same samples and a goodness-of-fit test gives the same p-value.
func seeded(seed byte) *Sampler {
	var s [32]byte
	s[0] = seed
	return New(rand.NewChaCha8(s))
}

// draws is the number of samples of each goodness-of-fit test.
const draws = 200_000

// minPValue is the threshold the exact samplers must pass. With a fixed seed
// the test is deterministic; a correct sampler on a fresh seed would fail
// one time in a thousand.
const minPValue = 0.001

// chiSquare tests counts (value → number of draws out of n) against pmf, an
// exact probability mass function on the integers, unimodal around mode.
// Values are pooled so that every cell expects at least 5 draws: the
// central run of values expecting ≥ 5 each, plus one cell for each tail.
// It returns the statistic, the degrees of freedom and the p-value.
func chiSquare(t *testing.T, counts map[int64]int, n int, pmf func(int64) float64, mode int64) (float64, int, float64) {
	t.Helper()
	const minExpected = 5.0
	lo, hi := mode, mode
	for float64(n)*pmf(lo-1) >= minExpected {
		lo--
	}
	for float64(n)*pmf(hi+1) >= minExpected {
		hi++
	}
	type cell struct{ obs, exp float64 }
	var cells []cell
	var central float64
	for x := lo; x <= hi; x++ {
		p := pmf(x)
		central += p
		cells = append(cells, cell{float64(counts[x]), float64(n) * p})
	}
	// Tails: the remaining mass, split by summing the pmf outwards until
	// the terms vanish.
	var left, right float64
	for x := lo - 1; ; x-- {
		p := pmf(x)
		left += p
		if p < 1e-300 || lo-x > 1e7 {
			break
		}
	}
	for x := hi + 1; ; x++ {
		p := pmf(x)
		right += p
		if p < 1e-300 || x-hi > 1e7 {
			break
		}
	}
	var obsLeft, obsRight float64
	for x, c := range counts {
		if x < lo {
			obsLeft += float64(c)
		} else if x > hi {
			obsRight += float64(c)
		}
	}
	addTail := func(obs, exp float64, first bool) {
		if exp*float64(n) >= minExpected {
			c := cell{obs, exp * float64(n)}
			if first {
				cells = append([]cell{c}, cells...)
			} else {
				cells = append(cells, c)
			}
			return
		}
		// Too small to stand alone: pool with the neighbouring cell.
		i := len(cells) - 1
		if first {
			i = 0
		}
		cells[i].obs += obs
		cells[i].exp += exp * float64(n)
	}
	addTail(obsLeft, left, true)
	addTail(obsRight, right, false)
	if math.Abs(central+left+right-1) > 1e-9 {
		t.Fatalf("pmf sums to %v, not 1", central+left+right)
	}
	var stat float64
	for _, c := range cells {
		d := c.obs - c.exp
		stat += d * d / c.exp
	}
	df := len(cells) - 1
	if df < 1 {
		t.Fatalf("only %d cell(s): nothing to test", len(cells))
	}
	return stat, df, distuv.ChiSquared{K: float64(df)}.Survival(stat)
}

func collect(n int, draw func() int64) map[int64]int {
	m := map[int64]int{}
	for range n {
		m[draw()]++
	}
	return m
}

// discreteLaplacePMF is P[Z = z] = tanh(1/(2b)) e^{−|z|/b}.
func discreteLaplacePMF(b float64) func(int64) float64 {
	c := math.Tanh(1 / (2 * b))
	return func(z int64) float64 { return c * math.Exp(-math.Abs(float64(z))/b) }
}

// geometricPMF is P[Y = y] = (1 − e^{−1/b}) e^{−y/b} on y ≥ 0.
func geometricPMF(b float64) func(int64) float64 {
	c := -math.Expm1(-1 / b)
	return func(y int64) float64 {
		if y < 0 {
			return 0
		}
		return c * math.Exp(-float64(y)/b)
	}
}

// discreteGaussianPMF is exp(−z²/(2σ²)) normalised over the integers.
func discreteGaussianPMF(sigma2 float64) func(int64) float64 {
	var norm float64
	r := int64(60*math.Sqrt(sigma2)) + 60
	for y := -r; y <= r; y++ {
		norm += math.Exp(-float64(y*y) / (2 * sigma2))
	}
	return func(z int64) float64 { return math.Exp(-float64(z*z)/(2*sigma2)) / norm }
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

func ratFloat(r *big.Rat) float64 { f, _ := r.Float64(); return f }

func TestBernoulliExpGoodnessOfFit(t *testing.T) {
	for i, g := range []string{"1/10", "1/2", "1", "3/2", "2", "5", "7/3",
		// Large numerators and denominators exercise the big-integer paths.
		"1180591620717411303425/2361183241434822606848", "36893488147419103233/18446744073709551616"} {
		t.Run(g, func(t *testing.T) {
			s := seeded(byte(10 + i))
			gamma := rat(g)
			ones := 0
			for range draws {
				ok, err := s.BernoulliExp(gamma)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					ones++
				}
			}
			p1 := math.Exp(-ratFloat(gamma))
			counts := map[int64]int{0: draws - ones, 1: ones}
			pmf := func(x int64) float64 {
				switch x {
				case 0:
					return 1 - p1
				case 1:
					return p1
				}
				return 0
			}
			stat, df, p := chiSquare(t, counts, draws, pmf, 0)
			t.Logf("Bernoulli(exp(-%s)): %d/%d ones, expected %.1f; chi2 = %.3f, df = %d, p = %.4f", g, ones, draws, p1*draws, stat, df, p)
			if p < minPValue {
				t.Errorf("p-value %.2g < %g", p, minPValue)
			}
		})
	}
}

func TestBernoulliExpEdges(t *testing.T) {
	s := seeded(1)
	for range 1000 {
		if ok, _ := s.BernoulliExp(new(big.Rat)); !ok {
			t.Fatal("Bernoulli(exp(0)) returned false")
		}
		if ok, _ := s.Bernoulli(new(big.Rat)); ok {
			t.Fatal("Bernoulli(0) returned true")
		}
		if ok, _ := s.Bernoulli(big.NewRat(1, 1)); !ok {
			t.Fatal("Bernoulli(1) returned false")
		}
	}
	// exp(−1000) is far below 2⁻¹⁰⁰⁰: never seen.
	for range 10000 {
		if ok, _ := s.BernoulliExp(big.NewRat(1000, 1)); ok {
			t.Fatal("Bernoulli(exp(-1000)) returned true")
		}
	}
	if _, err := s.BernoulliExp(big.NewRat(-1, 2)); err == nil {
		t.Error("negative γ accepted")
	}
	if _, err := s.Bernoulli(big.NewRat(3, 2)); err == nil {
		t.Error("p > 1 accepted")
	}
}

func TestUniformGoodnessOfFit(t *testing.T) {
	s := seeded(2)
	const n = 7
	counts := collect(draws, func() int64 { return int64(s.Uniform(n)) })
	stat, df, p := chiSquare(t, counts, draws, func(x int64) float64 {
		if x >= 0 && x < n {
			return 1.0 / n
		}
		return 0
	}, 3)
	t.Logf("Uniform(7): chi2 = %.3f, df = %d, p = %.4f", stat, df, p)
	if p < minPValue {
		t.Errorf("p-value %.2g", p)
	}
	// Beyond 64 bits: x uniform in [0, 3·2⁶⁴) has x >> 64 uniform in {0, 1, 2}.
	big3 := new(big.Int).Lsh(big.NewInt(3), 64)
	counts = collect(30000, func() int64 { x := s.uniformBig(big3); return x.Rsh(x, 64).Int64() })
	stat, df, p = chiSquare(t, counts, 30000, func(x int64) float64 {
		if x >= 0 && x < 3 {
			return 1.0 / 3
		}
		return 0
	}, 1)
	t.Logf("Uniform(3·2^64) >> 64: chi2 = %.3f, df = %d, p = %.4f", stat, df, p)
	if p < minPValue {
		t.Errorf("p-value %.2g", p)
	}
}

func TestGeometricGoodnessOfFit(t *testing.T) {
	for i, b := range []string{"1", "5/2", "10"} {
		t.Run(b, func(t *testing.T) {
			s := seeded(byte(30 + i))
			scale := rat(b)
			counts := collect(draws, func() int64 {
				y, err := s.Geometric(scale)
				if err != nil {
					t.Fatal(err)
				}
				return int64(y)
			})
			stat, df, p := chiSquare(t, counts, draws, geometricPMF(ratFloat(scale)), 0)
			t.Logf("Geometric(scale %s): chi2 = %.2f, df = %d, p = %.4f", b, stat, df, p)
			if p < minPValue {
				t.Errorf("p-value %.2g < %g", p, minPValue)
			}
		})
	}
}

func TestDiscreteLaplaceGoodnessOfFit(t *testing.T) {
	for i, b := range []string{"1", "3/2", "10", "1/3"} {
		t.Run(b, func(t *testing.T) {
			s := seeded(byte(40 + i))
			scale := rat(b)
			counts := collect(draws, func() int64 {
				z, err := s.DiscreteLaplace(scale)
				if err != nil {
					t.Fatal(err)
				}
				return z
			})
			stat, df, p := chiSquare(t, counts, draws, discreteLaplacePMF(ratFloat(scale)), 0)
			t.Logf("discrete Laplace(scale %s): chi2 = %.2f, df = %d, p = %.4f", b, stat, df, p)
			if p < minPValue {
				t.Errorf("p-value %.2g < %g", p, minPValue)
			}
		})
	}
}

func TestDiscreteGaussianGoodnessOfFit(t *testing.T) {
	for i, v := range []string{"1", "2/3", "9/2", "100"} {
		t.Run(v, func(t *testing.T) {
			s := seeded(byte(50 + i))
			sigma2 := rat(v)
			counts := collect(draws, func() int64 {
				z, err := s.DiscreteGaussian(sigma2)
				if err != nil {
					t.Fatal(err)
				}
				return z
			})
			stat, df, p := chiSquare(t, counts, draws, discreteGaussianPMF(ratFloat(sigma2)), 0)
			t.Logf("discrete Gaussian(sigma2 %s): chi2 = %.2f, df = %d, p = %.4f", v, stat, df, p)
			if p < minPValue {
				t.Errorf("p-value %.2g < %g", p, minPValue)
			}
		})
	}
}

// TestGoodnessOfFitRejectsWrongPMFs shows the tests above can fail: the same
// samples against a slightly wrong distribution, and a deliberately broken
// sampler, are rejected with overwhelming confidence.
func TestGoodnessOfFitRejectsWrongPMFs(t *testing.T) {
	s := seeded(60)
	lap := collect(draws, func() int64 { z, _ := s.DiscreteLaplace(rat("3/2")); return z })
	if stat, df, p := chiSquare(t, lap, draws, discreteLaplacePMF(1.6), 0); p > 1e-6 {
		t.Errorf("discrete Laplace(3/2) passed as scale 1.6: chi2 = %.1f, df = %d, p = %.3g", stat, df, p)
	} else {
		t.Logf("discrete Laplace(3/2) vs scale 1.6: chi2 = %.1f, df = %d, p = %.3g (rejected)", stat, df, p)
	}
	gauss := collect(draws, func() int64 { z, _ := s.DiscreteGaussian(rat("4")); return z })
	if stat, df, p := chiSquare(t, gauss, draws, discreteGaussianPMF(4.4), 0); p > 1e-6 {
		t.Errorf("discrete Gaussian(4) passed as sigma2 4.4: chi2 = %.1f, df = %d, p = %.3g", stat, df, p)
	} else {
		t.Logf("discrete Gaussian(4) vs sigma2 4.4: chi2 = %.1f, df = %d, p = %.3g (rejected)", stat, df, p)
	}
	// A sampler that skips Algorithm 3's rejection step returns discrete
	// Laplace(t = 3) samples, not discrete Gaussian(σ² = 4) ones.
	broken := collect(draws, func() int64 { z, _ := s.DiscreteLaplace(rat("3")); return z })
	if stat, df, p := chiSquare(t, broken, draws, discreteGaussianPMF(4), 0); p > 1e-6 {
		t.Errorf("broken Gaussian sampler passed: chi2 = %.1f, df = %d, p = %.3g", stat, df, p)
	} else {
		t.Logf("Gaussian without rejection step vs discrete Gaussian(4): chi2 = %.1f, df = %d, p = %.3g (rejected)", stat, df, p)
	}
	// A Bernoulli(exp(−γ)) that returned "K even" instead of "K odd" draws
	// with probability 1 − exp(−γ).
	ones := 0
	for range draws {
		if ok, _ := s.BernoulliExp(rat("1/2")); !ok {
			ones++
		}
	}
	p1 := math.Exp(-0.5)
	pmf := func(x int64) float64 { return map[int64]float64{0: 1 - p1, 1: p1}[x] }
	if stat, _, p := chiSquare(t, map[int64]int{0: draws - ones, 1: ones}, draws, pmf, 0); p > 1e-6 {
		t.Errorf("inverted Bernoulli passed: chi2 = %.1f, p = %.3g", stat, p)
	}
}

func TestSeededSourcesAreReproducible(t *testing.T) {
	a, b, c := seeded(7), seeded(7), seeded(8)
	var sa, sb, sc []int64
	for range 100 {
		x, _ := a.DiscreteGaussian(rat("25/2"))
		y, _ := b.DiscreteGaussian(rat("25/2"))
		z, _ := c.DiscreteGaussian(rat("25/2"))
		sa, sb, sc = append(sa, x), append(sb, y), append(sc, z)
	}
	for i := range sa {
		if sa[i] != sb[i] {
			t.Fatal("same seed, different samples")
		}
	}
	same := 0
	for i := range sa {
		if sa[i] == sc[i] {
			same++
		}
	}
	if same == len(sa) {
		t.Fatal("different seeds, same samples")
	}
}

func TestCryptoSource(t *testing.T) {
	s := New(Crypto())
	seen := map[uint64]bool{}
	for range 1000 {
		seen[s.src.Uint64()] = true
	}
	if len(seen) < 1000 {
		t.Fatalf("crypto source repeated 64-bit words: %d distinct of 1000", len(seen))
	}
	counts := collect(draws/4, func() int64 { z, _ := s.DiscreteLaplace(rat("2")); return z })
	if _, _, p := chiSquare(t, counts, draws/4, discreteLaplacePMF(2), 0); p < 1e-6 {
		t.Errorf("crypto-sourced discrete Laplace: p = %.3g", p)
	}
}

func TestInvalidParameters(t *testing.T) {
	s := seeded(3)
	for _, f := range []func() error{
		func() error { _, err := s.DiscreteLaplace(new(big.Rat)); return err },
		func() error { _, err := s.DiscreteLaplace(rat("-1")); return err },
		func() error { _, err := s.Geometric(rat("0")); return err },
		func() error { _, err := s.DiscreteGaussian(rat("0")); return err },
		func() error {
			_, err := s.DiscreteLaplace(new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), 70)))
			return err
		},
	} {
		if f() == nil {
			t.Error("invalid parameter accepted")
		}
	}
}

// TestLargeScales draws with the scales hygie's real-valued releases use
// (noise of about 2²⁴ grid units) and checks the sample spread.
func TestLargeScales(t *testing.T) {
	s := seeded(4)
	b := new(big.Rat).SetFrac(big.NewInt(3<<24), big.NewInt(7))
	var xs []float64
	for range 2000 {
		z, err := s.DiscreteLaplace(b)
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, math.Abs(float64(z)))
	}
	sort.Float64s(xs)
	// The median of |Z| for a Laplace of scale b is b·ln 2.
	med, want := xs[len(xs)/2], ratFloat(b)*math.Ln2
	if math.Abs(med-want)/want > 0.1 {
		t.Errorf("median |Z| = %.0f, want about %.0f", med, want)
	}
	sigma2 := new(big.Rat).SetFrac(new(big.Int).Lsh(big.NewInt(1), 70), big.NewInt(1024))
	for range 200 {
		if _, err := s.DiscreteGaussian(sigma2); err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkDiscreteLaplace(b *testing.B) {
	s := seeded(5)
	scale := rat("10")
	for b.Loop() {
		s.DiscreteLaplace(scale)
	}
}

func BenchmarkDiscreteGaussian(b *testing.B) {
	s := seeded(6)
	sigma2 := rat("100")
	for b.Loop() {
		s.DiscreteGaussian(sigma2)
	}
}
