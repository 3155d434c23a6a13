package recipe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
)

// cohort builds n stays of patients with 1 to 7 stays each, 10% of them
// with target 1, in a shuffled order.
func cohort(n int, seed uint64) *dataset.Frame {
	r := rand.New(rand.NewPCG(seed, 1))
	pid := dataset.NewVec(dataset.TypeString, n)
	target := dataset.NewVec(dataset.TypeInteger, n)
	for p := 0; pid.Len() < n; p++ {
		for range min(1+r.IntN(7), n-pid.Len()) {
			pid.AppendString(fmt.Sprintf("P%05d", p))
		}
	}
	for i := range n {
		target.AppendInt(int64(i % 10 / 9)) // 1 every 10th
	}
	r.Shuffle(n, func(i, j int) { pid.S[i], pid.S[j] = pid.S[j], pid.S[i] })
	r.Shuffle(n, func(i, j int) { target.I[i], target.I[j] = target.I[j], target.I[i] })
	return frame(cr("pid", dataset.RolePatientID, pid), cr("y", dataset.RoleTarget, target))
}

func splitOf(t *testing.T, f *dataset.Frame, step string) []string {
	t.Helper()
	out, err := apply(t, f, steps(step))
	if err != nil {
		t.Fatal(err)
	}
	v, err := out.Col("split")
	if err != nil {
		t.Fatal(err)
	}
	if out.Columns[len(out.Columns)-1] != (dataset.Column{Name: "split", Type: dataset.TypeString, Role: dataset.RoleOther}) {
		t.Fatalf("split column = %v", out.Columns[len(out.Columns)-1])
	}
	return v.S
}

func fractionsOf(sets []string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range sets {
		out[s] += 1 / float64(len(sets))
	}
	return out
}

func TestSplitGroupedNeverSplitsAPatient(t *testing.T) {
	const n = 10000
	want := map[string]float64{"train": 0.7, "validation": 0.15, "test": 0.15}
	for _, seed := range []uint64{1, 2, 3, 42, 20240501} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			f := cohort(n, seed)
			sets := splitOf(t, f, fmt.Sprintf("split: {mode: grouped, by: pid, fractions: {train: 0.7, validation: 0.15, test: 0.15}, seed: %d}", seed))
			of := map[string]string{}
			for i, p := range f.Vecs[0].S {
				if s, ok := of[p]; ok && s != sets[i] {
					t.Fatalf("patient in %s and %s", s, sets[i])
				}
				of[p] = sets[i]
			}
			got := fractionsOf(sets)
			for s, w := range want {
				if math.Abs(got[s]-w) > 0.02 {
					t.Errorf("%s: %.3f of rows, want %.2f ± 0.02", s, got[s], w)
				}
			}
			// The same patients in another row order get the same sets.
			rev := deepCopy(f)
			slices.Reverse(rev.Vecs[0].S)
			slices.Reverse(rev.Vecs[1].I)
			again := splitOf(t, rev, fmt.Sprintf("split: {mode: grouped, by: pid, fractions: {train: 0.7, validation: 0.15, test: 0.15}, seed: %d}", seed))
			for i, p := range rev.Vecs[0].S {
				if of[p] != again[i] {
					t.Fatal("the sets depend on the row order")
				}
			}
		})
	}
}

func TestSplitGroupedWithoutValidation(t *testing.T) {
	sets := splitOf(t, cohort(2000, 5), "split: {mode: grouped, by: pid, fractions: {train: 0.8, test: 0.2}, seed: 5}")
	got := fractionsOf(sets)
	if got["validation"] != 0 || math.Abs(got["train"]-0.8) > 0.03 {
		t.Fatalf("fractions = %v", got)
	}
}

func TestSplitStratifiedKeepsClassRatios(t *testing.T) {
	f := cohort(10000, 9)
	y := f.Vecs[1].I
	sets := splitOf(t, f, "split: {mode: stratified, by: y, fractions: {train: 0.6, validation: 0.2, test: 0.2}, seed: 3}")
	total, pos := map[string]int{}, map[string]int{}
	for i, s := range sets {
		total[s]++
		pos[s] += int(y[i])
	}
	// 1,000 positives and 9,000 negatives divide exactly.
	want := map[string][2]int{"train": {6000, 600}, "validation": {2000, 200}, "test": {2000, 200}}
	for s, w := range want {
		if total[s] != w[0] || pos[s] != w[1] {
			t.Errorf("%s: %d rows, %d positive; want %d, %d", s, total[s], pos[s], w[0], w[1])
		}
	}
}

func TestSplitStratifiedUneven(t *testing.T) {
	// 7 of class a, 3 of b, 2 missing: each stratum is divided on its own.
	y := strs("a", "a", "a", "a", "a", "a", "a", "b", "b", "b", nil, nil)
	sets := splitOf(t, frame(c("y", y)), "split: {mode: stratified, by: y, fractions: {train: 0.5, test: 0.5}, seed: 1}")
	count := map[string]int{}
	for i, s := range sets {
		count[y.String(i)+"/"+s]++
	}
	// a: 3.5/3.5 → 4/3 (ties go to the first set); b: 1.5/1.5 → 2/1; missing: 1/1.
	want := map[string]int{"a/train": 4, "a/test": 3, "b/train": 2, "b/test": 1, "/train": 1, "/test": 1}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Fatalf("counts = %v, want %v", count, want)
	}
}

func TestSplitRandom(t *testing.T) {
	f := cohort(10000, 4)
	a := splitOf(t, f, "split: {fractions: {train: 0.7, validation: 0.15, test: 0.15}, seed: 11}")
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	if count["train"] != 7000 || count["validation"] != 1500 || count["test"] != 1500 {
		t.Fatalf("counts = %v", count)
	}
	b := splitOf(t, f, "split: {fractions: {train: 0.7, validation: 0.15, test: 0.15}, seed: 11}")
	other := splitOf(t, f, "split: {fractions: {train: 0.7, validation: 0.15, test: 0.15}, seed: 12}")
	if !slices.Equal(a, b) {
		t.Error("the same seed gave another split")
	}
	if slices.Equal(a, other) {
		t.Error("another seed gave the same split")
	}
	// Fixed across Go releases: a recipe run again gives the same split.
	x := dataset.NewVec(dataset.TypeInteger, 10)
	for i := range 10 {
		x.AppendInt(int64(i))
	}
	got := splitOf(t, frame(c("x", x)), "split: {fractions: {train: 0.6, validation: 0.2, test: 0.2}, seed: 11}")
	if s := strings.Join(got, ","); s != "train,train,train,train,validation,test,train,validation,test,train" {
		t.Errorf("seed 11 gives %s", s)
	}
}

func TestSplitName(t *testing.T) {
	out, err := apply(t, frame(c("x", ints(1, 2, 3))), steps("split: {fractions: {train: 1}, name: fold}"))
	if err != nil {
		t.Fatal(err)
	}
	if got := show(out); got != rows("x:integer|fold:string:other", "1|train", "2|train", "3|train") {
		t.Fatalf("got\n%s", got)
	}
}

func TestSplitErrors(t *testing.T) {
	runApply(t, []applyCase{
		{name: "missing patient", in: frame(c("p", strs("a", nil, "b", nil))), recipe: steps("split: {mode: grouped, by: p, fractions: {train: 1}}"),
			err: `recipe step 1 (split): column "p" is missing in rows 2, 4: every row needs a group`},
		{name: "unknown column", recipe: steps("split: {mode: stratified, by: nope, fractions: {train: 1}}"), err: `recipe step 1 (split): unknown column "nope"`},
		{name: "name taken", recipe: steps("split: {fractions: {train: 1}, name: sex}"), err: `recipe step 1 (split): column "sex" already exists`},
	})
}
