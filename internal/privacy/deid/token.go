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
	toks = toks[:0]
	var pending uint16 = tfLineStart | tfNewline
	i := 0
	for i < len(s) {
		c := s[i]
		// White space.
		if c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' {
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
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					i++
				}
				// Digits followed by letters ("1er", "2A") stay a number token
				// for the first part; letters make a separate word.
				toks = append(toks, token{start: int32(start), end: int32(i), kind: tkNum, flags: pending})
				pending = 0
				continue
			case isASCIILetter(c):
				var fl uint16
				i, fl = scanWordFlags(s, i)
				toks = append(toks, token{start: int32(start), end: int32(i), kind: tkWord, flags: pending | fl})
				pending = 0
				continue
			default:
				i++
				toks = append(toks, token{start: int32(start), end: int32(i), kind: tkPunct, flags: pending})
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
			i, fl = scanWordFlags(s, i)
			toks = append(toks, token{start: int32(start), end: int32(i), kind: tkWord, flags: pending | fl})
			pending = 0
			continue
		}
		i += size
		toks = append(toks, token{start: int32(start), end: int32(i), kind: tkPunct, flags: pending})
		pending = 0
	}
	return toks
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

// scanWordFlags returns the end of the word starting at i and its flags:
// letters and digits, inner hyphens between letters, and a final apostrophe
// (ASCII or U+2019) after which the word ends ("d'Alzheimer" is "d'" then
// "Alzheimer"). ASCII takes a fast path.
func scanWordFlags(s string, i int) (int, uint16) {
	var flags uint16
	letters, uppers := 0, 0
	first := true
loop:
	for i < len(s) {
		c := s[i]
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
				i++
				break loop
			default:
				break loop
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\u2019':
			flags |= tfApos
			i += size
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
	}
	if letters >= 2 && uppers == letters {
		flags |= tfAllCaps
	}
	return i, flags
}
