package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"slices"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/hygie-health/hygie/internal/errs"
)

// Versions are stored as Parquet, one optional column per hygie column:
//
//	integer → INT64              float → DOUBLE          boolean → BOOLEAN
//	date → INT32 (DATE)          datetime → INT64 (TIMESTAMP, µs, UTC)
//	string, text → BYTE_ARRAY (STRING)
//
// with the hygie columns (names, types, roles) as JSON under the key
// "hygie.columns" of the file's key-value metadata. The encoding is
// deterministic: the same columns and values give the same bytes (fixed
// writer settings, "created by" and row group boundaries), which is what
// makes versions content-addressed. Upgrading parquet-go may change the
// bytes, and so the digest, of content imported again afterwards.
const (
	metaColumns = "hygie.columns"
	// chunkRows values are handed to the Parquet column writers at a time,
	// whatever the batches the caller writes, so that page boundaries
	// depend on the content only.
	chunkRows = 4096
	// A row group ends after groupRows rows or once it holds about
	// groupBytes, whichever comes first.
	groupRows  = 1 << 16
	groupBytes = 16 << 20
)

// fastSnappy is Parquet's SNAPPY codec with the fastest Snappy encoder
// (parquet-go's own uses the denser, slower one and allocates its output
// for every page).
type fastSnappy struct{}

func (fastSnappy) String() string                            { return "SNAPPY" }
func (fastSnappy) CompressionCodec() format.CompressionCodec { return format.Snappy }

func (fastSnappy) Encode(dst, src []byte) ([]byte, error) {
	return s2.EncodeSnappy(dst[:cap(dst)], src), nil
}

func (fastSnappy) Decode(dst, src []byte) ([]byte, error) {
	return s2.Decode(dst[:cap(dst)], src)
}

// parquetNode returns the Parquet node of a hygie type.
func parquetNode(t Type) (parquet.Node, error) {
	var n parquet.Node
	switch t {
	case TypeInteger:
		n = parquet.Int(64)
	case TypeFloat:
		n = parquet.Leaf(parquet.DoubleType)
	case TypeBoolean:
		n = parquet.Leaf(parquet.BooleanType)
	case TypeDate:
		n = parquet.Date()
	case TypeDatetime:
		n = parquet.TimestampAdjusted(parquet.Microsecond, true)
	case TypeString, TypeText:
		n = parquet.String()
	default:
		return nil, errs.Invalidf("unknown column type %q", t)
	}
	return parquet.Optional(n), nil
}

// orderedGroup is the schema root: a group whose fields keep the columns'
// order (parquet.Group sorts them by name).
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g orderedGroup) Fields() []parquet.Field { return g.fields }

type orderedField struct {
	parquet.Node
	name string
}

func (f orderedField) Name() string                           { return f.name }
func (f orderedField) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

func parquetSchema(cols []Column) (*parquet.Schema, error) {
	g := orderedGroup{Group: parquet.Group{}}
	for _, c := range cols {
		n, err := parquetNode(c.Type)
		if err != nil {
			return nil, err
		}
		g.Group[c.Name] = n
		g.fields = append(g.fields, orderedField{Node: n, name: c.Name})
	}
	return parquet.NewSchema("hygie", g), nil
}

// frameWriter encodes frames with the same columns as one Parquet file.
type frameWriter struct {
	w     *parquet.Writer
	cols  []Column
	vals  [][]parquet.Value // pending values, per column
	n     int               // pending rows
	group int               // rows in the current row group
	// groupStart is the writer's size when the row group started.
	groupStart int64
	rows       int64
}

func newFrameWriter(out io.Writer, cols []Column) (*frameWriter, error) {
	schema, err := parquetSchema(cols)
	if err != nil {
		return nil, err
	}
	meta, err := json.Marshal(cols)
	if err != nil {
		return nil, err
	}
	opts := []parquet.WriterOption{
		schema,
		parquet.CreatedBy("hygie", "1", ""),
		parquet.Compression(fastSnappy{}),
		parquet.KeyValueMetadata(metaColumns, string(meta)),
		parquet.MaxRowsPerRowGroup(math.MaxInt64),
	}
	// No page statistics (min/max): hygie does not use them, and they cost.
	for _, c := range cols {
		opts = append(opts, parquet.SkipPageBounds(c.Name))
	}
	w := parquet.NewWriter(out, opts...)
	fw := &frameWriter{w: w, cols: cols, vals: make([][]parquet.Value, len(cols))}
	for i := range fw.vals {
		fw.vals[i] = make([]parquet.Value, 0, chunkRows)
	}
	return fw, nil
}

// Write appends the rows of f, whose columns must be the writer's.
func (fw *frameWriter) Write(f *Frame) error {
	if len(f.Vecs) != len(fw.cols) {
		return fmt.Errorf("frame has %d columns, want %d", len(f.Vecs), len(fw.cols))
	}
	n := f.Rows()
	for r := 0; r < n; {
		take := min(n-r, chunkRows-fw.n)
		for c, v := range f.Vecs {
			fw.vals[c] = appendValues(fw.vals[c], v, r, r+take)
		}
		fw.n += take
		r += take
		if fw.n == chunkRows {
			if err := fw.flushChunk(); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendValues appends values [from, to) of v as Parquet values of an
// optional column: a missing value is the zero Value (definition level 0),
// a present one has definition level 1. (The column writers need no
// column index.)
//
// One loop per type on purpose: this runs once per cell of every import, and
// a per-value function call measured slower (BenchmarkImportCSV).
func appendValues(dst []parquet.Value, v *Vec, from, to int) []parquet.Value {
	var x parquet.Value
	switch v.Type {
	case TypeInteger, TypeDatetime:
		for i := from; i < to; i++ {
			if v.IsNull(i) {
				dst = append(dst, parquet.Value{})
				continue
			}
			x = parquet.Int64Value(v.I[i])
			x.SetDefinitionLevel(1)
			dst = append(dst, x)
		}
	case TypeDate:
		for i := from; i < to; i++ {
			if v.IsNull(i) {
				dst = append(dst, parquet.Value{})
				continue
			}
			x = parquet.Int32Value(int32(v.I[i]))
			x.SetDefinitionLevel(1)
			dst = append(dst, x)
		}
	case TypeBoolean:
		for i := from; i < to; i++ {
			if v.IsNull(i) {
				dst = append(dst, parquet.Value{})
				continue
			}
			x = parquet.BooleanValue(v.I[i] != 0)
			x.SetDefinitionLevel(1)
			dst = append(dst, x)
		}
	case TypeFloat:
		for i := from; i < to; i++ {
			if v.IsNull(i) {
				dst = append(dst, parquet.Value{})
				continue
			}
			x = parquet.DoubleValue(v.F[i])
			x.SetDefinitionLevel(1)
			dst = append(dst, x)
		}
	default:
		for i := from; i < to; i++ {
			if v.IsNull(i) {
				dst = append(dst, parquet.Value{})
				continue
			}
			// The column buffer copies the bytes; the string itself is
			// never modified.
			s := v.S[i]
			x = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
			x.SetDefinitionLevel(1)
			dst = append(dst, x)
		}
	}
	return dst
}

func (fw *frameWriter) flushChunk() error {
	if fw.n == 0 {
		return nil
	}
	for c, cw := range fw.w.ColumnWriters() {
		if _, err := cw.WriteRowValues(fw.vals[c]); err != nil {
			return err
		}
		clear(fw.vals[c]) // drop the references to the strings
		fw.vals[c] = fw.vals[c][:0]
	}
	fw.group += fw.n
	fw.rows += int64(fw.n)
	fw.n = 0
	// Writer.Size counts the bytes already written too.
	if fw.group >= groupRows || fw.w.Size()-fw.groupStart >= groupBytes {
		fw.group = 0
		if err := fw.w.Flush(); err != nil {
			return err
		}
		fw.groupStart = fw.w.Size()
	}
	return nil
}

// Close writes the pending rows and the footer. It does not close the
// underlying writer.
func (fw *frameWriter) Close() error {
	if err := fw.flushChunk(); err != nil {
		return err
	}
	return fw.w.Close()
}

// Rows returns the number of rows written so far (after Close: all).
func (fw *frameWriter) Rows() int64 { return fw.rows + int64(fw.n) }

// EncodeParquet writes f as Parquet (the stored form of versions).
func EncodeParquet(w io.Writer, f *Frame) error {
	if err := f.Validate(); err != nil {
		return err
	}
	fw, err := newFrameWriter(w, f.Columns)
	if err != nil {
		return err
	}
	if err := fw.Write(f); err != nil {
		return err
	}
	return fw.Close()
}

// parquetReader reads a Parquet file as frames, one row group at a time.
type parquetReader struct {
	file   *parquet.File
	cols   []Column
	leaves []parquetLeaf // per column
	source string
	group  int
}

// parquetLeaf says how to read one column.
type parquetLeaf struct {
	index int // leaf column index in the file
	conv  func(parquet.Value) (int64, float64, string, error)
	kind  parquet.Kind
	lt    *format.LogicalType
	ct    *deprecated.ConvertedType
}

// openParquet opens a Parquet file. Files written by hygie keep their
// columns' types and roles; others get types from their Parquet types (see
// hygieType) and the role other. only, when not nil, selects columns by name.
func openParquet(r io.ReaderAt, size int64, source string, only []string) (*parquetReader, error) {
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		if errors.Is(err, errSealed) {
			return nil, err
		}
		return nil, errs.Invalidf("%s: not a readable Parquet file", source)
	}
	var stored []Column
	if meta, ok := f.Lookup(metaColumns); ok {
		if err := json.Unmarshal([]byte(meta), &stored); err != nil {
			return nil, errs.Invalidf("%s: hygie column metadata does not parse", source)
		}
	}
	pr := &parquetReader{file: f, source: source}
	top := f.Root().Columns()
	if stored != nil && len(stored) != len(top) {
		stored = nil
	}
	for i, col := range top {
		if !col.Leaf() || col.Repeated() {
			return nil, errs.Invalidf("%s: column %q is nested or repeated; only flat tables are supported", source, col.Name())
		}
		name := col.Name()
		if !utf8.ValidString(name) {
			return nil, errs.Invalidf("%s: column %d: name is not valid UTF-8", source, i+1)
		}
		t, err := hygieType(col.Type())
		if err != nil {
			return nil, errs.Invalidf("%s: column %q: %v", source, name, err)
		}
		c := Column{Name: name, Type: t, Role: RoleOther}
		if stored != nil && stored[i].Name == name && storageCompatible(stored[i].Type, t) {
			c = stored[i]
		}
		if only != nil && !contains(only, name) {
			continue
		}
		typ := col.Type()
		pr.cols = append(pr.cols, c)
		pr.leaves = append(pr.leaves, parquetLeaf{index: col.Index(), kind: typ.Kind(), lt: typ.LogicalType(), ct: typ.ConvertedType()})
	}
	for _, name := range only {
		if !contains(pr.names(), name) {
			return nil, errs.Invalidf("%s: unknown column %q", source, name)
		}
	}
	return pr, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (pr *parquetReader) names() []string {
	out := make([]string, len(pr.cols))
	for i, c := range pr.cols {
		out[i] = c.Name
	}
	return out
}

func storageCompatible(a, b Type) bool {
	return a == b || (a == TypeText && b == TypeString) || (a == TypeString && b == TypeText)
}

// hygieType maps a Parquet type to a hygie type: booleans; signed and
// unsigned integers (up to 2^63-1); FLOAT, DOUBLE and DECIMAL as floats;
// DATE; TIMESTAMP (any unit) and INT96 as datetimes; STRING, ENUM, JSON and
// plain BYTE_ARRAY as strings; UUID as strings.
func hygieType(t parquet.Type) (Type, error) {
	lt := t.LogicalType()
	ct := t.ConvertedType()
	switch {
	case lt != nil && lt.Value != nil:
		switch v := lt.Value.(type) {
		case *format.StringType, *format.EnumType, *format.JsonType, *format.UUIDType:
			return TypeString, nil
		case *format.DateType:
			return TypeDate, nil
		case *format.TimestampType:
			return TypeDatetime, nil
		case *format.DecimalType:
			return TypeFloat, nil
		case *format.IntType:
			return TypeInteger, nil
		default:
			return "", fmt.Errorf("Parquet type %s is not supported", v)
		}
	case ct != nil:
		switch *ct {
		case deprecated.UTF8, deprecated.Enum, deprecated.Json:
			return TypeString, nil
		case deprecated.Date:
			return TypeDate, nil
		case deprecated.TimestampMillis, deprecated.TimestampMicros:
			return TypeDatetime, nil
		case deprecated.Decimal:
			return TypeFloat, nil
		case deprecated.Int8, deprecated.Int16, deprecated.Int32, deprecated.Int64,
			deprecated.Uint8, deprecated.Uint16, deprecated.Uint32, deprecated.Uint64:
			return TypeInteger, nil
		}
		return "", fmt.Errorf("Parquet converted type %d is not supported", *ct)
	}
	switch t.Kind() {
	case parquet.Boolean:
		return TypeBoolean, nil
	case parquet.Int32, parquet.Int64:
		return TypeInteger, nil
	case parquet.Float, parquet.Double:
		return TypeFloat, nil
	case parquet.Int96:
		return TypeDatetime, nil
	case parquet.ByteArray:
		return TypeString, nil
	}
	return "", fmt.Errorf("Parquet type %s is not supported", t)
}

// Columns returns the columns read.
func (pr *parquetReader) Columns() []Column { return pr.cols }

// NumRows returns the number of rows of the file.
func (pr *parquetReader) NumRows() int64 { return pr.file.NumRows() }

// Next reads the next row group into a new frame; io.EOF at the end.
func (pr *parquetReader) Next() (*Frame, error) {
	groups := pr.file.RowGroups()
	if pr.group >= len(groups) {
		return nil, io.EOF
	}
	rg := groups[pr.group]
	pr.group++
	n := int(rg.NumRows())
	f := &Frame{Columns: pr.cols, Vecs: make([]*Vec, len(pr.cols))}
	chunks := rg.ColumnChunks()
	for i, leaf := range pr.leaves {
		v, err := pr.readChunk(chunks[leaf.index], pr.cols[i], leaf, n)
		if err != nil {
			return nil, err
		}
		f.Vecs[i] = v
	}
	return f, nil
}

func (pr *parquetReader) readChunk(chunk parquet.ColumnChunk, col Column, leaf parquetLeaf, n int) (*Vec, error) {
	v := NewVec(col.Type, n)
	pages := chunk.Pages()
	defer pages.Close()
	var vals []parquet.Value
	var arena []byte
	var ends []int // end offsets in arena of the strings of the current page, -1 for null
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, pr.readErr(col, err)
		}
		if readPageFast(v, p, leaf) {
			parquet.Release(p)
			continue
		}
		if vals == nil {
			vals = make([]parquet.Value, 1024)
		}
		vr := p.Values()
		arena, ends = arena[:0], ends[:0]
		for {
			k, err := vr.ReadValues(vals)
			for _, x := range vals[:k] {
				if x.IsNull() {
					if col.Type.storage() == 's' {
						ends = append(ends, -1)
					} else {
						v.AppendNull()
					}
					continue
				}
				if err := appendParquetValue(v, x, leaf, &arena, &ends); err != nil {
					return nil, errs.Invalidf("%s: column %q, row %d: %v", pr.source, col.Name, v.Len()+len(ends)+1, err)
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				parquet.Release(p)
				return nil, pr.readErr(col, err)
			}
		}
		parquet.Release(p)
		if col.Type.storage() == 's' {
			// One string per page, sliced: no allocation per value.
			all := string(arena)
			start := 0
			for _, e := range ends {
				if e < 0 {
					v.AppendNull()
					continue
				}
				v.AppendString(all[start:e])
				start = e
			}
		}
	}
	if v.Len() != n {
		return nil, errs.Invalidf("%s: column %q has %d values in a row group of %d rows", pr.source, col.Name, v.Len(), n)
	}
	return v, nil
}

// readPageFast appends a page's values to v straight from its typed data,
// for the layouts hygie writes (plain values of the column's own physical
// type, an optional or required column, no dictionary). It reports false,
// having appended nothing, for other pages.
func readPageFast(v *Vec, p parquet.Page, leaf parquetLeaf) bool {
	if p.Dictionary() != nil || len(p.RepetitionLevels()) > 0 {
		return false
	}
	defs := p.DefinitionLevels()
	nvals := int(p.NumValues())
	if len(defs) != 0 && len(defs) != nvals {
		return false
	}
	data := p.Data()
	present := nvals - int(p.NumNulls())
	switch {
	case v.Type == TypeFloat && leaf.kind == parquet.Double && leaf.lt == nil:
		xs := data.Double()
		if len(xs) != present {
			return false
		}
		v.F = expand(v.F, xs, defs)
	case (v.Type == TypeInteger || v.Type == TypeDatetime) && leaf.kind == parquet.Int64 && !isUnsigned(leaf) && timestampUnit(leaf) == time.Microsecond:
		xs := data.Int64()
		if len(xs) != present {
			return false
		}
		v.I = expand(v.I, xs, defs)
	case v.Type == TypeDate && leaf.kind == parquet.Int32:
		xs := data.Int32()
		if len(xs) != present {
			return false
		}
		base := len(v.I)
		v.I = slices.Grow(v.I, nvals)[:base+nvals]
		j := 0
		for i := range nvals {
			if len(defs) == 0 || defs[i] != 0 {
				v.I[base+i] = int64(xs[j])
				j++
			} else {
				v.I[base+i] = 0
			}
		}
	case v.Type.storage() == 's' && leaf.kind == parquet.ByteArray:
		bytes, offsets := data.ByteArray()
		if len(offsets) != present+1 {
			return false
		}
		body := bytes[offsets[0]:offsets[present]]
		if !utf8.Valid(body) {
			return false // the slow path names the value's row
		}
		all := string(body)
		base := offsets[0]
		v.S = slices.Grow(v.S, nvals)
		j := 0
		for i := range nvals {
			if len(defs) == 0 || defs[i] != 0 {
				v.S = append(v.S, all[offsets[j]-base:offsets[j+1]-base])
				j++
			} else {
				v.S = append(v.S, "")
			}
		}
	default:
		return false
	}
	// Validity.
	if present < nvals || v.Null != nil {
		if v.Null == nil {
			v.Null = make([]bool, v.Len()-nvals, v.Len())
		}
		for i := range nvals {
			v.Null = append(v.Null, len(defs) != 0 && defs[i] == 0)
		}
	}
	return true
}

// expand appends the present values xs to dst, with zeros where defs marks
// a missing value (defs empty: all present).
func expand[T any](dst, xs []T, defs []byte) []T {
	if len(defs) == 0 {
		return append(dst, xs...)
	}
	base := len(dst)
	dst = slices.Grow(dst, len(defs))[:base+len(defs)]
	var zero T
	j := 0
	for i, d := range defs {
		if d != 0 {
			dst[base+i] = xs[j]
			j++
		} else {
			dst[base+i] = zero
		}
	}
	return dst
}

func timestampUnit(leaf parquetLeaf) time.Duration {
	if leaf.lt != nil {
		if ts, ok := leaf.lt.Value.(*format.TimestampType); ok && ts.Unit.Value != nil {
			return ts.Unit.Value.Duration()
		}
	} else if leaf.ct != nil && *leaf.ct == deprecated.TimestampMillis {
		return time.Millisecond
	}
	return time.Microsecond
}

func (pr *parquetReader) readErr(col Column, err error) error {
	if errors.Is(err, errSealed) {
		return err
	}
	return errs.Invalidf("%s: column %q does not read: %v", pr.source, col.Name, err)
}

// appendParquetValue converts a non-null Parquet value to v's type.
func appendParquetValue(v *Vec, x parquet.Value, leaf parquetLeaf, arena *[]byte, ends *[]int) error {
	switch v.Type {
	case TypeBoolean:
		v.AppendInt(boolInt(x.Boolean()))
	case TypeInteger:
		switch leaf.kind {
		case parquet.Int32:
			if isUnsigned(leaf) {
				v.AppendInt(int64(uint32(x.Int32())))
			} else {
				v.AppendInt(int64(x.Int32()))
			}
		default:
			n := x.Int64()
			if isUnsigned(leaf) && n < 0 {
				return errors.New("unsigned value larger than 2^63-1")
			}
			v.AppendInt(n)
		}
	case TypeFloat:
		if scale, ok := decimalScale(leaf); ok {
			f, err := decimalValue(x, leaf.kind, scale)
			if err != nil {
				return err
			}
			v.AppendFloat(f)
			break
		}
		switch leaf.kind {
		case parquet.Float:
			v.AppendFloat(float64(x.Float()))
		case parquet.Double:
			v.AppendFloat(x.Double())
		default:
			return fmt.Errorf("cannot read %s as a float", leaf.kind)
		}
	case TypeDate:
		v.AppendInt(int64(x.Int32()))
	case TypeDatetime:
		switch leaf.kind {
		case parquet.Int96:
			i96 := x.Int96()
			nanos := int64(i96[1])<<32 | int64(i96[0])
			day := int64(i96[2]) - 2440588 // Julian day of 1970-01-01
			v.AppendInt(day*86400e6 + nanos/1000)
		default:
			v.AppendInt(timestampMicros(x.Int64(), leaf))
		}
	default:
		b := x.ByteArray()
		if leaf.kind == parquet.FixedLenByteArray && len(b) == 16 {
			b = []byte(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
		}
		if !utf8.Valid(b) {
			return errors.New("text is not valid UTF-8")
		}
		*arena = append(*arena, b...)
		*ends = append(*ends, len(*arena))
	}
	return nil
}

func isUnsigned(leaf parquetLeaf) bool {
	if leaf.lt != nil {
		if it, ok := leaf.lt.Value.(*format.IntType); ok {
			return !it.IsSigned
		}
	}
	if leaf.ct != nil {
		switch *leaf.ct {
		case deprecated.Uint8, deprecated.Uint16, deprecated.Uint32, deprecated.Uint64:
			return true
		}
	}
	return false
}

func decimalScale(leaf parquetLeaf) (int32, bool) {
	if leaf.lt != nil {
		if d, ok := leaf.lt.Value.(*format.DecimalType); ok {
			return d.Scale, true
		}
	}
	return 0, false
}

func decimalValue(x parquet.Value, kind parquet.Kind, scale int32) (float64, error) {
	var unscaled *big.Int
	switch kind {
	case parquet.Int32:
		unscaled = big.NewInt(int64(x.Int32()))
	case parquet.Int64:
		unscaled = big.NewInt(x.Int64())
	case parquet.ByteArray, parquet.FixedLenByteArray:
		b := x.ByteArray()
		unscaled = new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 { // two's complement, big-endian
			unscaled.Sub(unscaled, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
	default:
		return 0, fmt.Errorf("decimal stored as %s is not supported", kind)
	}
	f, _ := new(big.Rat).SetFrac(unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)).Float64()
	return f, nil
}

func timestampMicros(n int64, leaf parquetLeaf) int64 {
	switch timestampUnit(leaf) {
	case time.Millisecond:
		return n * 1000
	case time.Nanosecond:
		return floorDiv(n, 1000)
	}
	return n
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// DecodeParquet reads a whole Parquet file into a frame.
func DecodeParquet(r io.ReaderAt, size int64) (*Frame, error) {
	pr, err := openParquet(r, size, "parquet", nil)
	if err != nil {
		return nil, err
	}
	out := emptyFrame(pr.Columns(), int(pr.NumRows()))
	for {
		f, err := pr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out.Append(f)
	}
}
