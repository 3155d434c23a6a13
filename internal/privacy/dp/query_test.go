package dp

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
)

func TestDecimalIsExact(t *testing.T) {
	sum := Decimal{}
	for range 10 {
		sum = sum.Add(MustDecimal("0.1"))
	}
	if sum.Cmp(DecimalInt(1)) != 0 || sum.String() != "1" {
		t.Fatalf("10 × 0.1 = %s", sum)
	}
	for in, want := range map[string]string{"1e-6": "0.000001", "0.50": "0.5", "3": "3", "-2.25": "-2.25", ".5": "0.5", "1E2": "100", " 7 ": "7"} {
		d, err := ParseDecimal(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDecimal(%q) = %s, %v; want %s", in, d, err, want)
		}
	}
	for _, bad := range []string{"", "1/3", "0x10", "inf", "NaN", "1e500", "1,5", "--1", strings.Repeat("1", 41)} {
		if _, err := ParseDecimal(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseDecimal(%q) = %v, want invalid", bad, err)
		}
	}
	if (Decimal{}).String() != "0" || MustDecimal("0.3").Sub(MustDecimal("0.1")).Cmp(MustDecimal("0.2")) != 0 {
		t.Error("zero or subtraction")
	}
	third := Decimal{MustDecimal("1").rat()}.Rat()
	third.Quo(third, DecimalInt(3).rat())
	if (Decimal{third}).Places() != -1 || (Decimal{third}).String() != "1/3" {
		t.Error("non-decimal formatting")
	}
	var back Decimal
	b, _ := MustDecimal("0.000001").MarshalJSON()
	if err := back.UnmarshalJSON(b); err != nil || back.String() != "0.000001" {
		t.Errorf("JSON round trip: %s %v", back, err)
	}
}

func TestParseDeclarations(t *testing.T) {
	cases := []struct {
		in   string
		want []Declaration
		err  bool
	}{
		{"sexe=F,M", []Declaration{{"sexe", []string{"F", "M"}}}, false},
		{" sexe = F , M ;service=A", []Declaration{{"sexe", []string{"F", "M"}}, {"service", []string{"A"}}}, false},
		{`ville=Saint-Denis\, La Réunion,Paris`, []Declaration{{"ville", []string{"Saint-Denis, La Réunion", "Paris"}}}, false},
		{`a\=b=x\;y,z\\`, []Declaration{{"a=b", []string{"x;y", `z\`}}}, false},
		{"a=1;;b=2;", []Declaration{{"a", []string{"1"}}, {"b", []string{"2"}}}, false},
		{"a=1=2", []Declaration{{"a", []string{"1=2"}}}, false},
		{"", nil, false},
		{"sexe", nil, true},
		{"=F,M", nil, true},
		{"sexe=", nil, true},
		{"sexe=F,,M", nil, true},
		{"sexe=F,F", nil, true},
		{"sexe=F;sexe=M", nil, true},
		{`sexe=F\`, nil, true},
		{"a=1;b", nil, true},
	}
	for _, c := range cases {
		got, err := ParseDeclarations(c.in)
		if c.err {
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("ParseDeclarations(%q) = %v, %v; want invalid", c.in, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseDeclarations(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}

func TestParseGroups(t *testing.T) {
	gs, err := ParseGroups([]string{"age", "sexe"}, []string{"sexe=F,M"}, []string{"age=0,18,40,65,120"})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].Column != "age" || gs[1].Column != "sexe" {
		t.Fatalf("groups %+v", gs)
	}
	if got := gs[0].Labels(); !reflect.DeepEqual(got, []string{"[0,18)", "[18,40)", "[40,65)", "[65,120]"}) {
		t.Errorf("bin labels %v", got)
	}
	for _, c := range []struct {
		by, cats, bins []string
	}{
		{[]string{"age"}, nil, nil},                                    // undeclared output space
		{[]string{"sexe"}, []string{"sexe=F,M", "age=1,2"}, nil},       // declared, not grouped
		{[]string{"age"}, nil, []string{"age=0,x"}},                    // not a number
		{[]string{"sexe"}, []string{"sexe=F"}, []string{"sexe=0,1"}},   // declared twice
		{[]string{"sexe"}, []string{"sexe=F,M"}, []string{"sexe=0,1"}}, // both
	} {
		if _, err := ParseGroups(c.by, c.cats, c.bins); !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseGroups(%v, %v, %v) = %v, want invalid", c.by, c.cats, c.bins, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	one := DecimalInt(1)
	ok := []Query{
		{Kind: KindCount, Epsilon: one},
		{Kind: KindCount, Epsilon: one, By: []Group{{Column: "s", Categories: []string{"F"}}}},
		{Kind: KindSum, Epsilon: one, Column: "x", Lo: DecimalInt(0), Hi: DecimalInt(10)},
		{Kind: KindMean, Epsilon: one, Column: "x", Lo: DecimalInt(-1), Hi: DecimalInt(1), Noise: Gaussian, Delta: MustDecimal("1e-6")},
		{Kind: KindQuantile, Epsilon: one, Column: "x", Lo: DecimalInt(0), Hi: DecimalInt(10)},
	}
	for _, q := range ok {
		if err := q.Normalize(); err != nil {
			t.Errorf("%+v: %v", q, err)
		}
	}
	q := Query{Kind: KindCount, Epsilon: one, By: []Group{{Column: "s", Categories: []string{"F"}}}}
	q.Normalize()
	if q.Kind != KindHistogram || q.MaxRowsPerPatient != 1 || q.Noise != Laplace {
		t.Errorf("defaults: %+v", q)
	}
	bad := []Query{
		{Kind: "median", Epsilon: one},
		{Kind: KindCount},
		{Kind: KindCount, Epsilon: MustDecimal("-1")},
		{Kind: KindCount, Epsilon: MustDecimal("101")},
		{Kind: KindCount, Epsilon: MustDecimal("0.0000001")},
		{Kind: KindCount, Epsilon: one, Delta: MustDecimal("1e-6")},                 // δ with Laplace
		{Kind: KindCount, Epsilon: one, Noise: Gaussian},                            // Gaussian without δ
		{Kind: KindCount, Epsilon: one, Noise: Gaussian, Delta: MustDecimal("0.5")}, // δ too large
		{Kind: KindCount, Epsilon: one, Noise: "uniform"},
		{Kind: KindCount, Epsilon: one, Column: "x"},
		{Kind: KindCount, Epsilon: one, MaxRowsPerPatient: -1},
		{Kind: KindHistogram, Epsilon: one},
		{Kind: KindSum, Epsilon: one, Column: "x"},                                       // no bounds
		{Kind: KindSum, Epsilon: one, Column: "x", Lo: DecimalInt(5), Hi: DecimalInt(5)}, // empty bounds
		{Kind: KindSum, Epsilon: one, Lo: DecimalInt(0), Hi: DecimalInt(5)},              // no column
		{Kind: KindSum, Epsilon: one, Column: "x", Lo: DecimalInt(0), Hi: MustDecimal("1e16")},
		{Kind: KindQuantile, Epsilon: one, Column: "x", Lo: DecimalInt(0), Hi: DecimalInt(1), Noise: Gaussian, Delta: MustDecimal("1e-6")},
		{Kind: KindQuantile, Epsilon: one, Column: "x", Lo: DecimalInt(0), Hi: DecimalInt(1), Quantiles: []Decimal{DecimalInt(1)}},
		{Kind: KindQuantile, Epsilon: one, Column: "x", Lo: DecimalInt(0), Hi: DecimalInt(1), By: []Group{{Column: "s", Categories: []string{"F"}}}},
		{Kind: KindCount, Epsilon: one, Quantiles: []Decimal{MustDecimal("0.5")}},
		{Kind: KindHistogram, Epsilon: one, By: []Group{{Column: "s"}}},
		{Kind: KindHistogram, Epsilon: one, By: []Group{{Column: "s", Edges: []Decimal{one}}}},
		{Kind: KindHistogram, Epsilon: one, By: []Group{{Column: "s", Edges: []Decimal{one, one}}}},
		{Kind: KindHistogram, Epsilon: one, By: []Group{{Column: "s", Categories: []string{"F"}}, {Column: "s", Categories: []string{"M"}}}},
		{Kind: KindHistogram, Epsilon: one, By: []Group{
			{Column: "a", Categories: manyCategories(1000)}, {Column: "b", Categories: manyCategories(1000)}}}, // 10⁶ cells
	}
	for _, q := range bad {
		if err := q.Normalize(); !errs.Is(err, errs.Invalid) {
			t.Errorf("%+v: %v, want invalid", q, err)
		}
	}
}

func manyCategories(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "c" + strings.Repeat("x", i%5) + string(rune('A'+i%26)) + strings.Repeat("y", i/26)
	}
	return out
}

// FuzzParseDeclarations: the parser of --categories and --bins never
// panics, accepts only well-formed declarations, and what it accepts reads
// back the same once formatted.
func FuzzParseDeclarations(f *testing.F) {
	for _, s := range []string{"sexe=F,M", "age=0,18,40,65,120", `a\=b=x\;y,z\\`, "a=1;;b=2;", "=", ";", `\`, "a=,", "é=ü,ß;x=\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseDeclarations(s)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("ParseDeclarations(%q): error %v is not invalid", s, err)
			}
			return
		}
		cols := map[string]bool{}
		for _, d := range ds {
			if d.Column == "" || len(d.Values) == 0 || cols[d.Column] {
				t.Fatalf("ParseDeclarations(%q) accepted %+v", s, ds)
			}
			cols[d.Column] = true
			for _, v := range d.Values {
				if v == "" || v != strings.TrimSpace(v) {
					t.Fatalf("ParseDeclarations(%q): value %q", s, v)
				}
			}
		}
		back, err := ParseDeclarations(FormatDeclarations(ds))
		if err != nil || len(back) != len(ds) || len(ds) > 0 && !reflect.DeepEqual(back, ds) {
			t.Fatalf("round trip of %q: %#v → %q → %#v, %v", s, ds, FormatDeclarations(ds), back, err)
		}
		// What parses is a valid --categories for the --by columns it names.
		by := make([]string, len(ds))
		for i, d := range ds {
			by[i] = d.Column
		}
		if _, err := ParseGroups(by, []string{s}, nil); err != nil {
			t.Fatalf("ParseGroups(%v, %q): %v", by, s, err)
		}
	})
}
