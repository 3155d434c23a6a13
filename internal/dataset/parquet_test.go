package dataset

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
)

// everyType is a frame with a column of each type, every one with missing
// values, and edge values.
func everyType(n int) *Frame {
	cols := []Column{
		{Name: "i", Type: TypeInteger, Role: RolePatientID},
		{Name: "f", Type: TypeFloat, Role: RoleFeature},
		{Name: "b", Type: TypeBoolean, Role: RoleTarget},
		{Name: "d", Type: TypeDate, Role: RoleDate},
		{Name: "dt", Type: TypeDatetime, Role: RoleOther},
		{Name: "s", Type: TypeString, Role: RoleQuasiIdentifier},
		{Name: "note, libre", Type: TypeText, Role: RoleText},
	}
	f := emptyFrame(cols, n)
	ints := []int64{0, -1, math.MaxInt64, math.MinInt64, 42}
	floats := []float64{0, -0.5, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), 3.14159}
	dates := []int64{0, -25567, 2932896, 19723} // 1970, 1900, 9999-12-31, 2024
	times := []int64{0, -1, 1_700_000_000_123_456, -2_208_988_800_000_000}
	strs := []string{"", "Hélène", "ligne 1\nligne 2", "\x00nul", strings.Repeat("long ", 100), "😀"}
	for r := range n {
		for c, v := range f.Vecs {
			if (r+c)%5 == 2 {
				v.AppendNull()
				continue
			}
			switch cols[c].Type {
			case TypeInteger:
				v.AppendInt(ints[r%len(ints)])
			case TypeFloat:
				v.AppendFloat(floats[r%len(floats)])
			case TypeBoolean:
				v.AppendInt(int64(r % 2))
			case TypeDate:
				v.AppendInt(dates[r%len(dates)])
			case TypeDatetime:
				v.AppendInt(times[r%len(times)])
			default:
				v.AppendString(strs[r%len(strs)])
			}
		}
	}
	return f
}

func framesEqual(t *testing.T, got, want *Frame) {
	t.Helper()
	if !slices.Equal(got.Columns, want.Columns) {
		t.Fatalf("columns = %v, want %v", got.Columns, want.Columns)
	}
	if got.Rows() != want.Rows() {
		t.Fatalf("%d rows, want %d", got.Rows(), want.Rows())
	}
	for c, w := range want.Vecs {
		g := got.Vecs[c]
		if g.Type != w.Type {
			t.Fatalf("column %d: type %s, want %s", c, g.Type, w.Type)
		}
		for r := range want.Rows() {
			if g.IsNull(r) != w.IsNull(r) {
				t.Fatalf("column %q, row %d: null %v, want %v", want.Columns[c].Name, r, g.IsNull(r), w.IsNull(r))
			}
			if w.IsNull(r) {
				continue
			}
			var same bool
			switch w.Type.storage() {
			case 'i':
				same = g.I[r] == w.I[r]
			case 'f':
				same = g.F[r] == w.F[r] || (math.IsNaN(g.F[r]) && math.IsNaN(w.F[r]))
			default:
				same = g.S[r] == w.S[r]
			}
			if !same {
				t.Fatalf("column %q, row %d: %q, want %q", want.Columns[c].Name, r, g.String(r), w.String(r))
			}
		}
	}
}

func TestParquetRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 7, chunkRows + 3, groupRows + 5} {
		f := everyType(n)
		var buf bytes.Buffer
		if err := EncodeParquet(&buf, f); err != nil {
			t.Fatal(err)
		}
		got, err := DecodeParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		framesEqual(t, got, f)
	}
}

func TestParquetNaN(t *testing.T) {
	f := emptyFrame([]Column{{Name: "x", Type: TypeFloat, Role: RoleOther}}, 2)
	f.Vecs[0].AppendFloat(math.NaN())
	f.Vecs[0].AppendNull()
	var buf bytes.Buffer
	if err := EncodeParquet(&buf, f); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Vecs[0]; v.IsNull(0) || !math.IsNaN(v.F[0]) || !v.IsNull(1) {
		t.Errorf("NaN round trip: %v %v", v.F, v.Null)
	}
}

// The bytes depend on the content only: not on how it was cut into writes.
func TestParquetDeterministic(t *testing.T) {
	f := everyType(3*chunkRows + 11)
	var whole bytes.Buffer
	if err := EncodeParquet(&whole, f); err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 1000, chunkRows, chunkRows + 1} {
		var buf bytes.Buffer
		fw, err := newFrameWriter(&buf, f.Columns)
		if err != nil {
			t.Fatal(err)
		}
		for from := 0; from < f.Rows(); from += batch {
			if err := fw.Write(sliceFrame(f, from, min(from+batch, f.Rows()))); err != nil {
				t.Fatal(err)
			}
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), whole.Bytes()) {
			t.Errorf("written in batches of %d: other bytes", batch)
		}
	}
}

func sliceFrame(f *Frame, i, j int) *Frame {
	out := emptyFrame(f.Columns, j-i)
	for c, v := range f.Vecs {
		for r := i; r < j; r++ {
			switch {
			case v.IsNull(r):
				out.Vecs[c].AppendNull()
			case v.Type.storage() == 'i':
				out.Vecs[c].AppendInt(v.I[r])
			case v.Type.storage() == 'f':
				out.Vecs[c].AppendFloat(v.F[r])
			default:
				out.Vecs[c].AppendString(v.S[r])
			}
		}
	}
	return out
}

// Parquet files from elsewhere (Spark, pandas, DuckDB) use other physical
// types, dictionaries and required columns.
func TestParquetForeignTypes(t *testing.T) {
	type row struct {
		Required  int32     `parquet:"required_int32"`
		Small     *int32    `parquet:"small,optional"`
		Unsigned  uint64    `parquet:"unsigned"`
		Single    float32   `parquet:"single"`
		Dict      string    `parquet:"dict,dict"`
		Bytes     []byte    `parquet:"bytes"`
		Millis    time.Time `parquet:"millis,timestamp(millisecond)"`
		Nanos     time.Time `parquet:"nanos,timestamp(nanosecond)"`
		Flag      bool      `parquet:"flag"`
		Legacy    int64     `parquet:"legacy"`
		DateInt32 int32     `parquet:"day,date"`
	}
	seven := int32(7)
	rows := []row{
		{Required: 1, Small: &seven, Unsigned: 3, Single: 1.5, Dict: "a", Bytes: []byte("x"), Millis: time.UnixMilli(1_700_000_000_123).UTC(),
			Nanos: time.Unix(0, 1_700_000_000_123_456_789).UTC(), Flag: true, Legacy: -9, DateInt32: 19723},
		{Required: -2, Small: nil, Unsigned: 0, Single: -0.25, Dict: "a", Bytes: []byte("é"), Millis: time.UnixMilli(-1).UTC(),
			Nanos: time.Unix(0, -1001).UTC(), Flag: false, Legacy: 0, DateInt32: -1},
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"required_int32": {"1", "-2"}, "small": {"7", ""}, "unsigned": {"3", "0"}, "single": {"1.5", "-0.25"},
		"dict": {"a", "a"}, "bytes": {"x", "é"}, "millis": {"2023-11-14T22:13:20.123Z", "1969-12-31T23:59:59.999Z"},
		"nanos": {"2023-11-14T22:13:20.123456Z", "1969-12-31T23:59:59.999998Z"}, "flag": {"true", "false"}, "legacy": {"-9", "0"},
		"day": {"2024-01-01", "1969-12-31"},
	}
	for c, col := range got.Columns {
		w, ok := want[col.Name]
		if !ok {
			t.Errorf("unexpected column %q", col.Name)
			continue
		}
		var vals []string
		for r := range got.Rows() {
			vals = append(vals, got.Vecs[c].String(r))
		}
		if !slices.Equal(vals, w) {
			t.Errorf("column %q (%s) = %q, want %q", col.Name, col.Type, vals, w)
		}
	}
	if len(got.Columns) != len(want) {
		t.Errorf("%d columns, want %d", len(got.Columns), len(want))
	}
}

func TestParquetINT96AndDecimal(t *testing.T) {
	schema := parquet.NewSchema("spark", parquet.Group{
		"ts":  parquet.Leaf(parquet.Int96Type),
		"amt": parquet.Decimal(2, 9, parquet.Int32Type),
		"big": parquet.Decimal(3, 20, parquet.FixedLenByteArrayType(9)),
	})
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, schema)
	// 2024-01-01T12:00:00.5Z: Julian day 2460311, 12.5 hours of nanoseconds.
	nanos := int64(12*3600+0)*1e9 + 5e8
	ts := deprecated.Int96{uint32(nanos), uint32(nanos >> 32), 2460311}
	big := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xcf, 0xc7} // -12345, two's complement
	// parquet.Group orders its columns by name: amt, big, ts.
	row := parquet.Row{
		parquet.Int32Value(12345).Level(0, 0, 0),
		parquet.FixedLenByteArrayValue(big).Level(0, 0, 1),
		parquet.Int96Value(ts).Level(0, 0, 2),
	}
	if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ts": "2024-01-01T12:00:00.5Z", "amt": "123.45", "big": "-12.345"}
	for c, col := range got.Columns {
		if s := got.Vecs[c].String(0); s != want[col.Name] {
			t.Errorf("%s = %q, want %q", col.Name, s, want[col.Name])
		}
	}
}

func TestParquetRefusesNested(t *testing.T) {
	type row struct {
		List []int `parquet:"list"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf)
	w.Write([]row{{List: []int{1}}})
	w.Close()
	_, err := DecodeParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err == nil || !strings.Contains(err.Error(), `"list"`) {
		t.Errorf("DecodeParquet = %v, want an error naming the column", err)
	}
	if _, err := DecodeParquet(bytes.NewReader([]byte("not parquet")), 11); err == nil {
		t.Error("garbage decoded")
	}
}
