package profile

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
)

// randomFrame draws a small frame whose columns have few distinct values,
// so that small cells, merged ends and complements all occur.
func randomFrame(rng *rand.Rand) *dataset.Frame {
	types := []dataset.Type{dataset.TypeInteger, dataset.TypeFloat, dataset.TypeBoolean, dataset.TypeDate, dataset.TypeDatetime, dataset.TypeString, dataset.TypeText}
	n := rng.IntN(300)
	f := &dataset.Frame{}
	for c := range 1 + rng.IntN(6) {
		t := types[rng.IntN(len(types))]
		role := dataset.Roles[rng.IntN(len(dataset.Roles))]
		v := dataset.NewVec(t, n)
		spread := 1 + rng.IntN(60)
		missing := rng.IntN(4) == 0
		for range n {
			if missing && rng.IntN(5) == 0 {
				v.AppendNull()
				continue
			}
			x := int64(rng.NormFloat64() * float64(spread))
			switch t {
			case dataset.TypeFloat:
				v.AppendFloat(float64(x) / 4)
			case dataset.TypeBoolean:
				v.AppendInt(int64(rng.IntN(1+spread%7) / max(1, spread%7)))
			case dataset.TypeDate:
				v.AppendInt(19_000 + x*int64(1+spread%40))
			case dataset.TypeDatetime:
				v.AppendInt(1_700_000_000_000_000 + x*3_600_000_000*int64(1+spread))
			case dataset.TypeString, dataset.TypeText:
				v.AppendString("v" + strconv.FormatInt(x, 10))
			default:
				v.AppendInt(x)
			}
		}
		f.Columns = append(f.Columns, dataset.Column{Name: "c" + strconv.Itoa(c), Type: t, Role: role})
		f.Vecs = append(f.Vecs, v)
	}
	return f
}

// TestInvariants profiles random frames and checks the privacy rules on
// the result: no shown count below k, no small cell provable non-empty from
// the published total, identifiers and free text without values, a
// quasi-identifier's min and max on its histogram's edges.
func TestInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 400 {
		f := randomFrame(rng)
		k := 2 + rng.IntN(9)
		r, err := Of(f, Options{MinCount: k})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("frame %d: %v", iter, err)
		}
		for ci, c := range r.Columns {
			where := "frame " + strconv.Itoa(iter) + " column " + c.Name + " (" + string(c.Type) + ", " + string(c.Role) + ", k " + strconv.Itoa(k) + ")"
			tr := treatmentOf(f.Columns[ci])
			if tr == countsOnly || tr == freeText || c.Count < k {
				if c.Numeric != nil || c.Boolean != nil || c.Temporal != nil || (c.String != nil && c.String.Top != nil) {
					t.Fatalf("%s: values shown", where)
				}
			}
			if c.Numeric != nil && c.Numeric.Histogram != nil {
				var cs []Cell
				for _, b := range c.Numeric.Histogram.Bins {
					cs = append(cs, b.Cell)
				}
				checkPartition(t, where+" histogram", cs, int64(c.Count-c.Numeric.Infinite), k)
				if tr == coarse {
					bins := c.Numeric.Histogram.Bins
					if c.Numeric.Min != nil && (bins[0].Lo == nil || *bins[0].Lo != *c.Numeric.Min) {
						t.Fatalf("%s: min %v is not the first edge", where, *c.Numeric.Min)
					}
					if c.Numeric.Max != nil && (bins[len(bins)-1].Hi == nil || *bins[len(bins)-1].Hi != *c.Numeric.Max) {
						t.Fatalf("%s: max %v is not the last edge", where, *c.Numeric.Max)
					}
					w := c.Numeric.Histogram.Width
					for _, q := range []*float64{c.Numeric.Quantiles.P1, c.Numeric.Quantiles.P50, c.Numeric.Quantiles.P99} {
						if q != nil && math.Abs(*q/w-math.Round(*q/w)) > 1e-6 {
							t.Fatalf("%s: quantile %v off the grid of %v", where, *q, w)
						}
					}
				}
			}
			if c.Numeric != nil {
				for _, v := range c.Numeric.Top {
					if v.Count < int64(k) {
						t.Fatalf("%s: top value with %d records", where, v.Count)
					}
				}
			}
			if c.String != nil {
				for _, v := range c.String.Top {
					if v.Count < int64(k) {
						t.Fatalf("%s: top value with %d records", where, v.Count)
					}
				}
			}
			if c.Boolean != nil {
				checkPartition(t, where+" boolean", []Cell{c.Boolean.True, c.Boolean.False}, int64(c.Count), k)
			}
			if c.Temporal != nil {
				var cs []Cell
				for _, b := range c.Temporal.Timeline {
					cs = append(cs, b.Cell)
				}
				checkPartition(t, where+" timeline", cs, int64(c.Count), k)
			}
		}
	}
}

// checkPartition checks cells whose total is published: shown counts are at
// least k, and no small cell can be proven non-empty unless all are hidden.
func checkPartition(t *testing.T, where string, cs []Cell, total int64, k int) {
	t.Helper()
	var shownSum, s, upper int64
	shownMin := int64(math.MaxInt64)
	nHidden, nSmall, nComp := 0, 0, 0
	for _, c := range cs {
		switch {
		case !c.Suppressed:
			if c.Count == nil || *c.Count < int64(k) {
				t.Fatalf("%s: shown count %v below k", where, c.Count)
			}
			shownSum += *c.Count
			shownMin = min(shownMin, *c.Count)
		case c.Count != nil:
			t.Fatalf("%s: suppressed cell with a count", where)
		case c.Label == smallLabel(k):
			nHidden++
			nSmall++
		case c.Label == largeLabel(k):
			nHidden++
			nComp++
		default:
			t.Fatalf("%s: label %q", where, c.Label)
		}
	}
	if nHidden == len(cs) || nSmall == 0 {
		return
	}
	s = total - shownSum
	upper = int64(nSmall)*int64(k-1) + int64(nComp)*min(shownMin, s)
	if s-(upper-int64(k-1)) > 0 {
		t.Fatalf("%s: a small cell is provably non-empty (hidden total %d, %d small, %d complements)", where, s, nSmall, nComp)
	}
}
