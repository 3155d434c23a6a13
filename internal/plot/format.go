package plot

import (
	"math"
	"strconv"
	"strings"
)

// FormatNumber shows a metric or feature value compactly: integers in
// full, other everyday magnitudes with 4 significant digits, the rest in
// exponent form.
func FormatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == math.Trunc(v) && a < 1e15:
		return groupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	case a >= 1e-3 && a < 1e6:
		decimals := max(0, 3-int(math.Floor(math.Log10(a))))
		s := strconv.FormatFloat(v, 'f', decimals, 64)
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return groupThousands(s)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// groupThousands inserts thin spaces between groups of three digits, the
// French and SI way ("12 345"), which reads the same in English.
func groupThousands(s string) string {
	sign, frac := "", ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i:]
	}
	if len(s) <= 4 {
		return sign + s + frac
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	return sign + b.String() + frac
}

func Shorten(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
