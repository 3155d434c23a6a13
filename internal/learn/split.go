package learn

import (
	"math"
	"math/rand/v2"

	"github.com/hygie-health/hygie/internal/errs"
)

// splitStream is the PCG stream used by TrainTestSplit; changing it changes
// every split, so it is fixed.
const splitStream = 0x68796769652d7370 // "hygie-sp"

// TrainTestSplit returns shuffled row indices, seeded for reproducibility.
//
// The n row indices 0..n-1 are shuffled with a PCG generator seeded by seed
// (the same n, testFraction and seed always give the same split) and cut
// into a test set of ceil(testFraction·n) rows and a training set of the
// rest. The two sets are disjoint, cover every row and are both non-empty;
// each keeps the shuffled order. testFraction must lie strictly between 0
// and 1, and n must be at least 2.
func TrainTestSplit(n int, testFraction float64, seed int64) (train, test []int, err error) {
	if n < 2 {
		return nil, nil, errs.Invalidf("train/test split: need at least 2 rows, got %d", n)
	}
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, errs.Invalidf("train/test split: test fraction must be strictly between 0 and 1, got %v", testFraction)
	}
	// The small slack keeps e.g. 0.7·10 = 7.000000000000001 from rounding up to 8.
	nTest := int(math.Ceil(testFraction*float64(n) - 1e-9))
	nTest = max(nTest, 1)
	if nTest >= n {
		return nil, nil, errs.Invalidf("train/test split: test fraction %v of %d rows leaves no training rows", testFraction, n)
	}
	perm := rand.New(rand.NewPCG(uint64(seed), splitStream)).Perm(n)
	// Full slice expressions: appending to one set must not overwrite the other.
	return perm[nTest:n:n], perm[:nTest:nTest], nil
}
