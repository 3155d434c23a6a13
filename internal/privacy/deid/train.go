package deid

import (
	"errors"
	"math"
	"math/rand/v2"
	"unicode/utf8"
)

// TrainOptions tune the perceptron training.
type TrainOptions struct {
	Epochs  int     // passes over the corpus (default 8)
	Seed    uint64  // shuffling and feature dropout
	DropW   float64 // probability of hiding a token's own word and affixes (default 0.25)
	DropG   float64 // probability of hiding a token's gazetteer hits (default 0.15)
	DropDoc float64 // probability of a document whose names all lose identity and gazetteer hits (default 0.2)
	DropA   float64 // probability of hiding a name token's affixes (default 0.1)
	Prune   float32 // drop features whose weights are all below this (default 0.01)
	// Progress, if set, is called after each epoch with the number of
	// segments that were mislabelled during that epoch.
	Progress func(epoch, errors, segments int)
}

// Train learns a sequence labelling model from annotated documents. Only the
// NOM, PRENOM and VILLE entities that the rule layer does not already cover
// teach the labeller; the other labels are found by patterns.
func Train(docs []Document, opt TrainOptions) (*Model, error) {
	if len(docs) == 0 {
		return nil, errors.New("deid: no training documents")
	}
	if opt.Epochs <= 0 {
		opt.Epochs = 8
	}
	if opt.DropW == 0 {
		opt.DropW = 0.25
	}
	if opt.DropG == 0 {
		opt.DropG = 0.15
	}
	if opt.DropDoc == 0 {
		opt.DropDoc = 0.2
	}
	if opt.DropA == 0 {
		opt.DropA = 0.1
	}
	if opt.Prune == 0 {
		opt.Prune = 0.01
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x68796769))
	tr := &trainer{index: map[uint64]int32{}}
	d := &Deidentifier{lx: defaultLexicon()}
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	x := &doc{}
	var gold, pred []int
	var feats []uint64
	var offs []int
	for epoch := 1; epoch <= opt.Epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		errs, segs := 0, 0
		for _, di := range order {
			doc := &docs[di]
			x.s = doc.Text
			x.lx = d.lx
			x.rules = x.rules[:0]
			x.model = x.model[:0]
			x.out = x.out[:0]
			x.toks, x.hashes = tokenizeHashed(x.s, x.toks, x.hashes, true)
			n := len(x.toks)
			x.bits = grow(x.bits, n)
			x.covered = grow(x.covered, n)
			d.lx.annotate(x.s, x.toks, x.hashes, x.bits)
			x.runRules()
			x.resolveRules()
			x.prepareLabeller()
			tags, names := goldTags(x, doc.Entities)
			oov := rng.Float64() < opt.DropDoc
			// Dropout teaches the labeller to find names that are neither
			// in the gazetteer nor in the training corpus: name tokens lose
			// their identity and gazetteer hits (all of them in an
			// "out-of-vocabulary" document), also where they are the
			// neighbours of another token, and sometimes their affixes.
			x.dropW = grow(x.dropW, n)
			x.dropG = grow(x.dropG, n)
			x.dropA = grow(x.dropA, n)
			for k := 0; k < n; k++ {
				x.dropW[k], x.dropG[k], x.dropA[k] = false, false, false
				if names[k] {
					x.dropW[k] = oov || rng.Float64() < opt.DropW
					x.dropG[k] = oov || rng.Float64() < opt.DropG
					x.dropA[k] = rng.Float64() < opt.DropA
				} else if x.cand[k] {
					x.dropW[k] = rng.Float64() < opt.DropW/4
				}
			}
			for i := 0; i < n; {
				if !x.cand[i] {
					i++
					continue
				}
				j := i
				for j < n && x.cand[j] {
					j++
				}
				seg := j - i
				segs++
				feats = feats[:0]
				offs = offs[:0]
				x.em = grow(x.em, seg)
				x.back = grow(x.back, seg)
				pred = grow(pred, seg)
				for k := 0; k < seg; k++ {
					offs = append(offs, len(feats))
					feats = x.features(i+k, feats)
					tr.emissions(feats[offs[k]:], &x.em[k])
				}
				offs = append(offs, len(feats))
				viterbi(&tr.trans, x.em[:seg], pred[:seg], x.back[:seg])
				gold = tags[i:j]
				tr.c++
				if !equalInts(gold, pred[:seg]) {
					errs++
					prevG, prevP := tagO, tagO
					for k := 0; k < seg; k++ {
						g, p := gold[k], pred[k]
						if g != p {
							for _, f := range feats[offs[k]:offs[k+1]] {
								tr.update(f, g, 1)
								tr.update(f, p, -1)
							}
						}
						if g != p || prevG != prevP {
							tr.updateTrans(prevG, g, 1)
							tr.updateTrans(prevP, p, -1)
						}
						prevG, prevP = g, p
					}
					if prevG != prevP {
						tr.updateTrans(prevG, tagO, 1)
						tr.updateTrans(prevP, tagO, -1)
					}
				}
				i = j
			}
		}
		if opt.Progress != nil {
			opt.Progress(epoch, errs, segs)
		}
	}
	return tr.average(opt.Prune), nil
}

func equalInts(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// goldTags returns the BIO tag of every candidate token from the gold
// entities, and which tokens (candidates or not) are inside a gold name.
func goldTags(x *doc, ents []Entity) ([]int, []bool) {
	tags := make([]int, len(x.toks))
	names := make([]bool, len(x.toks))
	if len(ents) == 0 {
		return tags, names
	}
	// Code points → bytes.
	cpToByte := make([]int32, 0, len(x.s)+1)
	for b := range x.s {
		cpToByte = append(cpToByte, int32(b))
	}
	cpToByte = append(cpToByte, int32(len(x.s)))
	_ = utf8.RuneError
	for _, e := range ents {
		bt := beginTag(e.Label)
		if bt == tagO || e.Start < 0 || e.End > len(cpToByte)-1 || e.Start >= e.End {
			continue
		}
		bs, be := cpToByte[e.Start], cpToByte[e.End]
		first := true
		for i := x.tokAtOrAfter(int(bs)); i < len(x.toks) && x.toks[i].end <= be; i++ {
			names[i] = true
			if !x.cand[i] {
				if !first {
					first = true // a gap: restart the entity
				}
				continue
			}
			if first {
				tags[i] = bt
				first = false
			} else {
				tags[i] = bt + 1
			}
		}
	}
	return tags, names
}

type trainer struct {
	index         map[uint64]int32
	w, u          []float32
	trans, transU [numTags][numTags]float32
	c             float32
}

func (tr *trainer) emissions(feats []uint64, out *[numTags]float32) {
	*out = [numTags]float32{}
	for _, f := range feats {
		row, ok := tr.index[f]
		if !ok {
			continue
		}
		w := tr.w[int(row)*numTags : int(row)*numTags+numTags]
		for t := 0; t < numTags; t++ {
			out[t] += w[t]
		}
	}
}

func (tr *trainer) update(f uint64, tag int, delta float32) {
	row, ok := tr.index[f]
	if !ok {
		row = int32(len(tr.w) / numTags)
		tr.index[f] = row
		var zero [numTags]float32
		tr.w = append(tr.w, zero[:]...)
		tr.u = append(tr.u, zero[:]...)
	}
	i := int(row)*numTags + tag
	tr.w[i] += delta
	tr.u[i] += tr.c * delta
}

func (tr *trainer) updateTrans(a, b int, delta float32) {
	tr.trans[a][b] += delta
	tr.transU[a][b] += tr.c * delta
}

// average returns the averaged weights, without the features whose
// averaged weights are all smaller than prune in absolute value.
func (tr *trainer) average(prune float32) *Model {
	m := &Model{}
	c := tr.c
	if c == 0 {
		c = 1
	}
	for a := 0; a < numTags; a++ {
		for b := 0; b < numTags; b++ {
			m.trans[a][b] = tr.trans[a][b] - tr.transU[a][b]/c
		}
	}
	for f, row := range tr.index {
		var ws [numTags]float32
		keep := false
		for t := 0; t < numTags; t++ {
			i := int(row)*numTags + t
			ws[t] = tr.w[i] - tr.u[i]/c
			if float32(math.Abs(float64(ws[t]))) >= prune {
				keep = true
			}
		}
		if !keep {
			continue
		}
		m.add(f, ws[:])
	}
	m.build()
	return m
}
