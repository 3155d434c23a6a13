package profile

import (
	"hash/maphash"
	"math"

	"github.com/hygie-health/hygie/internal/dataset"
)

// duplicateRows counts the rows equal, in every column, to another row
// (all but one of each set of equal rows). Rows are hashed column by column,
// sorted on the hashes' high bits, and rows that share them compared, so the
// count is exact whatever the hash (its seed is random).
func duplicateRows(f *dataset.Frame, sc *scratch) int {
	n := f.Rows()
	if n < 2 {
		return 0
	}
	h := sc.keyBuf(n)[:n]
	clear(h)
	seed := maphash.MakeSeed()
	for c, v := range f.Vecs {
		tag := mix(uint64(c) + 1)
		switch storage(v.Type) {
		case 'i':
			for i, x := range v.I {
				hx := mix(uint64(x))
				if v.IsNull(i) {
					hx = tag
				}
				h[i] = mix(h[i]^hx) + tag
			}
		case 'f':
			for i, x := range v.F {
				if x == 0 {
					x = 0 // -0 equals 0
				}
				hx := mix(math.Float64bits(x))
				if v.IsNull(i) || math.IsNaN(x) {
					hx = tag
				}
				h[i] = mix(h[i]^hx) + tag
			}
		default:
			for i, x := range v.S {
				hx := tag
				if !v.IsNull(i) {
					hx = maphash.String(seed, x)
				}
				h[i] = mix(h[i]^hx) + tag
			}
		}
	}
	idx := sc.indexBuf(n)[:n]
	for i := range idx {
		idx[i] = int32(i)
	}
	sc.radixSortHash(h, idx)
	return countDuplicates(f, h, idx)
}

// countDuplicates counts duplicate rows given h[i], the hash of row idx[i],
// sorted by radixSortHash: rows sharing the hash's high bits are compared
// with each distinct row of their group.
func countDuplicates(f *dataset.Frame, h []uint64, idx []int32) int {
	dups := 0
	var reps []int32 // distinct rows among those of one group
	for i := 0; i < len(h); {
		j := i + 1
		for j < len(h) && sameHash(h[j], h[i]) {
			j++
		}
		if j-i > 1 {
			reps = append(reps[:0], idx[i])
		group:
			for _, r := range idx[i+1 : j] {
				for _, q := range reps {
					if rowsEqual(f, int(q), int(r)) {
						dups++
						continue group
					}
				}
				reps = append(reps, r)
			}
		}
		i = j
	}
	return dups
}

// storage says which slice of a Vec holds a type's values: 'i', 'f' or 's'.
func storage(t dataset.Type) byte {
	switch t {
	case dataset.TypeInteger, dataset.TypeBoolean, dataset.TypeDate, dataset.TypeDatetime:
		return 'i'
	case dataset.TypeFloat:
		return 'f'
	}
	return 's'
}

// isMissing reports a missing value: null, or NaN in a float column.
func isMissing(v *dataset.Vec, i int) bool {
	return v.IsNull(i) || (v.Type == dataset.TypeFloat && math.IsNaN(v.F[i]))
}

func rowsEqual(f *dataset.Frame, a, b int) bool {
	for _, v := range f.Vecs {
		ma, mb := isMissing(v, a), isMissing(v, b)
		switch {
		case ma || mb:
			if ma != mb {
				return false
			}
		case storage(v.Type) == 'i':
			if v.I[a] != v.I[b] {
				return false
			}
		case storage(v.Type) == 'f':
			if v.F[a] != v.F[b] {
				return false
			}
		default:
			if v.S[a] != v.S[b] {
				return false
			}
		}
	}
	return true
}

// mix is SplitMix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
