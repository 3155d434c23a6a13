package dp

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/dp/noise"
)

func seeded(seed byte) *noise.Sampler {
	var s [32]byte
	s[0] = seed
	return noise.New(rand.NewChaCha8(s))
}

// frame reads csv with roles applied (patient_id gets role patient_id).
func frame(t testing.TB, csv string, roles map[string]dataset.Role) *dataset.Frame {
	t.Helper()
	tab, err := dataset.ReadCSV(strings.NewReader(csv), "test.csv")
	if err != nil {
		t.Fatal(err)
	}
	if roles == nil {
		roles = map[string]dataset.Role{}
	}
	if tab.Index("patient_id") >= 0 {
		roles["patient_id"] = dataset.RolePatientID
	}
	if err := tab.SetRoles(roles); err != nil {
		t.Fatal(err)
	}
	f, err := tab.ToFrame()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// stays: patient P1 has 4 stays, the others 1 each; a category "X" that no
// query declares; one value out of every bound; one missing value.
const stays = `patient_id,sexe,age,duree,service
P1,F,30,2,A
P1,F,30,5,A
P1,F,31,40,B
P1,F,31,3,A
P2,M,70,1,A
P3,M,15,4,B
P4,X,50,6,A
P5,F,66,,B
P6,M,120,-3,A
`

func mustPrepare(t *testing.T, f *dataset.Frame, q Query) *prepared {
	t.Helper()
	if err := q.Normalize(); err != nil {
		t.Fatal(err)
	}
	p, err := prepare(f, q)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestContributionBounding(t *testing.T) {
	f := frame(t, stays, nil)
	for m, want := range map[int]int64{1: 6, 2: 7, 3: 8, 4: 9, 10: 9} {
		p := mustPrepare(t, f, Query{Kind: KindCount, Epsilon: DecimalInt(1), MaxRowsPerPatient: m})
		if p.counts[0] != want {
			t.Errorf("m = %d: %d rows kept, want %d", m, p.counts[0], want)
		}
	}
	// Which of P1's rows are kept depends on P1's rows only: adding other
	// patients, or reordering the file, keeps the same ones.
	kept := func(csv string) []string {
		f := frame(t, csv, nil)
		var out []string
		for _, r := range boundContributions(f, f.Index("patient_id"), 2) {
			if f.Vecs[0].String(r) == "P1" {
				out = append(out, f.Vecs[3].String(r))
			}
		}
		slices.Sort(out)
		return out
	}
	base := kept(stays)
	lines := strings.Split(strings.TrimSpace(stays), "\n")
	reordered := lines[0] + "\n" + strings.Join(append(slices.Clone(lines[5:]), lines[1:5]...), "\n") + "\n"
	slices.Reverse(lines[1:])
	reversed := strings.Join(lines, "\n") + "\n"
	more := stays + "P7,F,40,9,A\nP7,F,40,10,A\nP8,M,41,11,B\n"
	for _, csv := range []string{reordered, reversed, more} {
		if got := kept(csv); !slices.Equal(got, base) {
			t.Errorf("P1 keeps %v, then %v", base, got)
		}
	}
	if len(base) != 2 {
		t.Fatalf("P1 keeps %d rows", len(base))
	}
	// Rows without a patient id have no owner to bound: they are dropped.
	f = frame(t, "patient_id,x\nP1,1\n,2\n,3\n", nil)
	if p := mustPrepare(t, f, Query{Kind: KindCount, Epsilon: DecimalInt(1)}); p.counts[0] != 1 {
		t.Errorf("rows without patient counted: %d", p.counts[0])
	}
}

func TestHistogramNeverLeaksCategories(t *testing.T) {
	f := frame(t, stays, nil)
	by, err := ParseGroups([]string{"sexe", "age"}, []string{"sexe=F,M,Z"}, []string{"age=0,18,65,120"})
	if err != nil {
		t.Fatal(err)
	}
	q := Query{Kind: KindHistogram, Epsilon: DecimalInt(100), By: by, MaxRowsPerPatient: 4}
	p := mustPrepare(t, f, q)
	exact := map[string]int64{}
	for c, l := range p.labels {
		exact[strings.Join(l, "|")] = p.counts[c]
	}
	want := map[string]int64{
		"F|[0,18)": 0, "F|[18,65)": 4, "F|[65,120]": 1,
		"M|[0,18)": 1, "M|[18,65)": 0, "M|[65,120]": 2, // 120 falls in the last, closed, bin
		"Z|[0,18)": 0, "Z|[18,65)": 0, "Z|[65,120]": 0, // declared, absent: released as 0 + noise
	}
	if !mapsEqual(exact, want) {
		t.Fatalf("exact cells %v, want %v", exact, want)
	}
	res, err := p.release(seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cells) != 9 {
		t.Fatalf("%d cells", len(res.Cells))
	}
	b, _ := json.Marshal(res)
	for _, leak := range []string{`"X"`, "P1", "duree"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("release mentions %s: %s", leak, b)
		}
	}
	for _, c := range res.Cells {
		if c.Value < 0 || c.Value != math.Trunc(c.Value) {
			t.Errorf("cell %v = %v: counts are integers ≥ 0", c.Group, c.Value)
		}
	}
	// Bins exclude values outside the edges.
	by, _ = ParseGroups([]string{"age"}, nil, []string{"age=20,60"})
	p = mustPrepare(t, f, Query{Kind: KindHistogram, Epsilon: DecimalInt(1), By: by, MaxRowsPerPatient: 4})
	if p.counts[0] != 5 {
		t.Errorf("ages in [20,60]: %d, want 5", p.counts[0])
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestSumClampsToBounds(t *testing.T) {
	f := frame(t, stays, nil)
	q := Query{Kind: KindSum, Epsilon: DecimalInt(1), Column: "duree", Lo: DecimalInt(0), Hi: DecimalInt(10), MaxRowsPerPatient: 4}
	p := mustPrepare(t, f, q)
	g := math.Ldexp(1, p.gridExp)
	// Clamped to [0, 10]: 2+5+10+3 (P1) +1 +4 +6 +0 (P6's −3); P5's missing value is left out.
	if got := float64(p.sums[0]) * g; math.Abs(got-31) > 8*g {
		t.Errorf("exact clamped sum %v, want 31 (grid %v)", got, g)
	}
	if p.counts[0] != 8 {
		t.Errorf("%d values summed, want 8", p.counts[0])
	}
	// The grid is a power of two, from the bounds and ε only: the noise
	// scale is m·M/ε = 40, so g = 2^(5−24).
	if p.gridExp != 5-gridBits || p.bound != int64(math.Ceil(10/g)) {
		t.Errorf("grid 2^%d, bound %d", p.gridExp, p.bound)
	}
	other := frame(t, "patient_id,duree\nA,1000\n", nil)
	if p2 := mustPrepare(t, other, q); p2.gridExp != p.gridExp {
		t.Error("the grid depends on the data")
	}
	for i := range 200 {
		res, err := p.release(seeded(byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		v := res.Cells[0].Value
		if v < 0 {
			t.Fatalf("sum of values in [0, 10] released as %v", v)
		}
		if k := v / res.Granularity; k != math.Trunc(k) {
			t.Fatalf("released %v is not on the grid %v", v, res.Granularity)
		}
	}
}

func TestMeanStaysWithinBounds(t *testing.T) {
	f := frame(t, stays, nil)
	by, _ := ParseGroups([]string{"service"}, []string{"service=A,B,C"}, nil)
	q := Query{Kind: KindMean, Epsilon: MustDecimal("0.1"), Column: "duree", Lo: DecimalInt(0), Hi: DecimalInt(10), By: by}
	p := mustPrepare(t, f, q)
	for i := range 300 {
		res, err := p.release(seeded(byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Cells) != 3 {
			t.Fatalf("%d cells", len(res.Cells))
		}
		for _, c := range res.Cells {
			if c.Value < 0 || c.Value > 10 {
				t.Fatalf("mean %v outside [0, 10]", c.Value)
			}
		}
	}
	// With a large ε, the mean is close to the truth: 100 patients of
	// values 0…99 → clamped to [0, 50]: mean 37.25.
	var csv strings.Builder
	csv.WriteString("patient_id,x\n")
	for i := range 100 {
		fmt.Fprintf(&csv, "P%d,%d\n", i, i)
	}
	q = Query{Kind: KindMean, Epsilon: DecimalInt(50), Column: "x", Lo: DecimalInt(0), Hi: DecimalInt(50)}
	res, err := mustPrepare(t, frame(t, csv.String(), nil), q).release(seeded(9))
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Cells[0].Value; math.Abs(v-37.25) > 1 {
		t.Errorf("mean %v, want about 37.25", v)
	}
}

func TestQuantiles(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("patient_id,x\n")
	for i := range 1000 {
		fmt.Fprintf(&csv, "P%d,%d\n", i, i)
	}
	f := frame(t, csv.String(), nil)
	q := Query{Kind: KindQuantile, Epsilon: DecimalInt(6), Column: "x", Lo: DecimalInt(0), Hi: DecimalInt(2000), GridSize: 200,
		Quantiles: []Decimal{MustDecimal("0.25"), MustDecimal("0.5"), MustDecimal("0.9")}}
	p := mustPrepare(t, f, q)
	for i := range 20 {
		res, err := p.release(seeded(byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Mechanism != MechExponential || len(res.Cells) != 3 {
			t.Fatalf("%+v", res)
		}
		for j, want := range []float64{250, 500, 900} {
			v := res.Cells[j].Value
			if v < 0 || v > 2000 || math.Mod(v, 10) != 0 {
				t.Fatalf("quantile %v: off the declared grid", v)
			}
			if math.Abs(v-want) > 60 {
				t.Errorf("quantile %s = %v, want about %v", res.Cells[j].Quantile, v, want)
			}
		}
	}
	// With ε → 0 the answer is uniform over the grid: all of it is reachable.
	q.Epsilon, q.Quantiles = MustDecimal("0.000001"), []Decimal{MustDecimal("0.5")}
	q.GridSize = 4
	p = mustPrepare(t, f, q)
	seen := map[float64]bool{}
	for i := range 200 {
		res, _ := p.release(seeded(byte(i)))
		seen[res.Cells[0].Value] = true
	}
	if len(seen) != 5 {
		t.Errorf("near-zero ε reached %d of 5 grid points", len(seen))
	}
}

// TestNoiseHasTheCalibratedSpread checks, end to end, that the noise of a
// released count has the variance of the discrete Laplace of scale m/ε, and
// that a Gaussian's is below σ² and close to it.
func TestNoiseHasTheCalibratedSpread(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("patient_id\n")
	for i := range 1000 {
		fmt.Fprintf(&csv, "P%d\n", i)
	}
	f := frame(t, csv.String(), nil)
	spread := func(q Query) (float64, float64) {
		p := mustPrepare(t, f, q)
		s := seeded(42)
		var sum, sum2 float64
		const n = 20000
		var sd float64
		for range n {
			res, err := p.release(s)
			if err != nil {
				t.Fatal(err)
			}
			d := res.Cells[0].Value - 1000
			sum += d
			sum2 += d * d
			sd = res.NoiseStdDev
		}
		mean := sum / n
		return sum2/n - mean*mean, sd
	}
	// m = 2, ε = 1: scale 2, variance 2e^{−1/2}/(1 − e^{−1/2})² ≈ 7.84.
	v, sd := spread(Query{Kind: KindCount, Epsilon: DecimalInt(1), MaxRowsPerPatient: 2})
	want := 2 * math.Exp(-0.5) / math.Pow(1-math.Exp(-0.5), 2)
	if math.Abs(v-want)/want > 0.05 || math.Abs(sd*sd-want)/want > 1e-9 {
		t.Errorf("Laplace count: variance %.3f, reported %.3f, want %.3f", v, sd*sd, want)
	}
	// Gaussian, ε = 1, δ = 1e-6: ρ = (√(ln 10⁶ + 1) − √(ln 10⁶))² ≈ 0.0175, σ² = 1/(2ρ) ≈ 28.6.
	q := Query{Kind: KindCount, Epsilon: DecimalInt(1), Noise: Gaussian, Delta: MustDecimal("1e-6")}
	q.Normalize()
	l := math.Log(1e6)
	rho := math.Pow(math.Sqrt(l+1)-math.Sqrt(l), 2)
	if got := q.rho(); got > rho || got < rho*(1-1e-8) {
		t.Errorf("ρ = %v, want %v", got, rho)
	}
	if e := q.rho() + 2*math.Sqrt(q.rho()*l); e > 1 {
		t.Errorf("ρ converts to ε = %v > 1", e)
	}
	v, sd = spread(q)
	if sigma2 := 1 / (2 * rho); v > sigma2*1.05 || v < sigma2*0.9 || sd*sd < sigma2 {
		t.Errorf("Gaussian count: variance %.2f (σ reported %.2f), want ≈ σ² = %.2f", v, sd, sigma2)
	}
}

func TestPrepareRefusesBadColumns(t *testing.T) {
	f := frame(t, "patient_id,nom,note,x,s\nP1,Dupont,bla,1,a\n", map[string]dataset.Role{"nom": dataset.RoleDirectIdentifier, "note": dataset.RoleText})
	one := DecimalInt(1)
	cases := []Query{
		{Kind: KindSum, Epsilon: one, Column: "nom", Lo: DecimalInt(0), Hi: one},
		{Kind: KindSum, Epsilon: one, Column: "patient_id", Lo: DecimalInt(0), Hi: one},
		{Kind: KindSum, Epsilon: one, Column: "s", Lo: DecimalInt(0), Hi: one}, // not numeric
		{Kind: KindSum, Epsilon: one, Column: "nope", Lo: DecimalInt(0), Hi: one},
		{Kind: KindHistogram, Epsilon: one, By: []Group{{Column: "nom", Categories: []string{"Dupont"}}}},
		{Kind: KindHistogram, Epsilon: one, By: []Group{{Column: "note", Categories: []string{"bla"}}}},
		{Kind: KindHistogram, Epsilon: one, By: []Group{{Column: "s", Edges: []Decimal{DecimalInt(0), one}}}}, // bins on text
		{Kind: KindCount, Epsilon: one, PatientColumn: "nope"},
	}
	for _, q := range cases {
		if err := q.Normalize(); err != nil {
			t.Fatal(err)
		}
		if _, err := prepare(f, q); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v, want invalid", q.describe(), err)
		}
	}
	noPatient := frame(t, "x\n1\n", nil)
	if _, err := prepare(noPatient, Query{Kind: KindCount, Epsilon: one, MaxRowsPerPatient: 1}); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "--patient-column") {
		t.Errorf("no patient column: %v", err)
	}
	if _, err := prepare(noPatient, Query{Kind: KindCount, Epsilon: one, MaxRowsPerPatient: 1, PatientColumn: "x"}); err != nil {
		t.Errorf("declared patient column: %v", err)
	}
}
