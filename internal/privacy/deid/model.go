package deid

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
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
	index *table    // feature hash → row in w
	w     []float32 // rows × numTags
	trans [numTags][numTags]float32
}

// Features returns the number of features with weights.
func (m *Model) Features() int {
	if m == nil || m.index == nil {
		return 0
	}
	return m.index.len()
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
	ftLen
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
	ftNeighCaps
	ftWm1Gaz
	ftWp1Gaz
	ftW0Wm1
	ftFirstLast
)

const comboMask = gzFirst | gzLast | gzName | gzCommune | gzEponym | gzDrug | gzMed | gzTitle | gzHosp | gzMulti | gzWord | gzRelative | gzParticle

// nameGaz are the categories hidden by gazetteer dropout in training.
const nameGaz = gzFirst | gzFirstF | gzFirstM | gzLast | gzName | gzCommune | gzCommuneBig | gzHosp | gzEponym | gzMulti

var (
	hNL    = hashString(fnvOffset, "<NL>")
	hBOS   = hashString(fnvOffset, "<BOS>")
	hEOS   = hashString(fnvOffset, "<EOS>")
	hNumT  = hashString(fnvOffset, "<NUM>")
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
	d.shapes = grow(d.shapes, n)
	d.cand = grow(d.cand, n)
	d.capsLines()
	for i := 0; i < n; i++ {
		t := d.toks[i]
		switch {
		case d.covered[i] != None:
			d.vh[i] = hLabel[d.covered[i]]
		case t.kind == tkNum:
			d.vh[i] = hNumT
		default:
			d.vh[i] = d.hashes[i]
		}
		d.shapes[i] = 0 // computed on demand by shape()
		d.cand[i] = false
	}
	for i := 0; i < n; i++ {
		t := d.toks[i]
		if t.kind != tkWord || d.covered[i] != None {
			continue
		}
		if t.flags&tfUpper != 0 {
			// Capitalised clinical words, drugs, months and days that are
			// no person or place name are never names: skip them.
			b := d.bits[i]
			if b&(gzFirst|gzLast|gzName|gzCommune|gzHosp) == 0 {
				if b&(gzMed|gzDrug|gzMonth|gzWeekday) != 0 || isRoman(d.s[t.start:t.end]) {
					continue
				}
				// A common word that is no known name, alone (the next
				// token is no capitalised word) and not after a title or a
				// family relation ("Traitement :", "Bonne tolérance").
				if b&gzWord != 0 && !(i+1 < n && d.toks[i+1].kind == tkWord && d.toks[i+1].flags&(tfUpper|tfNewline) == tfUpper) &&
					!(i > 0 && (d.bits[i-1]&(gzTitle|gzRelative) != 0 || (d.isPunct(i-1, '.') && i > 1 && d.bits[i-2]&gzTitle != 0))) {
					continue
				}
			}
			d.cand[i] = true
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
			d.cand[i] = true
			continue
		}
		if d.bits[i]&gzParticle != 0 && (d.cand[i-1] || d.bits[i-1]&gzTitle != 0 || d.isPunct(i-1, ':')) && i+1 < n && d.toks[i+1].kind == tkWord && d.toks[i+1].flags&(tfUpper|tfNewline) == tfUpper {
			d.cand[i] = true
		}
	}
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
// rarely a name.
func (d *doc) capsLines() {
	n := len(d.toks)
	d.caps = grow(d.caps, n)
	for i := 0; i < n; {
		j := i + 1
		for j < n && d.toks[j].flags&tfNewline == 0 {
			j++
		}
		words, caps := 0, 0
		for k := i; k < j; k++ {
			if d.toks[k].kind == tkWord {
				words++
				if d.toks[k].flags&tfAllCaps != 0 {
					caps++
				}
			}
		}
		v := words >= 3 && caps == words
		for k := i; k < j; k++ {
			d.caps[k] = v
		}
		i = j
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

// shapeHash hashes the collapsed character classes of a token: "Dupont" →
// "Xx", "DUPONT" → "X", "Jean-Pierre" → "Xx-Xx", "d'" → "x'".
func shapeHash(w string) uint64 {
	h := uint64(fnvOffset)
	var last byte
	n := 0
	for _, r := range w {
		var c byte
		switch {
		case r >= '0' && r <= '9':
			c = 'd'
		case r == '-':
			c = '-'
		case r == '\'' || r == '\u2019':
			c = '\''
		case r < 128 && r >= 'A' && r <= 'Z':
			c = 'X'
		case r < 128 && r >= 'a' && r <= 'z':
			c = 'x'
		case isUpperRune(r):
			c = 'X'
		case isLowerRune(r):
			c = 'x'
		default:
			c = '.'
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

// features appends the feature hashes of candidate token i to f.
func (d *doc) features(i int, f []uint64, dropWord, dropGaz bool) []uint64 {
	n := len(d.toks)
	t := d.toks[i]
	w0 := d.vh[i]
	sh0 := d.shape(i)
	g0 := d.bits[i]
	if dropGaz {
		g0 &^= nameGaz
	}
	f = append(f, mix(ftBias, 0), mix(ftShape0, sh0))
	if !dropWord {
		f = append(f, mix(ftW0, w0))
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
	l := t.end - t.start
	switch {
	case l <= 1:
		l = 1
	case l <= 3:
	case l <= 5:
		l = 5
	case l <= 8:
		l = 8
	default:
		l = 9
	}
	f = append(f, mix(ftLen, uint64(l)))
	for b := g0; b != 0; b &= b - 1 {
		f = append(f, mix(ftGaz, uint64(bitIndex(b&-b))))
	}
	c0 := uint64(g0 & comboMask)
	f = append(f, mix(ftGazCombo, c0), mix(ftShapeGaz, mix(sh0, c0)))
	if g0&gzFirst != 0 && g0&gzLast != 0 {
		f = append(f, mix(ftFirstLast, 1))
	}

	// Neighbours, not crossing line breaks.
	wm1, wm2, wp1, wp2 := hBOS, hBOS, hEOS, hEOS
	shm1, shp1 := hBOS, hEOS
	var gm1, gp1 uint64 = 1 << 40, 1 << 41
	capsM, capsP := false, false
	if t.flags&tfLineStart != 0 {
		wm1, wm2, shm1 = hNL, hNL, hNL
	} else if i > 0 {
		wm1, shm1, gm1 = d.vh[i-1], d.shape(i-1), uint64(d.bits[i-1]&comboMask)
		capsM = d.toks[i-1].kind == tkWord && d.toks[i-1].flags&tfUpper != 0
		if d.toks[i-1].flags&tfLineStart != 0 {
			wm2 = hNL
		} else if i > 1 {
			wm2 = d.vh[i-2]
		}
	}
	if i+1 < n {
		if d.toks[i+1].flags&tfNewline != 0 {
			wp1, wp2, shp1 = hNL, hNL, hNL
		} else {
			wp1, shp1, gp1 = d.vh[i+1], d.shape(i+1), uint64(d.bits[i+1]&comboMask)
			capsP = d.toks[i+1].kind == tkWord && d.toks[i+1].flags&tfUpper != 0
			if i+2 < n {
				if d.toks[i+2].flags&tfNewline != 0 {
					wp2 = hNL
				} else {
					wp2 = d.vh[i+2]
				}
			}
		}
	}
	var caps uint64
	if capsM {
		caps |= 1
	}
	if capsP {
		caps |= 2
	}
	var ls uint64
	if t.flags&tfLineStart != 0 {
		ls = 1
	}
	if d.caps[i] {
		ls |= 2
	}
	f = append(f,
		mix(ftWm1, wm1), mix(ftWm2, wm2), mix(ftWp1, wp1), mix(ftWp2, wp2),
		mix(ftShapeM1, shm1), mix(ftShapeP1, shp1),
		mix(ftGazM1, gm1), mix(ftGazP1, gp1),
		mix(ftBiM, mix(wm2, wm1)), mix(ftBiP, mix(wp1, wp2)),
		mix(ftWm1Shape, mix(wm1, sh0)),
		mix(ftLineShape, mix(ls, sh0)),
		mix(ftNeighCaps, mix(caps, sh0)),
		mix(ftWm1Gaz, mix(wm1, c0)),
		mix(ftWp1Gaz, mix(wp1, c0)),
	)
	if !dropWord {
		f = append(f, mix(ftW0Wm1, mix(w0, wm1)))
	}
	return f
}

func bitIndex(b uint32) int {
	n := 0
	for b > 1 {
		b >>= 1
		n++
	}
	return n
}

// emissions scores candidate token i for every tag.
func (m *Model) emissions(feats []uint64, out *[numTags]float32) {
	*out = [numTags]float32{}
	for _, f := range feats {
		row, ok := m.index.get(f)
		if !ok {
			continue
		}
		w := m.w[int(row)*numTags : int(row)*numTags+numTags : int(row)*numTags+numTags]
		out[0] += w[0]
		out[1] += w[1]
		out[2] += w[2]
		out[3] += w[3]
		out[4] += w[4]
		out[5] += w[5]
		out[6] += w[6]
	}
}

// viterbi decodes one segment of emissions (the tags before and after the
// segment are O). It writes the best tags to tags.
func viterbi(trans *[numTags][numTags]float32, em [][numTags]float32, tags []int, back [][numTags]int8) {
	n := len(em)
	var score, next [numTags]float32
	for t := 0; t < numTags; t++ {
		if !allowed(tagO, t) {
			score[t] = float32(math.Inf(-1))
			continue
		}
		score[t] = trans[tagO][t] + em[0][t]
	}
	for i := 1; i < n; i++ {
		for t := 0; t < numTags; t++ {
			best, arg := float32(math.Inf(-1)), int8(0)
			for p := 0; p < numTags; p++ {
				if !allowed(p, t) {
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
			d.feats = d.features(i+k, d.feats[:0], false, false)
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

// Serialisation: "HYGDEID1", then a gzip stream of: number of tags, the
// transition matrix (float32), the number of features, and for each
// feature in increasing hash order the delta-encoded hash (uvarint), a
// bit mask of non-zero tags and those weights quantised to int16 with one
// global scale.

var modelMagic = []byte("HYGDEID1")

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
	keys := make([]uint64, 0, m.index.len())
	rows := map[uint64]int32{}
	m.index.each(func(k uint64, v int32) {
		keys = append(keys, k)
		rows[k] = v
	})
	slices.Sort(keys)
	put(uint64(len(keys)))
	var prev uint64
	for _, k := range keys {
		put(k - prev)
		prev = k
		row := rows[k]
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
	m.index = newTable(int(nf))
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
		m.index.put(k, int32(i))
		m.w = append(m.w, row[:]...)
	}
	return m, nil
}
