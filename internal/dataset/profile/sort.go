package profile

import (
	"math"
	"slices"
)

// Numbers are sorted as uint64 keys whose order is the numbers' order, by a
// least-significant-digit radix sort (bytes) that skips the digits
// all keys share: most integer and date columns need one or two passes.

const signBit = 1 << 63

func intKey(x int64) uint64 { return uint64(x) ^ signBit }
func keyInt(k uint64) int64 { return int64(k ^ signBit) }

// floatKey orders finite floats; -0 must have been turned into +0.
func floatKey(x float64) uint64 {
	b := math.Float64bits(x)
	if b&signBit != 0 {
		return ^b
	}
	return b | signBit
}

func keyFloat(k uint64) float64 {
	if k&signBit != 0 {
		return math.Float64frombits(k &^ signBit)
	}
	return math.Float64frombits(^k)
}

const (
	digitBits = 8
	digits    = (64 + digitBits - 1) / digitBits // 8
	radix     = 1 << digitBits
)

// scratch holds one worker's buffers, reused from column to column: keys
// and indices to sort, and the sort's own buffers.
type scratch struct {
	keys, tmp   []uint64
	index, itmp []int32
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// keyBuf returns an empty slice of capacity n for keys.
func (s *scratch) keyBuf(n int) []uint64 {
	s.keys = grow(s.keys, n)
	return s.keys[:0]
}

// indexBuf returns an empty slice of capacity n for row indices.
func (s *scratch) indexBuf(n int) []int32 {
	s.index = grow(s.index, n)
	return s.index[:0]
}

// hashBits is how many high bits of a hash radixSortHash sorts on.
const hashBits = 32

// radixSort sorts a in place; with idx non-nil, idx is permuted along.
func (s *scratch) radixSort(a []uint64, idx []int32) { s.radixSortFrom(a, idx, 0) }

// radixSortHash sorts a on its high hashBits bits only: enough to bring
// equal hashes together, interleaved at worst with others that share
// those bits.
func (s *scratch) radixSortHash(a []uint64, idx []int32) { s.radixSortFrom(a, idx, 64-hashBits) }

// sameHash reports whether two hashes share the bits radixSortHash sorts on.
func sameHash(a, b uint64) bool { return a>>(64-hashBits) == b>>(64-hashBits) }

func (s *scratch) radixSortFrom(a []uint64, idx []int32, fromBit uint) {
	n := len(a)
	if n < 512 {
		if idx == nil {
			slices.Sort(a)
			return
		}
		insertionSort(a, idx)
		return
	}
	var counts [digits][radix]int
	for _, x := range a {
		for d := range digits {
			counts[d][(x>>(digitBits*d))&(radix-1)]++
		}
	}
	s.tmp = grow(s.tmp, n)
	src, dst := a, s.tmp
	var isrc, idst []int32
	if idx != nil {
		s.itmp = grow(s.itmp, n)
		isrc, idst = idx, s.itmp
	}
	for d := range digits {
		shift := uint(digitBits * d)
		if shift+digitBits <= fromBit {
			continue // below the bits sorted on
		}
		c := &counts[d]
		if c[(src[0]>>shift)&(radix-1)] == n {
			continue // every key has this digit
		}
		sum := 0
		for i := range c {
			c[i], sum = sum, sum+c[i]
		}
		if idx == nil {
			for _, x := range src {
				b := (x >> shift) & (radix - 1)
				dst[c[b]] = x
				c[b]++
			}
		} else {
			for i, x := range src {
				b := (x >> shift) & (radix - 1)
				dst[c[b]] = x
				idst[c[b]] = isrc[i]
				c[b]++
			}
			isrc, idst = idst, isrc
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
		if idx != nil {
			copy(idx, isrc)
		}
	}
}

func insertionSort(a []uint64, idx []int32) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}
