package learn

import (
	"math"
	"sort"

	"github.com/hygie-health/hygie/internal/errs"
)

// ROCAUC returns the area under the ROC curve of scores for the 0/1 labels
// yTrue: the probability that a random positive scores higher than a random
// negative, ties counting one half (scikit-learn's roc_auc_score).
func ROCAUC(yTrue, score []float64) (float64, error) {
	if err := checkPair(yTrue, score); err != nil {
		return 0, err
	}
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return score[idx[a]] < score[idx[b]] })
	// sum of the (mid-)ranks of the positives
	var pos, neg, rankSum float64
	for a := 0; a < len(idx); {
		b := a
		for b < len(idx) && score[idx[b]] == score[idx[a]] {
			b++
		}
		mid := float64(a+b+1) / 2 // ranks a+1..b
		for _, i := range idx[a:b] {
			switch yTrue[i] {
			case 1:
				pos++
				rankSum += mid
			case 0:
				neg++
			default:
				return 0, errs.Invalidf("metric: yTrue[%d] = %v, want 0 or 1", i, yTrue[i])
			}
		}
		a = b
	}
	if pos == 0 || neg == 0 {
		return 0, errs.Invalidf("metric: ROC AUC needs both classes")
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg), nil
}

// LogLoss returns the mean multi-class log loss −(1/n) Σ log p[i][y[i]] of
// class probabilities p (one row per observation) for the class indices y,
// with probabilities clipped to [1e-15, 1] like scikit-learn's log_loss.
func LogLoss(y []int, p [][]float64) (float64, error) {
	if len(y) != len(p) || len(y) == 0 {
		return 0, errs.Invalidf("metric: want the same non-zero number of labels and rows, got %d and %d", len(y), len(p))
	}
	var s float64
	for i, c := range y {
		if c < 0 || c >= len(p[i]) {
			return 0, errs.Invalidf("metric: label %d of row %d out of range", c, i)
		}
		s -= math.Log(math.Max(p[i][c], 1e-15))
	}
	return s / float64(len(y)), nil
}
