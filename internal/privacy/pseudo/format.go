package pseudo

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
)

// Named alphabets of Format.Alphabet; any other value is the alphabet itself.
var alphabets = map[string]string{
	"hex":      "0123456789abcdef",
	"HEX":      "0123456789ABCDEF",
	"digits":   "0123456789",
	"base32":   "0123456789ABCDEFGHJKMNPQRSTVWXYZ", // Crockford
	"base36":   "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	"alphanum": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
}

// MinBits is the least entropy a pseudonym format may carry: below it,
// two patients of a large warehouse could collide.
const MinBits = 64

// Format says what a domain's pseudonyms look like: Prefix, then Length
// characters drawn from Alphabet by the keyed HMAC, then (Check) one check
// character over the drawn characters (Luhn mod N on the alphabet), which
// catches any single mistyped character and most transpositions.
type Format struct {
	Prefix   string `json:"prefix" yaml:"prefix"`
	Length   int    `json:"length" yaml:"length"`
	Alphabet string `json:"alphabet" yaml:"alphabet"`
	Check    bool   `json:"check,omitempty" yaml:"check"`
}

// LegacyFormat is the format of the project's default domain: "PS" and 20
// hexadecimal characters, as hygie has always written them.
var LegacyFormat = Format{Prefix: "PS", Length: 20, Alphabet: "hex"}

func (f Format) chars() []rune {
	a, ok := alphabets[f.Alphabet]
	if !ok {
		a = f.Alphabet
	}
	return []rune(a)
}

// Validate checks a format.
func (f Format) Validate() error {
	cs := f.chars()
	if len(cs) < 2 || len(cs) > 256 {
		return errs.Invalidf("pseudonym format: alphabet must have 2 to 256 characters (or be hex, HEX, digits, base32, base36, alphanum)")
	}
	seen := map[rune]bool{}
	for _, c := range cs {
		if seen[c] || c == utf8.RuneError || c <= ' ' {
			return errs.Invalidf("pseudonym format: alphabet characters must be distinct and printable")
		}
		seen[c] = true
	}
	if f.Length <= 0 || f.Length > 64 {
		return errs.Invalidf("pseudonym format: length must be 1 to 64")
	}
	if b := float64(f.Length) * math.Log2(float64(len(cs))); b < MinBits {
		return errs.Invalidf("pseudonym format: %d characters of a %d-character alphabet carry %.0f bits; at least %d are needed so that patients do not collide", f.Length, len(cs), b, MinBits)
	}
	if len(f.Prefix) > 16 || strings.ContainsFunc(f.Prefix, func(r rune) bool { return r <= ' ' }) {
		return errs.Invalidf("pseudonym format: prefix must be at most 16 printable bytes")
	}
	return nil
}

// String is the canonical JSON of the format, stored with its domain.
func (f Format) String() string {
	b, _ := json.Marshal(f)
	return string(b)
}

// stream yields the bytes of HMAC-SHA256(key, id), then of further blocks
// HMAC-SHA256(key, 0x00 "ext" counter id) when more are needed.
type stream struct {
	key, id []byte
	buf     []byte
	block   uint32
}

func (s *stream) next() byte {
	if len(s.buf) == 0 {
		m := hmac.New(sha256.New, s.key)
		if s.block > 0 {
			var c [8]byte
			copy(c[:4], "\x00ext")
			binary.BigEndian.PutUint32(c[4:], s.block)
			m.Write(c[:])
		}
		m.Write(s.id)
		s.buf = m.Sum(nil)
		s.block++
	}
	b := s.buf[0]
	s.buf = s.buf[1:]
	return b
}

// Make computes the pseudonym of id under key in format f (assumed valid).
// Power-of-two alphabets take the HMAC bits in order (so hex is the hex
// encoding of the HMAC); others draw bytes by rejection, without bias.
func (f Format) Make(key []byte, id string) string {
	cs := f.chars()
	n := len(cs)
	st := &stream{key: key, id: []byte(id)}
	idx := make([]int, 0, f.Length)
	if n&(n-1) == 0 {
		w := bits.TrailingZeros(uint(n))
		var acc uint32
		have := 0
		for len(idx) < f.Length {
			for have < w {
				acc = acc<<8 | uint32(st.next())
				have += 8
			}
			idx = append(idx, int(acc>>(have-w))&(n-1))
			have -= w
		}
	} else {
		limit := 256 - 256%n
		for len(idx) < f.Length {
			if b := int(st.next()); b < limit {
				idx = append(idx, b%n)
			}
		}
	}
	var b strings.Builder
	b.WriteString(f.Prefix)
	for _, i := range idx {
		b.WriteRune(cs[i])
	}
	if f.Check {
		b.WriteRune(cs[luhnCheck(idx, n)])
	}
	return b.String()
}

// luhnCheck is the Luhn mod N check index of idx.
func luhnCheck(idx []int, n int) int {
	factor, sum := 2, 0
	for i := len(idx) - 1; i >= 0; i-- {
		a := factor * idx[i]
		factor = 3 - factor
		sum += a/n + a%n
	}
	return (n - sum%n) % n
}

// Valid reports whether p has the shape of a pseudonym of format f and,
// when f has one, a correct check character.
func (f Format) Valid(p string) bool {
	rest, ok := strings.CutPrefix(p, f.Prefix)
	if !ok {
		return false
	}
	cs := f.chars()
	pos := make(map[rune]int, len(cs))
	for i, c := range cs {
		pos[c] = i
	}
	var idx []int
	for _, c := range rest {
		i, ok := pos[c]
		if !ok {
			return false
		}
		idx = append(idx, i)
	}
	want := f.Length
	if f.Check {
		want++
	}
	if len(idx) != want {
		return false
	}
	if f.Check {
		return luhnCheck(idx[:f.Length], len(cs)) == idx[f.Length]
	}
	return true
}
