package dataset

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseValues(t *testing.T) {
	us := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMicro()
	}
	day := func(s string) int64 {
		tm, _ := time.Parse(time.DateOnly, s)
		return Days(tm)
	}
	tests := []struct {
		typ   Type
		in    string
		want  any // int64, float64, or nil when it must not parse
		comma bool
	}{
		{TypeInteger, "0", int64(0), false},
		{TypeInteger, "-0", int64(0), false},
		{TypeInteger, "+17", int64(17), false},
		{TypeInteger, "9223372036854775807", int64(math.MaxInt64), false},
		{TypeInteger, "-9223372036854775808", int64(math.MinInt64), false},
		{TypeInteger, "9223372036854775808", nil, false},
		{TypeInteger, "99999999999999999999", nil, false},
		{TypeInteger, "007", nil, false},
		{TypeInteger, "1 000", nil, false},
		{TypeInteger, "-", nil, false},
		{TypeFloat, "1.5", 1.5, false},
		{TypeFloat, "-0.001", -0.001, false},
		{TypeFloat, ".5", 0.5, false},
		{TypeFloat, "5.", 5.0, false},
		{TypeFloat, "1e3", 1000.0, false},
		{TypeFloat, "2.5E-3", 0.0025, false},
		{TypeFloat, "1,5", 1.5, true},
		{TypeFloat, "-12,75", -12.75, true},
		{TypeFloat, "1.5", nil, true},
		{TypeFloat, "1,5", nil, false},
		{TypeFloat, "0.1234567890123456789", 0.1234567890123456789, false},
		{TypeFloat, "123456789012345678", 123456789012345678.0, false},
		{TypeFloat, "1e400", nil, false},
		{TypeFloat, "NaN", nil, false},
		{TypeFloat, "Inf", nil, false},
		{TypeFloat, "0x10", nil, false},
		{TypeFloat, "1_000", nil, false},
		{TypeFloat, "00.5", nil, false},
		{TypeBoolean, "OUI", int64(1), false},
		{TypeBoolean, "faux", int64(0), false},
		{TypeBoolean, "1", int64(1), false}, // a declared boolean accepts 0 and 1
		{TypeBoolean, "t", nil, false},
		{TypeDate, "2024-02-29", day("2024-02-29"), false},
		{TypeDate, "29/02/2024", day("2024-02-29"), false},
		{TypeDate, "1/2/0003", day("0003-02-01"), false},
		{TypeDate, "2023-02-29", nil, false},
		{TypeDate, "2024-13-01", nil, false},
		{TypeDate, "0000-01-01", nil, false},
		{TypeDate, "2024-1-01", nil, false},
		{TypeDate, "2024-01-01T00:00", nil, false},
		{TypeDatetime, "2024-01-01", us("2024-01-01T00:00:00Z"), false},
		{TypeDatetime, "2024-03-31T02:30:00+02:00", us("2024-03-31T00:30:00Z"), false},
		{TypeDatetime, "2024-03-31 02:30:00-0530", us("2024-03-31T08:00:00Z"), false},
		{TypeDatetime, "2024-03-31T02:30Z", us("2024-03-31T02:30:00Z"), false},
		{TypeDatetime, "2024-03-31T02:30:00.123456789", us("2024-03-31T02:30:00.123456Z"), false},
		{TypeDatetime, "2024-03-31T02:30:00,5+01", us("2024-03-31T01:30:00.5Z"), false},
		{TypeDatetime, "31/03/2024 02:30", us("2024-03-31T02:30:00Z"), false},
		{TypeDatetime, "31/03/2024 02:30:59", us("2024-03-31T02:30:59Z"), false},
		{TypeDatetime, "1969-12-31 23:59:59.999999", us("1969-12-31T23:59:59.999999Z"), false},
		{TypeDatetime, "31/03/2024T02:30", nil, false},
		{TypeDatetime, "31/03/2024 02:30Z", nil, false},
		{TypeDatetime, "2024-03-31 24:00", nil, false},
		{TypeDatetime, "2024-03-31 12:60", nil, false},
		{TypeDatetime, "2024-03-31 12:00:00.", nil, false},
		{TypeDatetime, "2024-03-31 12:00+25:00", nil, false},
	}
	for _, tt := range tests {
		v := NewVec(tt.typ, 1)
		decimal := byte('.')
		if tt.comma {
			decimal = ','
		}
		ok := appendText(v, []byte(tt.in), decimal)
		if tt.want == nil {
			if ok {
				t.Errorf("%s %q: read as %s, want an error", tt.typ, tt.in, v.String(0))
			}
			continue
		}
		if !ok {
			t.Errorf("%s %q: does not read", tt.typ, tt.in)
			continue
		}
		switch w := tt.want.(type) {
		case int64:
			if v.I[0] != w {
				t.Errorf("%s %q = %d, want %d", tt.typ, tt.in, v.I[0], w)
			}
		case float64:
			if v.F[0] != w {
				t.Errorf("%s %q = %v, want %v", tt.typ, tt.in, v.F[0], w)
			}
		}
	}
}

// The fast path of float reading agrees with strconv, bit for bit.
func TestParseFloatFastMatchesStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		var b strings.Builder
		if r.IntN(4) == 0 {
			b.WriteByte('-')
		}
		n := 1 + r.IntN(16)
		point := r.IntN(n + 1)
		for i := range n {
			if i == point && i > 0 {
				b.WriteByte('.')
			}
			d := byte('0' + r.IntN(10))
			if i == 0 && d == '0' && point != 1 {
				d = '7'
			}
			b.WriteByte(d)
		}
		s := b.String()
		want, err := strconv.ParseFloat(s, 64)
		if err != nil {
			continue
		}
		got, ok := parseFloat([]byte(s), '.')
		if !ok || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseFloat(%q) = %v, %v; strconv: %v", s, got, ok, want)
		}
	}
}

func TestDaysFromCivil(t *testing.T) {
	for _, d := range []time.Time{
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		if got := daysFromCivil(int64(d.Year()), int64(d.Month()), int64(d.Day())); got != Days(d) {
			t.Errorf("%s: %d, want %d", d.Format(time.DateOnly), got, Days(d))
		}
	}
}
