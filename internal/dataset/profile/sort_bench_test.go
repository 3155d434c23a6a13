package profile

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func BenchmarkSortFloatKeys(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]uint64, 1_000_000)
	for i := range src {
		src[i] = floatKey(rng.NormFloat64())
	}
	a := make([]uint64, len(src))
	var s scratch
	b.Run("radix", func(b *testing.B) {
		for b.Loop() {
			copy(a, src)
			s.radixSort(a, nil)
		}
	})
	b.Run("pdq", func(b *testing.B) {
		for b.Loop() {
			copy(a, src)
			slices.Sort(a)
		}
	})
	idx := make([]int32, len(src))
	b.Run("hash", func(b *testing.B) {
		for b.Loop() {
			copy(a, src)
			s.radixSortHash(a, idx)
		}
	})
}
