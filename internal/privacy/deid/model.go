package deid

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// The statistical layer: a first-order sequence labeller over BIO tags,
// trained as an averaged structured perceptron, decoded with Viterbi. It
// labels the person and town names that no pattern can see (NOM, PRENOM,
// VILLE) from token features: shape, case, affixes, gazetteer hits and the
// neighbouring words (Dr, Mme, né le, Nom :).

const (
	tagO = iota
	tagBNom
	tagINom
	tagBPrenom
	tagIPrenom
	tagBVille
	tagIVille
	numTags
)

var tagLabels = [numTags]Label{None, Nom, Nom, Prenom, Prenom, Ville, Ville}

func isInside(t int) bool { return t == tagINom || t == tagIPrenom || t == tagIVille }

// allowed reports whether tag b may follow tag a (BIO).
func allowed(a, b int) bool {
	if !isInside(b) {
		return true
	}
	return a == b || a == b-1
}

func beginTag(l Label) int {
	switch l {
	case Nom:
		return tagBNom
	case Prenom:
		return tagBPrenom
	case Ville:
		return tagBVille
	}
	return tagO
}

// Model is a trained sequence labeller. The zero value labels nothing.
type Model struct {
	keys  []uint64  // feature hashes
	w     []float32 // their weights, len(keys) rows × numTags
	trans [numTags][numTags]float32
	// Lookup: open addressing over 16-byte slots that hold a 32-bit
	// fingerprint of the feature and its weights, so that a feature costs
	// one memory access and the table stays small enough for the cache.
	// A slot stores, for each tag but O, the weight of the tag minus the
	// weight of O, quantised in units of scale: adding the same amount to
	// every tag of a token does not change the best path.
	slots []wslot
	shift uint
	scale float32
	// A Bloom filter of the features (8 KiB, two bits per feature) answers
	// most lookups of absent features (unknown words, word pairs) from the
	// first-level cache, without touching the slots.
	bloom [bloomWords]uint64
}

const (
	bloomBits  = 1 << 16
	bloomWords = bloomBits / 64
)

// bloomPos returns the two Bloom positions of feature f (bits of f that
// neither the slot index nor the fingerprint use alone).
func bloomPos(f uint64) (uint64, uint64) {
	return (f >> 32) & (bloomBits - 1), (f >> 48) & (bloomBits - 1)
}

type wslot struct {
	fp uint32
	w  [numTags - 1]int16
}

// Features returns the number of features with weights.
func (m *Model) Features() int {
	if m == nil {
		return 0
	}
	return len(m.keys)
}

func fingerprint32(k uint64) uint32 { return uint32(k) | 1 }

// add appends a feature and its weights (build must follow).
func (m *Model) add(k uint64, ws []float32) {
	m.keys = append(m.keys, k)
	m.w = append(m.w, ws[:numTags]...)
}

// build fills the lookup slots from keys and w. Two features that share a
// fingerprint and a probe chain (about one model in a million) get the sum
// of their weights.
func (m *Model) build() {
	size := 16
	for size < 2*len(m.keys)+1 {
		size <<= 1
	}
	m.slots = make([]wslot, size)
	m.shift = uint(64 - bits.TrailingZeros(uint(size)))
	mask := uint64(size - 1)
	diffs := make([][numTags - 1]float32, size)
	var maxAbs float32
	m.bloom = [bloomWords]uint64{}
	for r, k := range m.keys {
		b1, b2 := bloomPos(k)
		m.bloom[b1>>6] |= 1 << (b1 & 63)
		m.bloom[b2>>6] |= 1 << (b2 & 63)
		fp := fingerprint32(k)
		for i := (k * 0x9e3779b97f4a7c15) >> m.shift; ; i = (i + 1) & mask {
			sl := &m.slots[i]
			if sl.fp == 0 || sl.fp == fp {
				sl.fp = fp
				w := m.w[r*numTags : r*numTags+numTags]
				for t := 1; t < numTags; t++ {
					v := diffs[i][t-1] + w[t] - w[0]
					diffs[i][t-1] = v
					maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
				}
				break
			}
		}
	}
	m.scale = maxAbs / 32767
	if m.scale == 0 {
		m.scale = 1
	}
	for i := range m.slots {
		for t, v := range diffs[i] {
			m.slots[i].w[t] = int16(math.Round(float64(v / m.scale)))
		}
	}
}

// Feature templates.
const (
	ftBias uint64 = iota + 1
	ftW0
	ftShape0
	ftPre2
	ftPre3
	ftSuf2
	ftSuf3
	ftSuf4
	ftLen // unused since model 2
	ftGaz
	ftGazCombo
	ftWm1
	ftWm2
	ftWp1
	ftWp2
	ftShapeM1
	ftShapeP1
	ftGazM1
	ftGazP1
	ftBiM
	ftBiP
	ftWm1Shape
	ftLineShape
	ftShapeGaz
	ftNeighCaps // unused since model 2
	ftWm1Gaz
	ftWp1Gaz
	ftW0Wm1
	ftFirstLast
	ftRunPos
	ftRunPosShape
	ftRunBefore
	ftRunBefore2
	ftRunAfter
	ftRunAfter2
	ftRunShapes
	ftRunLine
	ftPrevKind
	ftRunBeforeGaz
)

const comboMask = gzFirst | gzLast | gzName | gzCommune | gzEponym | gzDrug | gzMed | gzTitle | gzHosp | gzMulti | gzWord | gzRelative | gzParticle

// nameGaz are the categories hidden by gazetteer dropout in training.
const nameGaz = gzFirst | gzFirstF | gzFirstM | gzLast | gzName | gzCommune | gzCommuneBig | gzHosp | gzEponym | gzMulti

// notNameLike are the keyword categories of capitalised candidates that are
// no part of a name (titles, relations, "IPP", "Hôpital"...).
const notNameLike = gzTitle | gzRelative | gzIPP | gzNDA | gzBirth | gzSecu | gzFacility | gzStreet | gzTrigger

// nameCats are the person and place categories of the gazetteer.
const nameCats = gzFirst | gzLast | gzName | gzCommune | gzHosp

var (
	hNL    = hashString(fnvOffset, "<NL>")
	hBOS   = hashString(fnvOffset, "<BOS>")
	hEOS   = hashString(fnvOffset, "<EOS>")
	hNumT  = hashString(fnvOffset, "<NUM>")
	hNameT = hashString(fnvOffset, "<NAME>")
	hLabel [numLabels]uint64
)

func init() {
	for l := Label(0); l < numLabels; l++ {
		hLabel[l] = hashString(fnvOffset, "<"+labelNames[l]+">")
	}
}

// prepareLabeller fills the per-token views used by features and marks the
// candidate tokens: capitalised words, particles inside names, and words
// right after a title. Tokens covered by a rule span are never candidates.
func (d *doc) prepareLabeller() {
	n := len(d.toks)
	d.vh = grow(d.vh, n)
	d.ch = grow(d.ch, n)
	d.shapes = grow(d.shapes, n)
	d.cand = grow(d.cand, n)
	d.capsLines()
	clear(d.shapes) // computed on demand by shape()
	for i := 0; i < n; i++ {
		t := d.toks[i]
		d.cand[i] = false
		switch {
		case d.covered[i] != None:
			d.vh[i] = hLabel[d.covered[i]]
			continue
		case t.kind == tkNum:
			d.vh[i] = hNumT
			continue
		}
		d.vh[i] = d.hashes[i]
		if t.kind != tkWord {
			continue
		}
		if t.flags&tfUpper != 0 {
			b := d.bits[i] // gzWord may be pending: read it with d.gaz(i)
			nextCap := i+1 < n && d.toks[i+1].kind == tkWord && d.toks[i+1].flags&(tfUpper|tfNewline) == tfUpper
			// One letter ("N", "G", "T"): an initial or a unit, never a
			// name of the guidelines. An elided article ("L'", "J'") only
			// before a capitalised word ("D'Amico"); a capitalised article
			// ("Le", "De") only before a capitalised word ("Le Gall").
			if oneRune(d.s[t.start:t.end]) || (t.flags&tfApos != 0 || b&gzParticle != 0) && !(nextCap && d.toks[i+1].start-t.end <= 1) {
				continue
			}
			// An eponym that is no person name and not after a title is
			// dropped by merge anyway: not labelled.
			if b&gzEponym != 0 && b&(gzFirst|gzLast|gzName) == 0 && !d.afterTitle(i) {
				continue
			}
			// Capitalised clinical words, drugs, months and days that are
			// no person or place name are never names: skip them. Common
			// words that are only in the large list of names of every
			// origin ("Bien", "Service") count as common words.
			if b&nameCats == 0 || (b&(nameCats&^gzName) == 0 && d.gaz(i)&gzWord != 0) {
				if b&(gzMed|gzDrug|gzMonth|gzWeekday) != 0 || isRoman(d.s[t.start:t.end]) {
					continue
				}
				// A common word that is no known name, alone (the next
				// token is no capitalised word), not after a title, a
				// family relation or a name, not in the middle of a
				// sentence ("Traitement :", "Bonne tolérance") and not in
				// capitals inside a lower-case line.
				if !nextCap && !d.nameContextBefore(i) && d.gaz(i)&gzWord != 0 && !(t.flags&tfAllCaps != 0 && d.lower[i]) {
					continue
				}
			}
			// A word glued to a number or a dash ("0-Is", "T2N1") is a code.
			if i > 0 && t.flags&(tfSpace|tfNewline) == 0 && (d.toks[i-1].kind == tkNum || d.isPunct(i-1, '-') || d.isPunct(i-1, '/')) {
				continue
			}
			// Titles and keywords are never part of a name: not labelled.
			d.cand[i] = b&notNameLike == 0
			continue
		}
		if i == 0 || t.flags&tfNewline != 0 {
			if d.bits[i]&gzParticle != 0 && i+1 < n && d.toks[i+1].kind == tkWord && d.toks[i+1].flags&(tfUpper|tfNewline) == tfUpper {
				d.cand[i] = true
			}
			continue
		}
		prevTitle := d.bits[i-1]&gzTitle != 0 || (d.isPunct(i-1, '.') && i >= 2 && d.bits[i-2]&gzTitle != 0)
		if prevTitle {
			d.cand[i] = d.bits[i]&notNameLike == 0
			continue
		}
		if d.bits[i]&gzParticle != 0 && (d.cand[i-1] || d.bits[i-1]&gzTitle != 0 || d.isPunct(i-1, ':')) && i+1 < n && d.toks[i+1].kind == tkWord && d.toks[i+1].flags&(tfUpper|tfNewline) == tfUpper {
			d.cand[i] = true
		}
	}
	for i := 0; i < n; i++ {
		if d.cand[i] {
			d.ch[i] = mix(hNameT, d.shape(i)) // a name-like word
		} else {
			d.ch[i] = d.vh[i]
		}
	}
}

// nameContextBefore reports whether the capitalised word i follows a
// title, a family relation, a name or a lower-case word of the same line
// (French writes common nouns in lower case inside a sentence).
func (d *doc) nameContextBefore(i int) bool {
	if i == 0 || d.toks[i].flags&tfLineStart != 0 {
		return false
	}
	p := d.toks[i-1]
	if d.bits[i-1]&(gzTitle|gzRelative) != 0 || (d.isPunct(i-1, '.') && i > 1 && d.bits[i-2]&gzTitle != 0) {
		return true
	}
	if d.cand[i-1] {
		return true
	}
	return p.kind == tkWord && p.flags&(tfUpper|tfApos) == 0 && d.covered[i-1] == None
}

// oneRune reports whether w is a single character ("N", "À").
func oneRune(w string) bool {
	_, size := utf8.DecodeRuneInString(w)
	return size == len(w)
}

// isRoman reports whether w is a Roman numeral of two letters or more
// ("II", "XIV"): stages and grades, not names.
func isRoman(w string) bool {
	if len(w) < 2 || len(w) > 6 {
		return false
	}
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case 'I', 'V', 'X':
		default:
			return false
		}
	}
	return true
}

// capsLines marks the tokens of lines written in capitals (three capitalised
// words or more, no lower-case word): headers, where a capitalised word is
// rarely a name; and the tokens of lines that have a word with lower-case
// letters (where a word in capitals stands out).
func (d *doc) capsLines() {
	n := len(d.toks)
	d.caps = grow(d.caps, n)
	d.lower = grow(d.lower, n)
	start, words, caps := 0, 0, 0
	lower := false
	for k := 0; k < n; k++ {
		t := d.toks[k]
		if t.kind == tkWord {
			words++
			if t.flags&tfAllCaps != 0 {
				caps++
			} else if t.end-t.start > 1 && (t.flags&tfUpper == 0 || t.end-t.start > 2) {
				// Words of one letter ("M", "à") count as neither.
				lower = true
			}
		}
		if k+1 < n && d.toks[k+1].flags&tfNewline == 0 {
			continue
		}
		v := words >= 3 && caps == words
		for j := start; j <= k; j++ {
			d.caps[j] = v
			d.lower[j] = lower
		}
		start, words, caps, lower = k+1, 0, 0, false
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

// shape returns the shape hash of token i, computed once.
func (d *doc) shape(i int) uint64 {
	if d.shapes[i] == 0 {
		t := d.toks[i]
		d.shapes[i] = shapeHash(d.s[t.start:t.end]) | 1
	}
	return d.shapes[i]
}

// asciiClass is the shape class of an ASCII byte.
var asciiClass = func() (t [128]byte) {
	for c := 0; c < 128; c++ {
		switch {
		case c >= '0' && c <= '9':
			t[c] = 'd'
		case c == '-':
			t[c] = '-'
		case c == '\'':
			t[c] = '\''
		case c >= 'A' && c <= 'Z':
			t[c] = 'X'
		case c >= 'a' && c <= 'z':
			t[c] = 'x'
		default:
			t[c] = '.'
		}
	}
	return t
}()

// shapeHash hashes the collapsed character classes of a token: "Dupont" →
// "Xx", "DUPONT" → "X", "Jean-Pierre" → "Xx-Xx", "d'" → "x'".
func shapeHash(w string) uint64 {
	h := uint64(fnvOffset)
	var last byte
	n := 0
	for i := 0; i < len(w); {
		var c byte
		if b := w[i]; b < utf8.RuneSelf {
			c = asciiClass[b]
			i++
		} else {
			r, size := utf8.DecodeRuneInString(w[i:])
			i += size
			switch {
			case r == '\u2019':
				c = '\''
			case isUpperRune(r):
				c = 'X'
			case isLowerRune(r):
				c = 'x'
			default:
				c = '.'
			}
		}
		if c != last {
			h ^= uint64(c)
			h *= fnvPrime
			last = c
			n++
			if n > 8 {
				break
			}
		}
	}
	return h
}

// gaz returns the gazetteer bits of token j, with the common-word bit
// looked up if it was pending.
func (d *doc) gaz(j int) uint32 {
	b := d.bits[j]
	if b&gzPending != 0 {
		b &^= gzPending
		if d.lx.words.has(d.hashes[j]) {
			b |= gzWord
		}
		d.bits[j] = b
	}
	return b
}

// gazOf returns the gazetteer bits of token j as the features see them
// (without the name categories when training hides them).
func (d *doc) gazOf(j int) uint32 {
	b := d.gaz(j)
	if d.dropG != nil && d.dropG[j] {
		b &^= nameGaz
	}
	return b
}

// Kinds of the token before a candidate (ftPrevKind).
const (
	pkLine = iota
	pkLower
	pkName
	pkTitle
	pkUpper
	pkDot
	pkColon
	pkComma
	pkPunct
	pkNum
	pkCovered
)

func (d *doc) prevKind(i int) uint64 {
	if i == 0 || d.toks[i].flags&tfLineStart != 0 {
		return pkLine
	}
	j := i - 1
	t := d.toks[j]
	switch {
	case d.covered[j] != None:
		return pkCovered
	case t.kind == tkNum:
		return pkNum
	case t.kind == tkPunct:
		switch d.s[t.start] {
		case '.':
			if j > 0 && d.bits[j-1]&gzTitle != 0 {
				return pkTitle
			}
			return pkDot
		case ':':
			return pkColon
		case ',':
			return pkComma
		}
		return pkPunct
	case d.bits[j]&gzTitle != 0:
		return pkTitle
	case d.cand[j]:
		return pkName
	case t.flags&tfUpper != 0:
		return pkUpper
	}
	return pkLower
}

// features appends the feature hashes of candidate token i to f. During
// training, d.dropW, d.dropG and d.dropA hide a token's identity, its name
// categories or its affixes (see Train).
func (d *doc) features(i int, f []uint64) []uint64 {
	n := len(d.toks)
	t := d.toks[i]
	w0 := d.vh[i]
	sh0 := d.shape(i)
	g0 := d.gazOf(i)
	dropWord := d.dropW != nil && d.dropW[i]
	f = append(f, mix(ftBias, 0), mix(ftShape0, sh0))
	if !dropWord {
		f = append(f, mix(ftW0, w0))
	}
	if d.dropA == nil || !d.dropA[i] {
		// Affixes of the folded word.
		d.scratch = appendFold(d.scratch[:0], d.s[t.start:t.end])
		fw := d.scratch
		if len(fw) >= 4 {
			f = append(f, mix(ftPre3, hashBytes(fnvOffset, fw[:3])), mix(ftSuf3, hashBytes(fnvOffset, fw[len(fw)-3:])))
			if len(fw) >= 6 {
				f = append(f, mix(ftSuf4, hashBytes(fnvOffset, fw[len(fw)-4:])))
			}
		}
	}
	for b := g0; b != 0; b &= b - 1 {
		f = append(f, mix(ftGaz, uint64(bitIndex(b&-b))))
	}
	c0 := uint64(g0 & comboMask)
	f = append(f, mix(ftGazCombo, c0), mix(ftShapeGaz, mix(sh0, c0)))
	if g0&gzFirst != 0 && g0&gzLast != 0 {
		f = append(f, mix(ftFirstLast, 1))
	}

	// Neighbours, not crossing line breaks. Neighbours that are names
	// themselves count by their shape only (ch), not their identity.
	wm1, wm2, wp1, wp2 := hBOS, hBOS, hEOS, hEOS
	shm1, shp1 := hBOS, hEOS
	var gm1, gp1 uint64 = 1 << 40, 1 << 41
	if t.flags&tfLineStart != 0 {
		wm1, wm2, shm1 = hNL, hNL, hNL
	} else if i > 0 {
		wm1, shm1, gm1 = d.ch[i-1], d.shape(i-1), uint64(d.gazOf(i-1)&comboMask)
		if d.toks[i-1].flags&tfLineStart != 0 {
			wm2 = hNL
		} else if i > 1 {
			wm2 = d.ch[i-2]
		}
	}
	if i+1 < n {
		if d.toks[i+1].flags&tfNewline != 0 {
			wp1, wp2, shp1 = hNL, hNL, hNL
		} else {
			wp1, shp1, gp1 = d.ch[i+1], d.shape(i+1), uint64(d.gazOf(i+1)&comboMask)
			if i+2 < n {
				if d.toks[i+2].flags&tfNewline != 0 {
					wp2 = hNL
				} else {
					wp2 = d.ch[i+2]
				}
			}
		}
	}
	var ls uint64
	if t.flags&tfLineStart != 0 {
		ls = 1
	}
	if d.caps[i] {
		ls |= 2
	}
	f = append(f,
		mix(ftWm1, wm1), mix(ftWp1, wp1),
		mix(ftShapeM1, shm1), mix(ftShapeP1, shp1),
		mix(ftGazM1, gm1), mix(ftGazP1, gp1),
		mix(ftBiM, mix(wm2, wm1)), mix(ftBiP, mix(wp1, wp2)),
		mix(ftWm1Shape, mix(wm1, sh0)),
		mix(ftLineShape, mix(ls, sh0)),
		mix(ftWm1Gaz, mix(wm1, c0)),
		mix(ftWp1Gaz, mix(wp1, c0)),
		mix(ftPrevKind, mix(d.prevKind(i)|uint64(g0&gzWord)<<8, sh0)),
	)
	if !dropWord {
		f = append(f, mix(ftW0Wm1, mix(w0, wm1)))
	}
	return d.runFeatures(i, f, sh0)
}

// runFeatures describes the run of name-like words that contains token i
// ("Jean-Pierre DUPONT", "Marie de la Tour"): its length, the position of
// i in it, the words before and after the run and its place on the line.
// They let the labeller tell a first name from a family name by position
// ("Dr Jean DUPONT", "Nom : DUPONT Jean") when neither word is known.
func (d *doc) runFeatures(i int, f []uint64, sh0 uint64) []uint64 {
	if !d.cand[i] {
		return append(f, mix(ftRunPos, 0xff))
	}
	n := len(d.toks)
	a, b := i, i
	// At most maxRun tokens either side, so that a line of a thousand
	// capitalised words costs no more per word than a short one.
	for a > 0 && a > i-maxRun && d.toks[a].flags&tfLineStart == 0 && d.cand[a-1] {
		a--
	}
	for b+1 < n && b < i+maxRun && d.toks[b+1].flags&tfNewline == 0 && d.cand[b+1] {
		b++
	}
	rp := uint64(min(b-a+1, 4))<<4 | uint64(min(i-a, 3))<<2 | uint64(min(b-i, 3))
	before, before2 := hNL, hNL
	var gb uint64
	startsLine := d.toks[a].flags&tfLineStart != 0
	if !startsLine && a > 0 {
		p := a - 1
		if d.isPunct(p, '.') && p > 0 && d.bits[p-1]&gzTitle != 0 && d.toks[p].flags&tfLineStart == 0 {
			p--
		}
		before = d.vh[p]
		gb = uint64(d.gaz(p) & (gzTitle | gzRelative | gzWord | gzBirth))
		if d.toks[p].flags&tfLineStart == 0 && p > 0 {
			before2 = d.ch[p-1]
		}
	}
	after, after2 := hNL, hNL
	endsLine := true
	if q := b + 1; q < n && d.toks[q].flags&tfNewline == 0 {
		endsLine = false
		after = d.vh[q]
		if q+1 < n && d.toks[q+1].flags&tfNewline == 0 {
			after2 = d.ch[q+1]
		}
	}
	var rs uint64 = fnvOffset
	for k := a; k <= b && k < a+4; k++ {
		rs = mix(rs, d.shape(k))
	}
	var lf uint64
	if startsLine {
		lf |= 1 << 8
	}
	if endsLine {
		lf |= 1 << 9
	}
	return append(f,
		mix(ftRunPos, rp),
		mix(ftRunPosShape, mix(rp, sh0)),
		mix(ftRunBefore, mix(before, rp)),
		mix(ftRunBefore2, mix(mix(before2, before), rp)),
		mix(ftRunAfter, mix(after, rp)),
		mix(ftRunAfter2, mix(mix(after, after2), rp)),
		mix(ftRunShapes, mix(rs, rp)),
		mix(ftRunLine, rp|lf),
		mix(ftRunBeforeGaz, mix(gb, rp|lf)),
	)
}

// maxRun bounds the look-around of runFeatures.
const maxRun = 6

func bitIndex(b uint32) int {
	n := 0
	for b > 1 {
		b >>= 1
		n++
	}
	return n
}

// emissions scores candidate token i for every tag (up to a constant:
// the score of O is 0).
func (m *Model) emissions(feats []uint64, out *[numTags]float32) {
	// Scalars, not an array: the compiler keeps them in registers.
	var a1, a2, a3, a4, a5, a6 int32
	slots := m.slots
	mask := uint64(len(slots) - 1)
	shift := m.shift
	bloom := &m.bloom
	for _, f := range feats {
		if b1, b2 := bloomPos(f); bloom[b1>>6]&(1<<(b1&63)) == 0 || bloom[b2>>6]&(1<<(b2&63)) == 0 {
			continue
		}
		fp := fingerprint32(f)
		for i := (f * 0x9e3779b97f4a7c15) >> shift; ; i = (i + 1) & mask {
			sl := &slots[i]
			if sl.fp == fp {
				a1 += int32(sl.w[0])
				a2 += int32(sl.w[1])
				a3 += int32(sl.w[2])
				a4 += int32(sl.w[3])
				a5 += int32(sl.w[4])
				a6 += int32(sl.w[5])
				break
			}
			if sl.fp == 0 {
				break
			}
		}
	}
	sc := m.scale
	*out = [numTags]float32{0, float32(a1) * sc, float32(a2) * sc, float32(a3) * sc, float32(a4) * sc, float32(a5) * sc, float32(a6) * sc}
}

// allowedTag[a][b] reports whether tag b may follow tag a (BIO).
var allowedTag = func() (t [numTags][numTags]bool) {
	for a := 0; a < numTags; a++ {
		for b := 0; b < numTags; b++ {
			t[a][b] = allowed(a, b)
		}
	}
	return t
}()

// viterbi decodes one segment of emissions (the tags before and after the
// segment are O). It writes the best tags to tags.
func viterbi(trans *[numTags][numTags]float32, em [][numTags]float32, tags []int, back [][numTags]int8) {
	n := len(em)
	if n == 1 {
		// One token (most segments): O or a B- tag.
		best, arg := float32(math.Inf(-1)), 0
		for t := 0; t < numTags; t++ {
			if !allowedTag[tagO][t] {
				continue
			}
			if v := trans[tagO][t] + em[0][t] + trans[t][tagO]; v > best {
				best, arg = v, t
			}
		}
		tags[0] = arg
		return
	}
	var score, next [numTags]float32
	for t := 0; t < numTags; t++ {
		if !allowedTag[tagO][t] {
			score[t] = float32(math.Inf(-1))
			continue
		}
		score[t] = trans[tagO][t] + em[0][t]
	}
	for i := 1; i < n; i++ {
		for t := 0; t < numTags; t++ {
			best, arg := float32(math.Inf(-1)), int8(0)
			for p := 0; p < numTags; p++ {
				if !allowedTag[p][t] {
					continue
				}
				if v := score[p] + trans[p][t]; v > best {
					best, arg = v, int8(p)
				}
			}
			next[t] = best + em[i][t]
			back[i][t] = arg
		}
		score = next
	}
	best, arg := float32(math.Inf(-1)), 0
	for t := 0; t < numTags; t++ {
		if v := score[t] + trans[t][tagO]; v > best {
			best, arg = v, t
		}
	}
	tags[n-1] = arg
	for i := n - 1; i > 0; i-- {
		tags[i-1] = int(back[i][tags[i]])
	}
}

// label runs the model over the candidate segments of the document and
// appends its spans to d.model.
func (d *doc) label(m *Model) {
	if m.Features() == 0 {
		return
	}
	n := len(d.toks)
	for i := 0; i < n; {
		if !d.cand[i] {
			i++
			continue
		}
		j := i
		for j < n && d.cand[j] {
			j++
		}
		seg := j - i
		d.em = grow(d.em, seg)
		d.back = grow(d.back, seg)
		d.tags = grow(d.tags, seg)
		for k := 0; k < seg; k++ {
			d.feats = d.features(i+k, d.feats[:0])
			m.emissions(d.feats, &d.em[k])
		}
		viterbi(&m.trans, d.em[:seg], d.tags[:seg], d.back[:seg])
		d.tagsToSpans(i, d.tags[:seg], srcModel)
		i = j
	}
}

// tagsToSpans converts BIO tags of tokens from first on to spans.
func (d *doc) tagsToSpans(first int, tags []int, src uint8) {
	for k := 0; k < len(tags); {
		t := tags[k]
		if t == tagO || isInside(t) {
			k++
			continue
		}
		e := k
		for e+1 < len(tags) && tags[e+1] == t+1 {
			e++
		}
		d.model = append(d.model, span{start: d.toks[first+k].start, end: d.toks[first+e].end, label: tagLabels[t], src: src})
		k = e + 1
	}
}

// Serialisation: "HYGDEID2", then a gzip stream of: number of tags, the
// transition matrix (float32), the number of features, and for each
// feature in increasing hash order the delta-encoded hash (uvarint), a
// bit mask of non-zero tags and those weights quantised to int16 with one
// global scale.

// Version 2 (the run and neighbour-shape features) replaced version 1,
// whose feature hashes mean nothing to this code.
var modelMagic = []byte("HYGDEID2")

// WriteTo writes the model in its binary format.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	if _, err := cw.Write(modelMagic); err != nil {
		return cw.n, err
	}
	zw, _ := gzip.NewWriterLevel(cw, gzip.BestCompression)
	bw := bufio.NewWriter(zw)
	var scratch [binary.MaxVarintLen64]byte
	put := func(v uint64) { bw.Write(scratch[:binary.PutUvarint(scratch[:], v)]) }
	put(numTags)
	for a := 0; a < numTags; a++ {
		for b := 0; b < numTags; b++ {
			binary.Write(bw, binary.LittleEndian, m.trans[a][b])
		}
	}
	var maxAbs float32
	for _, v := range m.w {
		maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
	}
	scale := maxAbs / 32767
	if scale == 0 {
		scale = 1
	}
	binary.Write(bw, binary.LittleEndian, scale)
	order := make([]int, len(m.keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(m.keys[a], m.keys[b]) })
	put(uint64(len(order)))
	var prev uint64
	for _, row := range order {
		k := m.keys[row]
		put(k - prev)
		prev = k
		ws := m.w[int(row)*numTags : int(row)*numTags+numTags]
		var mask byte
		var q [numTags]int16
		for t, v := range ws {
			q[t] = int16(math.Round(float64(v / scale)))
			if q[t] != 0 {
				mask |= 1 << t
			}
		}
		bw.WriteByte(mask)
		for t := range ws {
			if mask&(1<<t) != 0 {
				binary.Write(bw, binary.LittleEndian, q[t])
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	if err := zw.Close(); err != nil {
		return cw.n, err
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadModel reads a model written by WriteTo.
func ReadModel(r io.Reader) (*Model, error) {
	magic := make([]byte, len(modelMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, modelMagic) {
		if bytes.Equal(magic, []byte("HYGDEID1")) {
			return nil, errors.New("deid: model of an older version of hygie: train it again (hygie deid train)")
		}
		return nil, errors.New("deid: not a de-identification model")
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("deid: model: %w", err)
	}
	br := bufio.NewReader(zr)
	nt, err := binary.ReadUvarint(br)
	if err != nil || nt != numTags {
		return nil, errors.New("deid: model has another tag set")
	}
	m := &Model{}
	for a := 0; a < numTags; a++ {
		for b := 0; b < numTags; b++ {
			if err := binary.Read(br, binary.LittleEndian, &m.trans[a][b]); err != nil {
				return nil, fmt.Errorf("deid: model: %w", err)
			}
		}
	}
	var scale float32
	if err := binary.Read(br, binary.LittleEndian, &scale); err != nil {
		return nil, fmt.Errorf("deid: model: %w", err)
	}
	nf, err := binary.ReadUvarint(br)
	if err != nil || nf > 1<<26 {
		return nil, errors.New("deid: model: bad feature count")
	}
	m.keys = make([]uint64, 0, int(nf))
	m.w = make([]float32, 0, int(nf)*numTags)
	var k uint64
	for i := uint64(0); i < nf; i++ {
		delta, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("deid: model: %w", err)
		}
		k += delta
		mask, err := br.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("deid: model: %w", err)
		}
		var row [numTags]float32
		for t := 0; t < numTags; t++ {
			if mask&(1<<t) != 0 {
				var q int16
				if err := binary.Read(br, binary.LittleEndian, &q); err != nil {
					return nil, fmt.Errorf("deid: model: %w", err)
				}
				row[t] = float32(q) * scale
			}
		}
		m.add(k, row[:])
	}
	m.build()
	return m, nil
}
