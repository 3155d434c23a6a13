package evaluate

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
)

// Fold is one cross-validation fold: row indices (sorted ascending) of the
// training and test parts. Train and Test are disjoint and cover all rows.
type Fold struct {
	Train []int `json:"train"`
	Test  []int `json:"test"`
}

// ErrInvalidK is wrapped by splitter errors about k.
var ErrInvalidK = errors.New("evaluate: invalid number of folds")

func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func foldsFromAssignment(assign []int, k int) []Fold {
	folds := make([]Fold, k)
	for i, f := range assign {
		folds[f].Test = append(folds[f].Test, i)
	}
	for f := range folds {
		for i, g := range assign {
			if g != f {
				folds[f].Train = append(folds[f].Train, i)
			}
		}
		if folds[f].Test == nil {
			folds[f].Test = []int{}
		}
		if folds[f].Train == nil {
			folds[f].Train = []int{}
		}
	}
	return folds
}

// StratifiedKFold splits rows into k folds keeping the class proportions of
// labels in every fold (each class is shuffled with the seed and dealt
// round-robin; the dealing offset carries over between classes so fold
// sizes differ by at most one). Labels may be any integers (multi-class is
// fine). Errors: k < 2, or k greater than the size of the smallest class.
func StratifiedKFold(labels []int, k int, seed uint64) ([]Fold, error) {
	if k < 2 {
		return nil, fmt.Errorf("%w: k=%d, need k >= 2", ErrInvalidK, k)
	}
	if len(labels) == 0 {
		return nil, errors.New("evaluate: no rows to split")
	}
	byClass := map[int][]int{}
	for i, y := range labels {
		byClass[y] = append(byClass[y], i)
	}
	classes := make([]int, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Ints(classes)
	for _, c := range classes {
		if n := len(byClass[c]); n < k {
			return nil, fmt.Errorf("%w: k=%d exceeds the %d row(s) of class %d (smallest class must have at least k rows)", ErrInvalidK, k, n, c)
		}
	}
	r := newRand(seed)
	assign := make([]int, len(labels))
	next := 0
	for _, c := range classes {
		idx := slices.Clone(byClass[c])
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for _, i := range idx {
			assign[i] = next
			next = (next + 1) % k
		}
	}
	return foldsFromAssignment(assign, k), nil
}

// GroupKFold splits rows into k folds such that all rows of a group (e.g.
// a patient identifier) land in the same fold. Groups are shuffled with the
// seed, then assigned largest-first to the fold with the fewest rows so far
// (ties → lowest fold index), which balances fold sizes. Errors: k < 2, or
// k greater than the number of distinct groups.
func GroupKFold(groups []string, k int, seed uint64) ([]Fold, error) {
	if k < 2 {
		return nil, fmt.Errorf("%w: k=%d, need k >= 2", ErrInvalidK, k)
	}
	if len(groups) == 0 {
		return nil, errors.New("evaluate: no rows to split")
	}
	rows := map[string][]int{}
	var names []string
	for i, g := range groups {
		if _, ok := rows[g]; !ok {
			names = append(names, g)
		}
		rows[g] = append(rows[g], i)
	}
	if len(names) < k {
		return nil, fmt.Errorf("%w: k=%d exceeds the %d distinct group(s)", ErrInvalidK, k, len(names))
	}
	sort.Strings(names) // independent of row order
	r := newRand(seed)
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	sort.SliceStable(names, func(i, j int) bool { return len(rows[names[i]]) > len(rows[names[j]]) })
	size := make([]int, k)
	assign := make([]int, len(groups))
	for _, g := range names {
		best := 0
		for f := 1; f < k; f++ {
			if size[f] < size[best] {
				best = f
			}
		}
		for _, i := range rows[g] {
			assign[i] = best
		}
		size[best] += len(rows[g])
	}
	return foldsFromAssignment(assign, k), nil
}
