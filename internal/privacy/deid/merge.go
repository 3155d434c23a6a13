package deid

import "strings"

// merge adds the labeller's spans that survive the filters to x.out (which
// already holds the rule spans): no overlap with a rule span, no eponym, no
// lone drug name.
func (x *doc) merge() {
	for _, sp := range x.model {
		if x.isTaken(sp) {
			continue
		}
		i := x.tokAtOrAfter(int(sp.start))
		if i >= len(x.toks) {
			continue
		}
		if x.eponymContext(i) {
			continue
		}
		if sp.label != Ville && x.toks[i].end == sp.end && x.bits[i]&(gzDrug|gzMed) != 0 && x.bits[i]&(gzFirst|gzLast) == 0 && !x.afterTitle(i) {
			continue
		}
		x.out = append(x.out, sp)
		for k := i; k < len(x.toks) && x.toks[k].start < sp.end; k++ {
			x.covered[k] = sp.label
		}
	}
}

// afterTitle reports whether token i follows a title (Dr, Mme, M.).
func (x *doc) afterTitle(i int) bool {
	if i > 0 && x.bits[i-1]&gzTitle != 0 {
		return true
	}
	return i > 1 && x.isPunct(i-1, '.') && x.bits[i-2]&gzTitle != 0
}

// eponymContext reports whether the capitalised run containing token i is
// an eponym: introduced by "maladie de", "signe de", "score de"..., or an
// eponym of the list that is not also a person name, without a title.
func (x *doc) eponymContext(i int) bool {
	if x.bits[i]&gzEponym != 0 && x.bits[i]&(gzFirst|gzLast|gzName) == 0 && !x.afterTitle(i) {
		return true
	}
	// Start of the run of capitalised words (and inner particles).
	k := i
	for k > 0 && x.toks[k].flags&tfLineStart == 0 {
		p := x.toks[k-1]
		if p.kind == tkWord && (p.flags&tfUpper != 0 || (x.bits[k-1]&gzParticle != 0 && k-2 >= 0 && x.toks[k-2].flags&tfUpper != 0)) {
			k--
			continue
		}
		break
	}
	if x.afterTitle(k) || x.toks[k].flags&tfLineStart != 0 || k == 0 {
		return false
	}
	h := x.hashes[k-1]
	if (h == hDe || h == hD || h == hDu || h == hDes) && k >= 2 {
		return x.lx.isTrigger(x.hashes[k-2])
	}
	return x.lx.isTrigger(h) && x.bits[i]&gzEponym != 0
}

// propagate masks every other occurrence of the names and numbers already
// found: a name found once is masked everywhere in the document. It is
// linear in the document: occurrences are looked up by the hash of their
// first token.
func (x *doc) propagate() {
	if len(x.out) == 0 {
		return
	}
	covered := x.covered // the tokens of x.out (resolveRules, merge)
	names := x.names[:0]
	numbers := x.numbers[:0]
	defer func() { x.names, x.numbers = names[:0], numbers[:0] }()
	n := len(x.toks)
	for _, sp := range x.out {
		switch sp.label {
		case Nom, Prenom, Ville:
			if sp.end-sp.start < 2 {
				continue
			}
			i := x.tokAtOrAfter(int(sp.start))
			j := i
			for j < n && x.toks[j].start < sp.end {
				j++
			}
			if j > i {
				names = append(names, nameSeq{from: i, to: j, label: sp.label})
			}
		case IPP, NDA, Secu, Tel:
			if sp.end-sp.start >= 6 {
				numbers = append(numbers, sp)
			}
		}
	}
	if len(names) == 0 && len(numbers) == 0 {
		return
	}
	// Chains of names and numbers by the hash of their first token (the
	// first occurrence of a name wins: chains are walked in order), in a
	// small open-addressing table sized to them.
	m := len(names) + len(numbers)
	size := 8
	for size < 2*m {
		size <<= 1
	}
	ht := grow(x.heads, size)
	x.heads = ht
	for k := range ht {
		ht[k] = headSlot{idx: -1}
	}
	next := grow(x.next, m)
	x.next = next
	link := func(h uint64, k int32) {
		for p := h & uint64(size-1); ; p = (p + 1) & uint64(size-1) {
			if ht[p].idx < 0 {
				ht[p] = headSlot{h: h, idx: k}
				next[k] = -1
				return
			}
			if ht[p].h == h {
				next[k] = ht[p].idx
				ht[p].idx = k
				return
			}
		}
	}
	head := func(h uint64) int32 {
		for p := h & uint64(size-1); ; p = (p + 1) & uint64(size-1) {
			if ht[p].idx < 0 || ht[p].h == h {
				return ht[p].idx
			}
		}
	}
	for k := len(names) - 1; k >= 0; k-- {
		link(x.hashes[names[k].from], int32(k))
	}
	for k := len(numbers) - 1; k >= 0; k-- {
		link(x.hashes[x.tokAtOrAfter(int(numbers[k].start))]^numberSalt, int32(len(names)+k))
	}
	for i := 0; i < n; i++ {
		t := x.toks[i]
		if covered[i] != None {
			continue
		}
		switch {
		case t.kind == tkWord && t.flags&tfUpper != 0 && len(names) > 0:
			for k := head(x.hashes[i]); k >= 0; k = next[k] {
				c := names[k]
				ln := c.to - c.from
				end := i + ln - 1
				if end >= n {
					continue
				}
				match := true
				for m := 1; m < ln; m++ {
					if x.hashes[i+m] != x.hashes[c.from+m] || covered[i+m] != None {
						match = false
						break
					}
				}
				if !match || x.eponymContext(i) {
					continue
				}
				x.out = append(x.out, span{start: t.start, end: x.toks[end].end, label: c.label, src: srcPropagated})
				for m := i; m <= end; m++ {
					covered[m] = c.label
				}
				i = end
				break
			}
		case (t.kind == tkNum || x.s[t.start] == '+') && len(numbers) > 0:
			if alnumBefore(x.s, int(t.start)) {
				continue
			}
			for k := head(x.hashes[i] ^ numberSalt); k >= 0; k = next[k] {
				sp := numbers[int(k)-len(names)]
				v := x.s[sp.start:sp.end]
				p := int(t.start)
				q := p + len(v)
				if !strings.HasPrefix(x.s[p:], v) || alnumAt(x.s, q) {
					continue
				}
				free := true
				e := i
				for ; e < n && x.toks[e].start < int32(q); e++ {
					if covered[e] != None {
						free = false
						break
					}
				}
				if !free {
					continue
				}
				x.out = append(x.out, span{start: int32(p), end: int32(q), label: sp.label, src: srcPropagated})
				for m := i; m < e; m++ {
					covered[m] = sp.label
				}
				i = e - 1
				break
			}
		}
	}
}

type headSlot struct {
	h   uint64
	idx int32
}

// numberSalt keeps the chains of numbers apart from those of names.
const numberSalt = 0x6e756d62657273

func equalHashes(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// nameSeq is a name found in a document: the token range of its first
// occurrence and its label.
type nameSeq struct {
	from, to int
	label    Label
}
