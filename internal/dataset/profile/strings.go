package profile

import (
	"cmp"
	"hash/maphash"
	"slices"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/dataset"
)

// stringColumn profiles a string or text column: one read hashes every
// value and measures its length, a radix sort on the hashes brings equal
// values together, one walk counts them, comparing the strings, so that the
// counts are exact whatever the hash.
func stringColumn(v *dataset.Vec, t treatment, o Options, p *ColumnProfile, sc *scratch) {
	n := len(v.S)
	seed := maphash.MakeSeed()
	h := sc.keyBuf(n)
	idx := sc.indexBuf(n)
	lengths := t != countsOnly
	var minLen, maxLen, nMin, nMax int
	var sumLen float64
	for i, s := range v.S {
		if v.IsNull(i) {
			p.Missing++
			continue
		}
		h = append(h, maphash.String(seed, s))
		idx = append(idx, int32(i))
		if !lengths {
			continue
		}
		l := utf8.RuneCountInString(s)
		sumLen += float64(l)
		switch {
		case nMin == 0 || l < minLen:
			minLen, nMin = l, 1
		case l == minLen:
			nMin++
		}
		switch {
		case nMax == 0 || l > maxLen:
			maxLen, nMax = l, 1
		case l == maxLen:
			nMax++
		}
	}
	p.Count = len(h)
	sc.radixSortHash(h, idx)
	k := int64(o.MinCount)
	type entry struct {
		s string
		n int64
	}
	var frequent []entry
	var distinct int
	var rareN, rareSum int64
	add := func(s string, c int64) {
		distinct++
		if c >= k {
			frequent = append(frequent, entry{s, c})
		} else {
			rareN++
			rareSum += c
		}
	}
	groupStrings(v.S, h, idx, add)
	p.Distinct = ptr(distinct)
	if !lengths || p.Count < o.MinCount {
		return
	}
	ps := &String{Length: Lengths{Mean: finite(sumLen / float64(p.Count))}}
	if nMin >= o.MinCount {
		ps.Length.Min = ptr(minLen)
	}
	if nMax >= o.MinCount {
		ps.Length.Max = ptr(maxLen)
	}
	if t != freeText {
		slices.SortFunc(frequent, func(a, b entry) int {
			return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.s, b.s))
		})
		counts := make([]int64, len(frequent))
		for i, e := range frequent {
			counts[i] = e.n
		}
		ps.Top = make([]Value, listable(counts, rareN, rareSum, k, o.TopN))
		for i := range ps.Top {
			ps.Top[i] = Value{Value: frequent[i].s, Count: frequent[i].n}
		}
	}
	p.String = ps
}

// groupStrings calls add once for each distinct value among S[idx[i]], with
// its count, given h[i] the hash of that value, sorted by radixSortHash:
// equal values are together, among values that share the hash's high bits.
// A group of one (the most common case in a column of mostly distinct
// values) is passed as "" without a look at the string: it is never listed.
func groupStrings(S []string, h []uint64, idx []int32, add func(s string, n int64)) {
	for i := 0; i < len(h); {
		j := i + 1
		for j < len(h) && sameHash(h[j], h[i]) {
			j++
		}
		if j-i == 1 {
			add("", 1)
			i = j
			continue
		}
		first := S[idx[i]]
		same := true
		for _, q := range idx[i+1 : j] {
			if S[q] != first {
				same = false
				break
			}
		}
		if same {
			add(first, int64(j-i))
		} else { // values that share the high bits: count them one by one
			counts := map[string]int64{}
			for _, q := range idx[i:j] {
				counts[S[q]]++
			}
			for s, c := range counts {
				add(s, c)
			}
		}
		i = j
	}
}

// booleanColumn counts true and false.
func booleanColumn(v *dataset.Vec, t treatment, o Options, p *ColumnProfile, _ *scratch) {
	var counts [2]int64 // false, true
	for i, x := range v.I {
		if v.IsNull(i) {
			p.Missing++
			continue
		}
		if x != 0 {
			counts[1]++
		} else {
			counts[0]++
		}
	}
	p.Count = len(v.I) - p.Missing
	// Both values are known to be possible: a distinct count of 2 would tell
	// that a rare value is there, so it is not given then.
	p.Distinct = nil
	if counts[0] == 0 || counts[1] == 0 || min(counts[0], counts[1]) >= int64(o.MinCount) {
		p.Distinct = ptr(min(int(counts[0]), 1) + min(int(counts[1]), 1))
	}
	if t == countsOnly || p.Count < o.MinCount {
		return
	}
	c := cells(counts[:], protect(counts[:], int64(o.MinCount)), o.MinCount)
	p.Boolean = &Boolean{False: c[0], True: c[1]}
}
