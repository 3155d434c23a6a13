// Package noise samples, exactly, the discrete distributions that
// differential privacy adds to released statistics: Bernoulli(p) and
// Bernoulli(exp(−γ)) for rational p and γ, the geometric distribution, the
// discrete Laplace distribution with a rational scale and the discrete
// Gaussian distribution with a rational variance parameter σ².
//
// The algorithms are those of Canonne, Kamath and Steinke, "The Discrete
// Gaussian for Differential Privacy" (NeurIPS 2020, arXiv:2004.00010):
// Algorithm 1 (Bernoulli(exp(−γ))), Algorithm 2 (discrete Laplace, whose
// first half is the geometric sampler) and Algorithm 3 (discrete Gaussian by
// rejection from a discrete Laplace). Every step works on integers and
// rationals (math/big, with uint64 fast paths that check for overflow) drawn
// from uniformly random bits: there is no floating-point arithmetic, so none
// of the attacks on floating-point noise (Mironov 2012: the low-order bits of
// a textbook float Laplace sample reveal the value it was added to) apply,
// and the output distribution is exactly the stated one.
//
// Randomness comes from a Source: Crypto() (crypto/rand) in production, any
// seeded math/rand/v2 source in tests. A Sampler is not safe for concurrent
// use; make one per release.
package noise

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
)

// Source supplies uniformly random 64-bit words. It is math/rand/v2's Source
// interface, so *rand.ChaCha8 and *rand.PCG serve as seeded sources in tests.
type Source interface {
	Uint64() uint64
}

// cryptoSource reads the operating system's cryptographic random generator
// through a small buffer.
type cryptoSource struct {
	buf [512]byte
	n   int // bytes of buf still unused, at its end
}

// Crypto returns a Source backed by crypto/rand, for production releases.
// It is not safe for concurrent use: make one per Sampler.
func Crypto() Source { return &cryptoSource{} }

func (c *cryptoSource) Uint64() uint64 {
	if c.n < 8 {
		// crypto/rand.Read never returns an error (the program crashes
		// irrecoverably if the system's generator fails).
		_, _ = rand.Read(c.buf[:])
		c.n = len(c.buf)
	}
	v := binary.LittleEndian.Uint64(c.buf[len(c.buf)-c.n:])
	c.n -= 8
	return v
}

// ErrOverflow reports a sample or parameter outside the range this package
// handles in 64-bit integers. With the parameters hygie uses it has
// probability far below 2⁻⁶⁰ for a sample.
var ErrOverflow = errors.New("noise: value out of the 64-bit range")

// Sampler draws exact samples from a Source.
type Sampler struct {
	src Source
}

// New returns a sampler drawing from src.
func New(src Source) *Sampler { return &Sampler{src: src} }

// Uniform returns an integer uniformly distributed in [0, n); n must be > 0.
// It uses Lemire's multiply-and-reject method, which is exactly uniform.
func (s *Sampler) Uniform(n uint64) uint64 {
	if n == 0 {
		panic("noise: Uniform(0)")
	}
	if n&(n-1) == 0 {
		return s.src.Uint64() & (n - 1)
	}
	hi, lo := bits.Mul64(s.src.Uint64(), n)
	if lo < n {
		threshold := -n % n // 2⁶⁴ mod n
		for lo < threshold {
			hi, lo = bits.Mul64(s.src.Uint64(), n)
		}
	}
	return hi
}

// uniformBig returns an integer uniformly distributed in [0, n); n > 0. It
// draws n's bit length in random bits and rejects values ≥ n (each try
// succeeds with probability > 1/2).
func (s *Sampler) uniformBig(n *big.Int) *big.Int {
	if n.IsUint64() {
		return new(big.Int).SetUint64(s.Uniform(n.Uint64()))
	}
	nbits := n.BitLen()
	nbytes := (nbits + 7) / 8
	buf := make([]byte, (nbytes+7)/8*8)
	x := new(big.Int)
	for {
		for i := 0; i < len(buf); i += 8 {
			binary.BigEndian.PutUint64(buf[i:], s.src.Uint64())
		}
		b := buf[len(buf)-nbytes:]
		if extra := nbytes*8 - nbits; extra > 0 {
			b[0] &= byte(0xff >> extra)
		}
		x.SetBytes(b)
		if x.Cmp(n) < 0 {
			return x
		}
	}
}

// bernoulliFrac returns true with probability num/den, where 0 ≤ num ≤ den
// and den > 0.
func (s *Sampler) bernoulliFrac(num, den *big.Int) bool {
	if den.IsUint64() {
		return s.Uniform(den.Uint64()) < num.Uint64()
	}
	return s.uniformBig(den).Cmp(num) < 0
}

// Bernoulli returns true with probability p, a rational in [0, 1].
func (s *Sampler) Bernoulli(p *big.Rat) (bool, error) {
	if p.Sign() < 0 || p.Cmp(ratOne) > 0 {
		return false, fmt.Errorf("noise: Bernoulli probability %s outside [0, 1]", p.RatString())
	}
	return s.bernoulliFrac(p.Num(), p.Denom()), nil
}

var (
	ratOne = big.NewRat(1, 1)
	bigOne = big.NewInt(1)
)

// BernoulliExp returns true with probability exp(−γ), for a rational γ ≥ 0
// (Canonne, Kamath and Steinke, Algorithm 1).
func (s *Sampler) BernoulliExp(gamma *big.Rat) (bool, error) {
	if gamma.Sign() < 0 {
		return false, fmt.Errorf("noise: Bernoulli(exp(−γ)) needs γ ≥ 0, got %s", gamma.RatString())
	}
	return s.bernoulliExpFrac(gamma.Num(), gamma.Denom()), nil
}

// bernoulliExpFrac returns true with probability exp(−num/den); num ≥ 0,
// den > 0.
func (s *Sampler) bernoulliExpFrac(num, den *big.Int) bool {
	if num.Cmp(den) <= 0 {
		return s.bernoulliExpAtMostOne(num, den)
	}
	// γ > 1: exp(−γ) = exp(−1)^⌊γ⌋ · exp(−(γ − ⌊γ⌋)); stop at the first
	// failure, so the expected number of trials is below 1/(1 − e⁻¹) ≈ 1.6
	// however large γ is.
	floor, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	if floor.IsUint64() {
		for k := floor.Uint64(); k > 0; k-- {
			if !s.bernoulliExpAtMostOne(bigOne, bigOne) {
				return false
			}
		}
	} else {
		// ⌊γ⌋ ≥ 2⁶⁴: the loop cannot outlast it in practice.
		for k := new(big.Int).Set(floor); k.Sign() > 0; k.Sub(k, bigOne) {
			if !s.bernoulliExpAtMostOne(bigOne, bigOne) {
				return false
			}
		}
	}
	return s.bernoulliExpAtMostOne(rem, den)
}

// bernoulliExpAtMostOne returns true with probability exp(−γ) for
// γ = num/den in [0, 1]: draw A_k ~ Bernoulli(γ/k) for k = 1, 2, … until the
// first A_k = 0, and return whether that k is odd. P[K > k] = γᵏ/k!, so
// P[K odd] = Σ (−γ)ᵏ/k! = exp(−γ).
func (s *Sampler) bernoulliExpAtMostOne(num, den *big.Int) bool {
	if num.Sign() == 0 {
		return true
	}
	if num.IsUint64() && den.IsUint64() {
		n, d := num.Uint64(), den.Uint64()
		for k := uint64(1); ; k++ {
			hi, kd := bits.Mul64(d, k)
			if hi != 0 {
				// den·k left the 64-bit range: go on with big integers.
				return s.bernoulliExpAtMostOneBig(num, den, k)
			}
			if s.Uniform(kd) >= n {
				return k%2 == 1
			}
		}
	}
	return s.bernoulliExpAtMostOneBig(num, den, 1)
}

func (s *Sampler) bernoulliExpAtMostOneBig(num, den *big.Int, k uint64) bool {
	kd := new(big.Int)
	bk := new(big.Int)
	for ; ; k++ {
		kd.Mul(den, bk.SetUint64(k))
		if !s.bernoulliFrac(num, kd) {
			return k%2 == 1
		}
	}
}

// scaleParts returns the numerator and denominator of a positive rational
// scale as uint64s.
func scaleParts(scale *big.Rat, what string) (t, d uint64, err error) {
	if scale.Sign() <= 0 {
		return 0, 0, fmt.Errorf("noise: %s scale must be > 0, got %s", what, scale.RatString())
	}
	if !scale.Num().IsUint64() || !scale.Denom().IsUint64() || scale.Num().BitLen() > 62 {
		return 0, 0, fmt.Errorf("noise: %s scale %s: %w", what, scale.RatString(), ErrOverflow)
	}
	return scale.Num().Uint64(), scale.Denom().Uint64(), nil
}

// Geometric returns Y ≥ 0 with P[Y = y] = (1 − e^{−1/b}) e^{−y/b}, where
// b = scale is a positive rational t/d: X = U + t·V with U uniform in
// [0, t) accepted with probability exp(−U/t) and V counting the successes of
// Bernoulli(e⁻¹) trials before the first failure is geometric with
// parameter 1 − e^{−1/t}, and Y = ⌊X/d⌋ (Canonne, Kamath and Steinke,
// Algorithm 2, first half).
func (s *Sampler) Geometric(scale *big.Rat) (uint64, error) {
	t, d, err := scaleParts(scale, "geometric")
	if err != nil {
		return 0, err
	}
	return s.geometric(t, d)
}

func (s *Sampler) geometric(t, d uint64) (uint64, error) {
	bt := new(big.Int).SetUint64(t)
	bu := new(big.Int)
	for {
		u := s.Uniform(t)
		if !s.bernoulliExpFrac(bu.SetUint64(u), bt) {
			continue
		}
		var v uint64
		for s.bernoulliExpAtMostOne(bigOne, bigOne) {
			v++
		}
		hi, tv := bits.Mul64(t, v)
		x, carry := bits.Add64(tv, u, 0)
		if hi != 0 || carry != 0 {
			return 0, ErrOverflow
		}
		return x / d, nil
	}
}

// DiscreteLaplace returns Z with P[Z = z] = (1 − e^{−1/b})/(1 + e^{−1/b}) ·
// e^{−|z|/b}, where b = scale is a positive rational (Canonne, Kamath and
// Steinke, Algorithm 2): a geometric magnitude with a random sign, rejecting
// the negative zero so that 0 is not counted twice. Adding it to an integer
// query of ℓ1 sensitivity Δ with b = Δ/ε is ε-differentially private.
func (s *Sampler) DiscreteLaplace(scale *big.Rat) (int64, error) {
	t, d, err := scaleParts(scale, "discrete Laplace")
	if err != nil {
		return 0, err
	}
	return s.discreteLaplace(t, d)
}

func (s *Sampler) discreteLaplace(t, d uint64) (int64, error) {
	for {
		y, err := s.geometric(t, d)
		if err != nil {
			return 0, err
		}
		if y > 1<<62 {
			return 0, ErrOverflow
		}
		negative := s.src.Uint64()&1 == 1
		if negative && y == 0 {
			continue
		}
		if negative {
			return -int64(y), nil
		}
		return int64(y), nil
	}
}

// DiscreteGaussian returns Z with P[Z = z] ∝ exp(−z²/(2σ²)), for a positive
// rational sigma2 = σ² (Canonne, Kamath and Steinke, Algorithm 3): with
// t = ⌊σ⌋ + 1, draw Y from the discrete Laplace distribution of scale t and
// accept it with probability exp(−(|Y| − σ²/t)²/(2σ²)). The expected number
// of tries is below 2 (their Proposition 31).
func (s *Sampler) DiscreteGaussian(sigma2 *big.Rat) (int64, error) {
	if sigma2.Sign() <= 0 {
		return 0, fmt.Errorf("noise: discrete Gaussian σ² must be > 0, got %s", sigma2.RatString())
	}
	n, d := sigma2.Num(), sigma2.Denom() // σ² = n/d
	// ⌊σ⌋ = ⌊√⌊σ²⌋⌋, since k ≤ √x ⟺ k² ≤ x ⟺ k² ≤ ⌊x⌋ for integers k.
	t := new(big.Int).Quo(n, d)
	t.Sqrt(t)
	t.Add(t, bigOne)
	if t.BitLen() > 62 {
		return 0, fmt.Errorf("noise: discrete Gaussian σ² = %s: %w", sigma2.RatString(), ErrOverflow)
	}
	tu := t.Uint64()
	// γ = (|Y| − σ²/t)² / (2σ²) = (|Y|·d·t − n)² / (2·n·d·t²).
	dt := new(big.Int).Mul(d, t)
	den := new(big.Int).Mul(dt, t)
	den.Mul(den, n)
	den.Lsh(den, 1)
	a, num, y := new(big.Int), new(big.Int), new(big.Int)
	for {
		z, err := s.discreteLaplace(tu, 1)
		if err != nil {
			return 0, err
		}
		abs := z
		if abs < 0 {
			abs = -abs
		}
		a.Mul(y.SetInt64(abs), dt)
		a.Sub(a, n)
		num.Mul(a, a)
		if s.bernoulliExpFrac(num, den) {
			return z, nil
		}
	}
}
