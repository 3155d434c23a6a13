// Package mia is a membership-inference audit for tabular models: how well
// can an attacker who sees a model's loss on a record tell whether the
// record was in the training data?
//
// The attack is the loss-threshold attack of Yeom et al. (2018, "Privacy
// risk in machine learning: analyzing the connection to overfitting"), the
// simplest of the attacks studied since Shokri et al. (2017): a model fits
// its training records better than records it never saw, so the attacker
// guesses "member" when the record's loss is at or below a threshold. It
// needs no shadow models, only the per-record loss (binary log loss for a
// classifier, squared error for a regression; see LogLoss and
// SquaredError), and it is the attack that overfitting feeds directly.
//
// Assess compares the losses of training records (members) with those of
// held-out records (non-members) and reports:
//
//   - the attack's ROC AUC: the probability that a random member has a
//     lower loss than a random non-member (ties count ½). 0.5 is chance:
//     the loss tells nothing about membership; 1 means every member has a
//     lower loss than every non-member.
//   - the membership advantage (Yeom et al.): the largest TPR − FPR over all
//     thresholds, with the best threshold and its TPR and FPR. 0 is chance,
//     1 is a perfect attack. It bounds how much more often the attacker is
//     right about members than about non-members; an advantage of 0.1 means
//     the best threshold flags 10 percentage points more of the training
//     records than of the held-out ones.
//   - bootstrap confidence intervals for both, resampling members and
//     non-members separately (stratified), seeded so that the same inputs
//     and options give the same report.
//
// The advantage is a maximum over thresholds, so even a model that leaks
// nothing shows a small positive advantage on a finite sample: the report
// gives the level chance alone reaches (AdvantageChance, the
// Kolmogorov–Smirnov critical value for the sample sizes), and the AUC
// interval says whether the attack is better than chance. The gate (Pass)
// is pessimistic like hygie's other gates: it compares the upper bound of
// the advantage interval with the maximum allowed.
//
// Balance: the attack is scored on as many members as non-members. When
// one side is larger (a training split is usually four times the test
// split), a seeded random subsample of the larger side, of the smaller
// side's size, is used; the report gives both the counts available and the
// counts used.
//
// A low advantage is evidence against this attack, not a proof of privacy:
// stronger attacks (shadow models, per-record calibration as in LiRA) can
// do better, and only differential privacy bounds every attack.
package mia

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/hygie-health/hygie/internal/evaluate"
)

// Options configures Assess. The zero value means 1000 resamples, a 95 %
// level, percentile intervals and seed 0.
type Options struct {
	Resamples int               // bootstrap resamples (default 1000)
	Level     float64           // confidence level in (0, 1) (default 0.95)
	Method    evaluate.CIMethod // evaluate.Percentile (default) or evaluate.BCa
	Seed      uint64            // seeds the balancing subsample and the bootstrap
}

// Report is the outcome of the loss-threshold attack.
type Report struct {
	Attack string `json:"attack"` // "loss_threshold"
	// Counts: available, and used after balancing.
	MembersAvailable    int `json:"members_available"`
	NonMembersAvailable int `json:"non_members_available"`
	Members             int `json:"members"`
	NonMembers          int `json:"non_members"`
	// Mean loss of the members and non-members used.
	MemberMeanLoss    evaluate.Num `json:"member_mean_loss"`
	NonMemberMeanLoss evaluate.Num `json:"non_member_mean_loss"`
	// AUC is P(member loss < non-member loss) + ½ P(equal).
	AUC         float64           `json:"auc"`
	AUCInterval evaluate.Interval `json:"auc_interval"`
	// Advantage is max over thresholds of TPR − FPR; the attacker says
	// "member" when loss ≤ Threshold (null in JSON when no threshold beats
	// guessing "non-member" for everyone, i.e. Advantage is 0).
	Advantage         float64           `json:"advantage"`
	AdvantageInterval evaluate.Interval `json:"advantage_interval"`
	Threshold         evaluate.Num      `json:"threshold"`
	TPR               float64           `json:"tpr"`
	FPR               float64           `json:"fpr"`
	// AdvantageChance is the advantage an attack no better than chance
	// stays below with probability Level (the two-sample
	// Kolmogorov–Smirnov critical value for these counts).
	AdvantageChance float64 `json:"advantage_chance"`
	Level           float64 `json:"level"`
	Interpretation  string  `json:"interpretation"`
}

// Pass reports whether the attack's advantage is acceptable: the upper
// bound of its confidence interval is at most maxAdvantage (pessimistic:
// a small sample cannot pass by luck).
func (r *Report) Pass(maxAdvantage float64) bool {
	u := float64(r.AdvantageInterval.Upper)
	return !math.IsNaN(u) && u <= maxAdvantage
}

// Errors for invalid inputs.
var (
	ErrEmpty  = errors.New("mia: need at least one member and one non-member loss")
	ErrNaN    = errors.New("mia: a loss is NaN")
	ErrOption = errors.New("mia: invalid option")
)

// Assess runs the loss-threshold attack on the per-record losses of
// training records (members) and held-out records (non-members).
func Assess(memberLoss, nonMemberLoss []float64, opt Options) (Report, error) {
	if len(memberLoss) == 0 || len(nonMemberLoss) == 0 {
		return Report{}, ErrEmpty
	}
	for i, v := range memberLoss {
		if math.IsNaN(v) {
			return Report{}, fmt.Errorf("%w (member %d)", ErrNaN, i)
		}
	}
	for i, v := range nonMemberLoss {
		if math.IsNaN(v) {
			return Report{}, fmt.Errorf("%w (non-member %d)", ErrNaN, i)
		}
	}
	if opt.Resamples == 0 {
		opt.Resamples = evaluate.DefaultResamples
	}
	if opt.Level == 0 {
		opt.Level = evaluate.DefaultLevel
	}
	if opt.Method == "" {
		opt.Method = evaluate.Percentile
	}
	if opt.Resamples < 2 || !(opt.Level > 0 && opt.Level < 1) || (opt.Method != evaluate.Percentile && opt.Method != evaluate.BCa) {
		return Report{}, fmt.Errorf("%w: resamples %d, level %v, method %q", ErrOption, opt.Resamples, opt.Level, opt.Method)
	}
	rep := Report{Attack: "loss_threshold", MembersAvailable: len(memberLoss), NonMembersAvailable: len(nonMemberLoss), Level: opt.Level}
	n := min(len(memberLoss), len(nonMemberLoss))
	rng := rand.New(rand.NewPCG(opt.Seed, 0x6d6961)) // "mia"
	members := subsample(memberLoss, n, rng)
	nonMembers := subsample(nonMemberLoss, n, rng)
	rep.Members, rep.NonMembers = n, n
	rep.MemberMeanLoss, rep.NonMemberMeanLoss = evaluate.Num(mean(members)), evaluate.Num(mean(nonMembers))

	s := newSweep(members, nonMembers)
	all := make([]int, 2*n)
	for i := range all {
		all[i] = i
	}
	rep.AUC = s.auc(all)
	var g int
	rep.Advantage, g, rep.TPR, rep.FPR = s.advantage(all)
	rep.Threshold = evaluate.Num(math.NaN())
	if g >= 0 {
		rep.Threshold = evaluate.Num(s.value[g])
	}
	strata := make([]int, 2*n)
	for i := range n {
		strata[i] = 1 // members; non-members are stratum 0
	}
	bo := evaluate.BootstrapOptions{Resamples: opt.Resamples, Level: opt.Level, Method: opt.Method, Seed: opt.Seed, Strata: strata}
	var err error
	if rep.AUCInterval, err = evaluate.Bootstrap(2*n, func(idx []int) (float64, error) { return s.auc(idx), nil }, bo); err != nil {
		return Report{}, err
	}
	if rep.AdvantageInterval, err = evaluate.Bootstrap(2*n, func(idx []int) (float64, error) {
		a, _, _, _ := s.advantage(idx)
		return a, nil
	}, bo); err != nil {
		return Report{}, err
	}
	// Two-sample KS critical value c(α)·sqrt((n+m)/(n·m)), c(α) = sqrt(−ln(α/2)/2).
	alpha := 1 - opt.Level
	rep.AdvantageChance = math.Min(1, math.Sqrt(-math.Log(alpha/2)/2)*math.Sqrt(2/float64(n)))
	rep.Interpretation = interpret(&rep)
	return rep, nil
}

// subsample returns x itself when it has n values, otherwise n of its
// values drawn without replacement (in their original order).
func subsample(x []float64, n int, rng *rand.Rand) []float64 {
	if len(x) == n {
		return x
	}
	idx := rng.Perm(len(x))[:n]
	sort.Ints(idx)
	out := make([]float64, n)
	for k, i := range idx {
		out[k] = x[i]
	}
	return out
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// sweep holds the pooled losses (members first, then as many non-members)
// grouped by equal value in increasing order, so that a resample's AUC and
// advantage take one pass over the groups.
type sweep struct {
	n       int       // members = non-members
	groupOf []int     // pooled index → group
	value   []float64 // group → loss
	m, nm   []float64 // per-group counts, reused
}

func newSweep(members, nonMembers []float64) *sweep {
	n := len(members)
	pooled := append(append(make([]float64, 0, 2*n), members...), nonMembers...)
	order := make([]int, len(pooled))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return pooled[order[a]] < pooled[order[b]] })
	s := &sweep{n: n, groupOf: make([]int, len(pooled))}
	for k, i := range order {
		if k == 0 || pooled[i] != pooled[order[k-1]] {
			s.value = append(s.value, pooled[i])
		}
		s.groupOf[i] = len(s.value) - 1
	}
	s.m, s.nm = make([]float64, len(s.value)), make([]float64, len(s.value))
	return s
}

// count fills the per-group counts of the rows idx and returns the totals.
func (s *sweep) count(idx []int) (M, N float64) {
	clear(s.m)
	clear(s.nm)
	for _, i := range idx {
		if i < s.n {
			s.m[s.groupOf[i]]++
			M++
		} else {
			s.nm[s.groupOf[i]]++
			N++
		}
	}
	return M, N
}

// auc is P(member loss < non-member loss) + ½ P(tie) over the rows idx.
func (s *sweep) auc(idx []int) float64 {
	M, N := s.count(idx)
	var num, below float64 // below: members with a strictly lower loss
	for g := range s.value {
		num += s.nm[g] * (below + s.m[g]/2)
		below += s.m[g]
	}
	return num / (M * N)
}

// advantage is max over thresholds t of TPR − FPR with "member" ⇔ loss ≤ t;
// g is the best threshold's group (−1: no threshold beats predicting
// "non-member" for all).
func (s *sweep) advantage(idx []int) (adv float64, g int, tpr, fpr float64) {
	M, N := s.count(idx)
	g = -1
	var cm, cn float64
	for k := range s.value {
		cm += s.m[k]
		cn += s.nm[k]
		if d := cm/M - cn/N; d > adv {
			adv, g, tpr, fpr = d, k, cm/M, cn/N
		}
	}
	return adv, g, tpr, fpr
}

func interpret(r *Report) string {
	lo, hi := float64(r.AUCInterval.Lower), float64(r.AUCInterval.Upper)
	pct := r.Level * 100
	switch {
	case lo <= 0.5 && 0.5 <= hi:
		return fmt.Sprintf("the attack does no better than chance: the %g%% interval of its AUC [%.3f, %.3f] contains 0.5, and its advantage %.3f is what chance alone reaches on %d records per side (up to %.3f)",
			pct, lo, hi, r.Advantage, r.Members, r.AdvantageChance)
	case hi < 0.5:
		return fmt.Sprintf("the attack does worse than chance (AUC %.3f [%.3f, %.3f]): training records have a higher loss than held-out ones, which is unusual — check that the training and test records are the right ones",
			r.AUC, lo, hi)
	}
	strength := "slightly"
	switch a := r.Advantage; {
	case a >= 0.3:
		strength = "strongly"
	case a >= 0.1:
		strength = "moderately"
	}
	return fmt.Sprintf("the attack does better than chance, %s: training records have a lower loss than held-out ones (AUC %.3f [%.3f, %.3f]); at its best threshold it flags %.0f%% of the training records and %.0f%% of the held-out ones (advantage %.3f [%.3f, %.3f]) — the model leaks membership, typically through overfitting",
		strength, r.AUC, lo, hi, r.TPR*100, r.FPR*100, r.Advantage, float64(r.AdvantageInterval.Lower), float64(r.AdvantageInterval.Upper))
}

// Clip is the probability clipping of LogLoss.
const Clip = 1e-15

// LogLoss is the binary log loss of the predicted probability p of the
// positive class for a record whose label y is 1 (positive) or 0, with p
// clipped to [Clip, 1 − Clip] so the loss stays finite. A NaN p gives NaN
// (Assess refuses it).
func LogLoss(p, y float64) float64 {
	p = math.Min(math.Max(p, Clip), 1-Clip)
	if y == 1 {
		return -math.Log(p)
	}
	return -math.Log(1 - p)
}

// SquaredError is a regression's per-record loss (pred − y)².
func SquaredError(pred, y float64) float64 {
	d := pred - y
	return d * d
}
