package evaluate

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

func checkPartition(t *testing.T, folds []Fold, n int) {
	t.Helper()
	seen := make([]int, n)
	for f, fo := range folds {
		if len(fo.Train)+len(fo.Test) != n {
			t.Fatalf("fold %d: train %d + test %d != %d", f, len(fo.Train), len(fo.Test), n)
		}
		in := map[int]bool{}
		for _, i := range fo.Test {
			seen[i]++
			in[i] = true
		}
		for _, i := range fo.Train {
			if in[i] {
				t.Fatalf("fold %d: row %d in train and test", f, i)
			}
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("row %d in %d test folds", i, c)
		}
	}
}

func TestStratifiedKFold(t *testing.T) {
	tests := []struct{ npos, nneg, k int }{{30, 70, 5}, {10, 90, 10}, {7, 13, 3}, {50, 50, 2}, {3, 1000, 3}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d/k%d", tt.npos, tt.nneg, tt.k), func(t *testing.T) {
			y := make([]int, tt.npos+tt.nneg)
			r := rand.New(rand.NewPCG(1, 2))
			for _, i := range r.Perm(len(y))[:tt.npos] {
				y[i] = 1
			}
			folds, err := StratifiedKFold(y, tt.k, 42)
			if err != nil {
				t.Fatal(err)
			}
			checkPartition(t, folds, len(y))
			minSize, maxSize := len(y), 0
			for f, fo := range folds {
				pos := 0
				for _, i := range fo.Test {
					pos += y[i]
				}
				// Class count per fold within one of the ideal share.
				lo, hi := tt.npos/tt.k, (tt.npos+tt.k-1)/tt.k
				if pos < lo || pos > hi {
					t.Errorf("fold %d has %d positives, want in [%d,%d]", f, pos, lo, hi)
				}
				neg := len(fo.Test) - pos
				if lo, hi := tt.nneg/tt.k, (tt.nneg+tt.k-1)/tt.k; neg < lo || neg > hi {
					t.Errorf("fold %d has %d negatives, want in [%d,%d]", f, neg, lo, hi)
				}
				minSize, maxSize = min(minSize, len(fo.Test)), max(maxSize, len(fo.Test))
			}
			if maxSize-minSize > 1 {
				t.Errorf("fold sizes differ by %d", maxSize-minSize)
			}
			again, _ := StratifiedKFold(y, tt.k, 42)
			if !reflect.DeepEqual(folds, again) {
				t.Error("not reproducible for a seed")
			}
		})
	}
}

func TestKFoldErrors(t *testing.T) {
	y := []int{0, 0, 0, 1, 1}
	for _, k := range []int{0, 1, 3} {
		if _, err := StratifiedKFold(y, k, 0); !errors.Is(err, ErrInvalidK) {
			t.Errorf("stratified k=%d: err=%v", k, err)
		}
	}
	if _, err := StratifiedKFold(y, 2, 0); err != nil {
		t.Errorf("k=2: %v", err)
	}
	g := []string{"a", "a", "b", "c", "c"}
	for _, k := range []int{1, 4} {
		if _, err := GroupKFold(g, k, 0); !errors.Is(err, ErrInvalidK) {
			t.Errorf("group k=%d: err=%v", k, err)
		}
	}
	if _, err := GroupKFold(g, 3, 0); err != nil {
		t.Errorf("group k=3: %v", err)
	}
}

// Property: for random group layouts, no group is ever split, folds
// partition the rows and fold sizes are balanced (max − min ≤ largest group).
func TestGroupKFoldProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(99, 1))
	for rep := range 300 {
		ngroups := 2 + r.IntN(80)
		k := 2 + r.IntN(min(ngroups-1, 9))
		var groups []string
		largest := 0
		for g := range ngroups {
			size := 1 + r.IntN(12)
			largest = max(largest, size)
			for range size {
				groups = append(groups, fmt.Sprintf("patient-%d", g))
			}
		}
		r.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
		seed := r.Uint64()
		folds, err := GroupKFold(groups, k, seed)
		if err != nil {
			t.Fatalf("rep %d: %v", rep, err)
		}
		checkPartition(t, folds, len(groups))
		where := map[string]int{}
		minSize, maxSize := len(groups), 0
		for f, fo := range folds {
			for _, i := range fo.Test {
				if w, ok := where[groups[i]]; ok && w != f {
					t.Fatalf("rep %d: group %s in folds %d and %d", rep, groups[i], w, f)
				}
				where[groups[i]] = f
			}
			minSize, maxSize = min(minSize, len(fo.Test)), max(maxSize, len(fo.Test))
		}
		if minSize == 0 || maxSize-minSize > largest {
			t.Fatalf("rep %d: unbalanced folds min %d max %d (largest group %d)", rep, minSize, maxSize, largest)
		}
		again, _ := GroupKFold(groups, k, seed)
		if !reflect.DeepEqual(folds, again) {
			t.Fatal("not reproducible")
		}
	}
}
