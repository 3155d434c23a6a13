package deid

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// foldRune maps a rune to its lower-case, accent-free form for matching.
// It returns up to two runes (œ → oe); r2 is 0 when unused.
func foldRune(r rune) (rune, rune) {
	if r < utf8.RuneSelf {
		if r >= 'A' && r <= 'Z' {
			return r + 32, 0
		}
		return r, 0
	}
	switch r {
	case 'à', 'á', 'â', 'ã', 'ä', 'å', 'À', 'Á', 'Â', 'Ã', 'Ä', 'Å', 'ā', 'Ā', 'ă', 'Ă', 'ą', 'Ą':
		return 'a', 0
	case 'ç', 'Ç', 'ć', 'Ć', 'č', 'Č':
		return 'c', 0
	case 'è', 'é', 'ê', 'ë', 'È', 'É', 'Ê', 'Ë', 'ē', 'Ē', 'ę', 'Ę', 'ě', 'Ě', 'ė', 'Ė':
		return 'e', 0
	case 'ì', 'í', 'î', 'ï', 'Ì', 'Í', 'Î', 'Ï', 'ī', 'Ī', 'ı', 'İ':
		return 'i', 0
	case 'ñ', 'Ñ', 'ń', 'Ń', 'ň', 'Ň':
		return 'n', 0
	case 'ò', 'ó', 'ô', 'õ', 'ö', 'ø', 'Ò', 'Ó', 'Ô', 'Õ', 'Ö', 'Ø', 'ō', 'Ō', 'ő', 'Ő':
		return 'o', 0
	case 'ù', 'ú', 'û', 'ü', 'Ù', 'Ú', 'Û', 'Ü', 'ū', 'Ū', 'ů', 'Ů', 'ű', 'Ű':
		return 'u', 0
	case 'ý', 'ÿ', 'Ý', 'Ÿ':
		return 'y', 0
	case 'œ', 'Œ':
		return 'o', 'e'
	case 'æ', 'Æ':
		return 'a', 'e'
	case 'ß':
		return 's', 's'
	case 'ś', 'Ś', 'š', 'Š', 'ş', 'Ş':
		return 's', 0
	case 'ź', 'Ź', 'ż', 'Ż', 'ž', 'Ž':
		return 'z', 0
	case 'ł', 'Ł':
		return 'l', 0
	case 'ğ', 'Ğ':
		return 'g', 0
	case 'ř', 'Ř':
		return 'r', 0
	case 'ť', 'Ť', 'ţ', 'Ţ':
		return 't', 0
	case 'ď', 'Ď', 'đ', 'Đ':
		return 'd', 0
	case '\u2019', '\u2018', '`', '´':
		return '\'', 0
	case '\u2010', '\u2011', '\u2012', '\u2013':
		return '-', 0
	}
	if unicode.Is(unicode.Mn, r) {
		return -1, 0 // drop combining marks
	}
	return unicode.ToLower(r), 0
}

// appendFold appends the folded form of s to dst.
func appendFold(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 32
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		r1, r2 := foldRune(r)
		if r1 < 0 {
			continue
		}
		dst = utf8.AppendRune(dst, r1)
		if r2 != 0 {
			dst = utf8.AppendRune(dst, r2)
		}
	}
	return dst
}

// fold returns the lower-case, accent-free form of s.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || (s[i] >= 'A' && s[i] <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	return string(appendFold(make([]byte, 0, len(s)), s))
}

// FNV-1a, 64 bits: stable across runs and platforms (models store hashes).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// hashFold hashes the folded form of s without allocating.
func hashFold(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 32
			}
			h ^= uint64(c)
			h *= fnvPrime
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		r1, r2 := foldRune(r)
		if r1 < 0 {
			continue
		}
		h = hashRune(h, r1)
		if r2 != 0 {
			h = hashRune(h, r2)
		}
	}
	return h
}

func hashRune(h uint64, r rune) uint64 {
	var buf [4]byte
	n := utf8.EncodeRune(buf[:], r)
	return hashBytes(h, buf[:n])
}

// mix combines two hashes (feature template and value).
func mix(a, b uint64) uint64 {
	h := a ^ (b + 0x9e3779b97f4a7c15 + (a << 6) + (a >> 2))
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// titleCase returns s with its first letter upper case and the rest lower
// case, per hyphen- or space-separated part ("JEAN-PIERRE" → "Jean-Pierre").
func titleCase(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if up {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		up = r == '-' || r == ' ' || r == '\''
	}
	return b.String()
}
