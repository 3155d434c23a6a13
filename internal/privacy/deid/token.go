package deid

import (
	"unicode"
	"unicode/utf8"
)

// tokKind classifies a token.
type tokKind uint8

const (
	tkWord  tokKind = iota // letters, possibly with digits, inner hyphens and a final apostrophe
	tkNum                  // a run of ASCII digits
	tkPunct                // one other non-space character
)

// Token flags.
const (
	tfUpper     uint16 = 1 << iota // first letter is upper case
	tfAllCaps                      // every letter upper case (and at least two letters)
	tfHyphen                       // contains an inner hyphen
	tfDigit                        // a word containing digits
	tfNewline                      // a line break precedes the token
	tfSpace                        // white space precedes the token
	tfApos                         // ends with an apostrophe (l', d')
	tfLineStart                    // first token of its line
)

// token is a span of the text, in byte offsets.
type token struct {
	start, end int32
	kind       tokKind
	flags      uint16
}

// tokenize splits s into tokens, appending to toks. It never allocates per
// token and handles any UTF-8 (invalid bytes become punctuation tokens).
func tokenize(s string, toks []token) []token {
	toks, _ = tokenizeHashed(s, toks, nil, false)
	return toks
}

// tokenizeHashed is tokenize that also computes, when withHashes is set,
// the hash of every token in the same pass: the folded form (hashFold) of
// words and numbers, the raw bytes of punctuation.
func tokenizeHashed(s string, toks []token, hashes []uint64, withHashes bool) ([]token, []uint64) {
	toks = toks[:0]
	hashes = hashes[:0]
	var pending uint16 = tfLineStart | tfNewline
	i := 0
	for i < len(s) {
		c := s[i]
		// White space.
		if c == ' ' {
			pending |= tfSpace
			i++
			continue
		}
		if c == '\t' || c == '\r' || c == '\f' || c == '\v' {
			pending |= tfSpace
			i++
			continue
		}
		if c == '\n' {
			pending |= tfNewline | tfSpace | tfLineStart
			i++
			continue
		}
		start := i
		if c < utf8.RuneSelf {
			switch {
			case c >= '0' && c <= '9':
				h := uint64(fnvOffset)
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					h ^= uint64(s[i])
					h *= fnvPrime
					i++
				}
				// Digits followed by letters ("1er", "2A") stay a number token
				// for the first part; letters make a separate word.
				toks = append(toks, token{start: int32(start), end: int32(i), kind: tkNum, flags: pending})
				if withHashes {
					hashes = append(hashes, h)
				}
				pending = 0
				continue
			case isASCIILetter(c):
				var fl uint16
				var h uint64
				i, fl, h = scanWord(s, i)
				toks = append(toks, token{start: int32(start), end: int32(i), kind: tkWord, flags: pending | fl})
				if withHashes {
					hashes = append(hashes, h)
				}
				pending = 0
				continue
			default:
				i++
				toks = append(toks, token{start: int32(start), end: int32(i), kind: tkPunct, flags: pending})
				if withHashes {
					hashes = append(hashes, (fnvOffset^uint64(c))*fnvPrime)
				}
				pending = 0
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u00a0' || r == '\u202f' || r == '\u2009' || r == '\u2007' || r == '\u2028' || r == '\u2029' || (r != utf8.RuneError && unicode.IsSpace(r)) {
			pending |= tfSpace
			if r == '\u2028' || r == '\u2029' || r == '\u0085' {
				pending |= tfNewline | tfLineStart
			}
			i += size
			continue
		}
		if r != utf8.RuneError && unicode.IsLetter(r) {
			var fl uint16
			var h uint64
			i, fl, h = scanWord(s, i)
			toks = append(toks, token{start: int32(start), end: int32(i), kind: tkWord, flags: pending | fl})
			if withHashes {
				hashes = append(hashes, h)
			}
			pending = 0
			continue
		}
		i += size
		toks = append(toks, token{start: int32(start), end: int32(i), kind: tkPunct, flags: pending})
		if withHashes {
			hashes = append(hashes, hashString(fnvOffset, s[start:i]))
		}
		pending = 0
	}
	return toks, hashes
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// isLetterAt reports whether a letter starts at s[i], and its size.
func isLetterAt(s string, i int) (bool, int) {
	if i >= len(s) {
		return false, 0
	}
	c := s[i]
	if c < utf8.RuneSelf {
		return isASCIILetter(c), 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	return r != utf8.RuneError && unicode.IsLetter(r), size
}

func isAlnumAt(s string, i int) (bool, int) {
	if i < len(s) && s[i] >= '0' && s[i] <= '9' {
		return true, 1
	}
	return isLetterAt(s, i)
}

// scanWord returns the end of the word starting at i, its flags and the
// hash of its folded form (equal to hashFold of the word): letters and
// digits, inner hyphens between letters, and a final apostrophe (ASCII or
// U+2019) after which the word ends ("d'Alzheimer" is "d'" then
// "Alzheimer"). ASCII takes a fast path.
func scanWord(s string, i int) (int, uint16, uint64) {
	var flags uint16
	h := uint64(fnvOffset)
	letters, uppers := 0, 0
	first := true
loop:
	for i < len(s) {
		c := s[i]
		// Fast path: a run of lower-case ASCII letters.
		if c >= 'a' && c <= 'z' {
			for {
				h ^= uint64(c)
				h *= fnvPrime
				letters++
				i++
				if i == len(s) {
					break loop
				}
				if c = s[i]; c < 'a' || c > 'z' {
					break
				}
			}
			first = false
			continue
		}
		if c < utf8.RuneSelf {
			switch {
			case c >= 'a' && c <= 'z':
				letters++
				first = false
				i++
			case c >= 'A' && c <= 'Z':
				letters++
				uppers++
				if first {
					flags |= tfUpper
				}
				first = false
				c += 'a' - 'A'
				i++
			case c >= '0' && c <= '9':
				flags |= tfDigit
				i++
			case c == '-':
				if ok, _ := isLetterAt(s, i+1); !ok {
					break loop
				}
				flags |= tfHyphen
				i++
			case c == '\'':
				flags |= tfApos
				h ^= uint64(c)
				h *= fnvPrime
				i++
				break loop
			default:
				break loop
			}
			h ^= uint64(c)
			h *= fnvPrime
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\u2019':
			flags |= tfApos
			i += size
			h ^= '\''
			h *= fnvPrime
			break loop
		case r != utf8.RuneError && unicode.IsLetter(r):
			letters++
			if unicode.IsUpper(r) {
				uppers++
				if first {
					flags |= tfUpper
				}
			}
			first = false
			i += size
		case unicode.Is(unicode.Mn, r):
			i += size
		default:
			break loop
		}
		if r1, r2 := foldRune(r); r1 >= 0 {
			h = hashRune(h, r1)
			if r2 != 0 {
				h = hashRune(h, r2)
			}
		}
	}
	if letters >= 2 && uppers == letters {
		flags |= tfAllCaps
	}
	return i, flags, h
}
