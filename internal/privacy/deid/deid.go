// Package deid de-identifies French clinical free text on a plain CPU.
//
// It is hybrid: a rule layer finds what has a shape (social security
// numbers with their key, phone numbers in every French spelling, e-mails,
// dates, birth dates by context, postal codes, street addresses, named
// facilities, patient and stay numbers by their keywords); a gazetteer of
// first names, family names, communes and facilities, compiled into a trie
// over folded tokens, feeds a statistical sequence labeller (an averaged
// structured perceptron over BIO tags, decoded with Viterbi) that finds
// person and town names from their context. Spans are merged (rules win),
// eponyms are dropped ("maladie de Parkinson", "score de Glasgow"), and a
// name found once is masked everywhere in the document.
//
// Offsets of the entities count Unicode code points into the original
// text (end exclusive), as in the annotation guidelines; see docs/deid.md.
package deid

//go:generate go run ./internal/trainmodel -out data/model.bin.gz

import (
	"bytes"
	"cmp"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/privacy/deid/data"
)

// Deidentifier finds identifiers in French clinical text. It is safe for
// concurrent use.
type Deidentifier struct {
	lx    *lexicon
	model *Model
	pool  sync.Pool
}

var (
	defModelOnce sync.Once
	defModel     *Model
	defModelErr  error
)

// DefaultModel returns the embedded model (trained on the synthetic corpus
// of package synth), or nil if none is embedded.
func DefaultModel() (*Model, error) {
	defModelOnce.Do(func() {
		b := data.Model()
		if len(b) == 0 {
			return
		}
		defModel, defModelErr = ReadModel(bytes.NewReader(b))
	})
	return defModel, defModelErr
}

// New returns a de-identifier using model m; a nil m means the embedded
// default model.
func New(m *Model) (*Deidentifier, error) {
	if m == nil {
		var err error
		if m, err = DefaultModel(); err != nil {
			return nil, err
		}
	}
	return &Deidentifier{lx: defaultLexicon(), model: m}, nil
}

// newWithLexicon is used by tests and evaluation to measure the labeller
// on names missing from the gazetteer.
func newWithLexicon(m *Model, lx *lexicon) *Deidentifier {
	return &Deidentifier{lx: lx, model: m}
}

// NewWithout returns a de-identifier whose gazetteer lacks the given person
// and place names (to measure performance on out-of-vocabulary names).
func NewWithout(m *Model, names []string) (*Deidentifier, error) {
	if m == nil {
		var err error
		if m, err = DefaultModel(); err != nil {
			return nil, err
		}
	}
	ex := make(map[string]bool, len(names))
	for _, n := range names {
		ex[fold(n)] = true
	}
	return newWithLexicon(m, buildLexicon(data.Load(), ex)), nil
}

// Model returns the model in use.
func (d *Deidentifier) Model() *Model { return d.model }

// doc is the per-document workspace, pooled.
type doc struct {
	s       string
	lx      *lexicon
	toks    []token
	hashes  []uint64 // per token: hash of the folded word (raw bytes for punctuation)
	bits    []uint32 // per token: gazetteer categories
	rules   []span
	model   []span
	out     []span
	covered []Label
	vh      []uint64 // per token: folded hash, or a class (number, rule label)
	ch      []uint64 // per token as a neighbour: vh, or a class for name-like words
	shapes  []uint64
	cand    []bool // labelled by the model: may be (part of) a name
	caps    []bool // line in capitals
	lower   []bool // line with lower-case words
	feats   []uint64
	scratch []byte
	em      [][numTags]float32
	back    [][numTags]int8
	tags    []int
	names   []nameSeq // propagate
	numbers []span
	heads   []headSlot
	next    []int32
	taken   []uint64 // bytes of the text inside a kept rule span (bit set)
	// Training only (nil otherwise): hide a token's identity, its name
	// categories, its affixes.
	dropW, dropG, dropA []bool
}

func (d *Deidentifier) getDoc(s string) *doc {
	x, _ := d.pool.Get().(*doc)
	if x == nil {
		x = &doc{}
	}
	x.s = s
	x.lx = d.lx
	x.rules = x.rules[:0]
	x.model = x.model[:0]
	x.out = x.out[:0]
	return x
}

// analyse runs the whole pipeline up to the merged, propagated spans.
func (d *Deidentifier) analyse(x *doc) {
	x.toks, x.hashes = tokenizeHashed(x.s, x.toks, x.hashes, true)
	n := len(x.toks)
	x.bits = grow(x.bits, n)
	x.covered = grow(x.covered, n)
	d.lx.annotate(x.s, x.toks, x.hashes, x.bits)
	x.runRules()
	x.resolveRules()
	x.prepareLabeller()
	x.label(d.model)
	x.merge()
	x.propagate()
	sortSpans(x.out)
}

// sortSpans sorts spans by start (insertion sort when there are few).
func sortSpans(s []span) {
	if len(s) > 32 {
		slices.SortFunc(s, func(a, b span) int { return cmp.Compare(a.start, b.start) })
		return
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].start < s[j-1].start; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Detect returns the identifying entities of text, sorted by start.
func (d *Deidentifier) Detect(text string) []Entity {
	x := d.getDoc(text)
	defer d.pool.Put(x)
	d.analyse(x)
	return toEntities(text, x.out)
}

// labelPriority orders rule labels for spans of equal length.
var labelPriority = [numLabels]int{IPP: 12, NDA: 12, Secu: 11, Mail: 10, Tel: 9, DateNaissance: 8, Date: 7, Adresse: 6, Hopital: 5, Zip: 4, Ville: 3, Nom: 2, Prenom: 2}

// resolveRules keeps non-overlapping rule spans, longest first, and marks
// the tokens they cover.
func (x *doc) resolveRules() {
	slices.SortFunc(x.rules, func(a, b span) int {
		if c := cmp.Compare(b.end-b.start, a.end-a.start); c != 0 {
			return c
		}
		if c := cmp.Compare(labelPriority[b.label], labelPriority[a.label]); c != 0 {
			return c
		}
		return cmp.Compare(a.start, b.start)
	})
	// Bytes already taken, as a bit set: linear in the text, where
	// comparing every span with every kept span would be quadratic.
	x.taken = grow(x.taken, len(x.s)/64+1)
	clear(x.taken)
	kept := x.rules[:0]
	for _, sp := range x.rules {
		if !x.isTaken(sp) {
			kept = append(kept, sp)
			x.take(sp)
		}
	}
	x.rules = kept
	x.out = append(x.out[:0], kept...)
	clear(x.covered)
	for _, sp := range kept {
		for i := x.tokAtOrAfter(int(sp.start)); i < len(x.toks) && x.toks[i].start < sp.end; i++ {
			x.covered[i] = sp.label
		}
	}
}

// isTaken reports whether a byte of sp is inside a kept rule span.
func (x *doc) isTaken(sp span) bool {
	for b := int(sp.start); b < int(sp.end); b++ {
		if x.taken[b>>6]&(1<<(b&63)) != 0 {
			return true
		}
	}
	return false
}

func (x *doc) take(sp span) {
	for b := int(sp.start); b < int(sp.end); b++ {
		x.taken[b>>6] |= 1 << (b & 63)
	}
}

// tokAtOrAfter returns the first token starting at or after byte b.
func (x *doc) tokAtOrAfter(b int) int {
	lo, hi := 0, len(x.toks)
	for lo < hi {
		m := (lo + hi) / 2
		if int(x.toks[m].start) < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// toEntities converts byte spans (sorted by start, not overlapping) to
// code-point entities in one pass over the text.
func toEntities(s string, spans []span) []Entity {
	out := make([]Entity, len(spans))
	cp, pos := 0, 0
	for i, sp := range spans {
		cp += utf8.RuneCountInString(s[pos:sp.start])
		start := cp
		cp += utf8.RuneCountInString(s[sp.start:sp.end])
		pos = int(sp.end)
		out[i] = Entity{Start: start, End: cp, Label: sp.label, Text: s[sp.start:sp.end]}
	}
	return out
}
