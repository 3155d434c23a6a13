package deid

import "strings"

// merge adds the labeller's spans that survive the filters to x.out (which
// already holds the rule spans): no overlap with a rule span, no eponym, no
// lone drug name.
func (x *doc) merge() {
	for _, sp := range x.model {
		if overlapsAny(x.rules, sp) {
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
// found: a name found once is masked everywhere in the document.
func (x *doc) propagate() {
	if len(x.out) == 0 {
		return
	}
	covered := x.covered
	for i := range covered {
		covered[i] = None
	}
	for _, sp := range x.out {
		for i := x.tokAtOrAfter(int(sp.start)); i < len(x.toks) && x.toks[i].start < sp.end; i++ {
			covered[i] = sp.label
		}
	}
	// Names, as sequences of folded token hashes (few per document: a
	// slice beats a map).
	type seq struct {
		from, to int // token range of the first occurrence
		label    Label
	}
	var names []seq
	var numbers []span
	for _, sp := range x.out {
		switch sp.label {
		case Nom, Prenom, Ville:
			if sp.end-sp.start < 2 {
				continue
			}
			i := x.tokAtOrAfter(int(sp.start))
			j := i
			for j < len(x.toks) && x.toks[j].start < sp.end {
				j++
			}
			if j == i {
				continue
			}
			dup := false
			for _, o := range names {
				if o.to-o.from == j-i && equalHashes(x.hashes[o.from:o.to], x.hashes[i:j]) {
					dup = true
					break
				}
			}
			if !dup {
				names = append(names, seq{i, j, sp.label})
			}
		case IPP, NDA, Secu, Tel:
			if sp.end-sp.start >= 6 {
				numbers = append(numbers, sp)
			}
		}
	}
	n := len(x.toks)
	if len(names) > 0 {
		for i := 0; i < n; i++ {
			t := x.toks[i]
			if covered[i] != None || t.kind != tkWord || t.flags&tfUpper == 0 {
				continue
			}
			h := x.hashes[i]
			for _, c := range names {
				if x.hashes[c.from] != h {
					continue
				}
				ln := c.to - c.from
				end := i + ln - 1
				if end >= n {
					continue
				}
				match := true
				for k := 1; k < ln; k++ {
					if x.hashes[i+k] != x.hashes[c.from+k] || covered[i+k] != None {
						match = false
						break
					}
				}
				if !match || x.eponymContext(i) {
					continue
				}
				x.out = append(x.out, span{start: t.start, end: x.toks[end].end, label: c.label, src: srcPropagated})
				for k := i; k <= end; k++ {
					covered[k] = c.label
				}
				break
			}
		}
	}
	for _, sp := range numbers {
		v := x.s[sp.start:sp.end]
		from := 0
		for {
			p := strings.Index(x.s[from:], v)
			if p < 0 {
				break
			}
			p += from
			q := p + len(v)
			from = q
			if alnumBefore(x.s, p) || alnumAt(x.s, q) {
				continue
			}
			i := x.tokAtOrAfter(p)
			free := true
			for k := i; k < n && x.toks[k].start < int32(q); k++ {
				if covered[k] != None {
					free = false
					break
				}
			}
			if free && i < n {
				x.out = append(x.out, span{start: int32(p), end: int32(q), label: sp.label, src: srcPropagated})
				for k := i; k < n && x.toks[k].start < int32(q); k++ {
					covered[k] = sp.label
				}
			}
		}
	}
}

func equalHashes(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
