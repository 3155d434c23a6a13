package dp

import (
	"encoding/json"
	"math/big"
	"regexp"
	"strings"

	"github.com/hygie-health/hygie/internal/errs"
)

// Decimal is an exact decimal number: privacy parameters (ε, δ), declared
// bounds and bin edges. Budgets are added and compared exactly, so ten
// releases at ε = 0.1 spend exactly 1, never 0.9999999999999999 or
// 1.0000000000000002. The zero value is 0. A Decimal is immutable.
type Decimal struct{ r *big.Rat }

var decimalRE = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,2})?$`)

// ParseDecimal parses a decimal number such as "1", "0.25", "-3.5" or
// "1e-6". Fractions, hexadecimal, infinities and NaN are refused, and so are
// exponents beyond ±99 and more than 40 characters.
func ParseDecimal(s string) (Decimal, error) {
	s = strings.TrimSpace(s)
	if len(s) > 40 || !decimalRE.MatchString(s) {
		return Decimal{}, errs.Invalidf("%q is not a decimal number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return Decimal{}, errs.Invalidf("%q is not a decimal number", s)
	}
	return Decimal{r}, nil
}

// MustDecimal parses s or panics (constants, tests).
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// DecimalInt returns n as a Decimal.
func DecimalInt(n int64) Decimal { return Decimal{big.NewRat(n, 1)} }

func (d Decimal) rat() *big.Rat {
	if d.r == nil {
		return new(big.Rat)
	}
	return d.r
}

// Rat returns a copy of d as a big.Rat.
func (d Decimal) Rat() *big.Rat { return new(big.Rat).Set(d.rat()) }

// Add returns d + e.
func (d Decimal) Add(e Decimal) Decimal { return Decimal{new(big.Rat).Add(d.rat(), e.rat())} }

// Sub returns d − e.
func (d Decimal) Sub(e Decimal) Decimal { return Decimal{new(big.Rat).Sub(d.rat(), e.rat())} }

// Cmp compares d and e (−1, 0, +1).
func (d Decimal) Cmp(e Decimal) int { return d.rat().Cmp(e.rat()) }

// Sign returns −1, 0 or +1.
func (d Decimal) Sign() int { return d.rat().Sign() }

// IsZero reports whether d is 0.
func (d Decimal) IsZero() bool { return d.Sign() == 0 }

// Abs returns |d|.
func (d Decimal) Abs() Decimal { return Decimal{new(big.Rat).Abs(d.rat())} }

// Float64 returns the nearest float64.
func (d Decimal) Float64() float64 {
	f, _ := d.rat().Float64()
	return f
}

// Places returns the number of digits after the decimal point d needs, or
// −1 if d is not a finite decimal.
func (d Decimal) Places() int {
	den := new(big.Int).Set(d.rat().Denom())
	twos := int(den.TrailingZeroBits())
	den.Rsh(den, uint(twos))
	fives := 0
	five, m := big.NewInt(5), new(big.Int)
	for den.Cmp(bigOne) > 0 {
		q, r := new(big.Int).QuoRem(den, five, m)
		if r.Sign() != 0 {
			return -1
		}
		den = q
		fives++
	}
	return max(twos, fives)
}

var bigOne = big.NewInt(1)

// String formats d exactly: "0.1", "3", "1e-06" style is never used. A
// value that is not a finite decimal (which parsing never produces) is
// written as a fraction "a/b".
func (d Decimal) String() string {
	n := d.Places()
	if n < 0 {
		return d.rat().RatString()
	}
	s := d.rat().FloatString(n)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// MarshalJSON writes d as a JSON string, exactly.
func (d Decimal) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a JSON string or number.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		s = string(b)
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
