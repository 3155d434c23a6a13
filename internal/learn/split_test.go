package learn

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
)

func TestTrainTestSplit(t *testing.T) {
	tests := []struct {
		n        int
		fraction float64
		wantTest int
	}{
		{2, 0.5, 1},
		{3, 0.1, 1},
		{7, 0.5, 4},
		{10, 0.2, 2},
		{10, 0.3, 3},
		{10, 0.7, 7}, // 0.7·10 is 7.000000000000001 in floating point
		{100, 0.25, 25},
		{1000, 0.2, 200},
		{1001, 0.2, 201},
		{100, 0.001, 1},
	}
	for _, tt := range tests {
		train, test, err := TrainTestSplit(tt.n, tt.fraction, 42)
		if err != nil {
			t.Fatalf("TrainTestSplit(%d, %v): %v", tt.n, tt.fraction, err)
		}
		if len(test) != tt.wantTest || len(train) != tt.n-tt.wantTest {
			t.Errorf("TrainTestSplit(%d, %v): %d train / %d test, want %d / %d",
				tt.n, tt.fraction, len(train), len(test), tt.n-tt.wantTest, tt.wantTest)
		}
		all := slices.Concat(train, test)
		slices.Sort(all)
		for i, v := range all {
			if v != i {
				t.Fatalf("TrainTestSplit(%d, %v): indices are not a disjoint cover of 0..%d: %v", tt.n, tt.fraction, tt.n-1, all)
			}
		}

		train2, test2, _ := TrainTestSplit(tt.n, tt.fraction, 42)
		if !slices.Equal(train, train2) || !slices.Equal(test, test2) {
			t.Errorf("TrainTestSplit(%d, %v): not reproducible for the same seed", tt.n, tt.fraction)
		}
	}
}

func TestTrainTestSplitSeeds(t *testing.T) {
	_, a, _ := TrainTestSplit(1000, 0.2, 1)
	_, b, _ := TrainTestSplit(1000, 0.2, 2)
	_, c, _ := TrainTestSplit(1000, 0.2, -1)
	if slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("different seeds gave the same split")
	}
	// Shuffled, not just cut: the test set is not a prefix of 0..n-1.
	if slices.IsSorted(a) {
		t.Error("test indices are sorted; want a shuffle")
	}
}

func TestTrainTestSplitIndependentSlices(t *testing.T) {
	train, test, _ := TrainTestSplit(10, 0.3, 9)
	before := slices.Clone(train)
	_ = append(test, -1)
	if !slices.Equal(train, before) {
		t.Error("appending to test overwrote train")
	}
}

func TestTrainTestSplitErrors(t *testing.T) {
	tests := []struct {
		n        int
		fraction float64
		want     string
	}{
		{0, 0.2, "need at least 2 rows"},
		{1, 0.2, "need at least 2 rows"},
		{-5, 0.2, "need at least 2 rows"},
		{10, 0, "strictly between 0 and 1"},
		{10, 1, "strictly between 0 and 1"},
		{10, -0.1, "strictly between 0 and 1"},
		{10, 1.5, "strictly between 0 and 1"},
		{10, math.NaN(), "strictly between 0 and 1"},
		{2, 0.9, "leaves no training rows"},
		{10, 0.95, "leaves no training rows"},
	}
	for _, tt := range tests {
		_, _, err := TrainTestSplit(tt.n, tt.fraction, 1)
		if err == nil || !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("TrainTestSplit(%d, %v) error = %v, want invalid containing %q", tt.n, tt.fraction, err, tt.want)
		}
	}
}
