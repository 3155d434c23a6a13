package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
)

// CSV import. The column types are those every value of the column fits
// (infer.go), decided over the whole file, exactly. Reading the file twice
// (once to decide, once to convert) gives that, at the cost of a pass; so
// the import first reads a sample (the first sampleRows rows), decides the
// dialect and speculates the types from it, then reads the file once,
// converting, and checks as it goes that every value fits its column's
// speculated type, that the file's text is valid in the sampled encoding,
// and that the columns without a value in the sample stay without a typed
// value (their kinds are tracked). If a check fails, the speculation was
// wrong: the import starts over in two passes (scanCSV over the whole file,
// then the conversion), so the result never depends on the sample. The
// decimal mark is decided on the sample.

// sampleRows is the size of the sample the types are speculated from and the
// decimal mark decided on.
var sampleRows int64 = 50_000

// errSpeculation reports that the speculated types or encoding do not hold
// for the whole file.
var errSpeculation = errors.New("speculated column types do not hold")

// nullSet recognizes missing values.
type nullSet struct {
	values [][]byte
	first  [256]bool // first bytes of the values
}

func newNullSet(values []string) *nullSet {
	if values == nil {
		values = DefaultNullValues
	}
	ns := &nullSet{}
	for _, v := range values {
		b := trimSpace([]byte(v))
		if len(b) == 0 {
			continue
		}
		ns.values = append(ns.values, b)
		ns.first[b[0]] = true
	}
	return ns
}

// is reports whether a trimmed cell is missing.
func (ns *nullSet) is(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if !ns.first[b[0]] {
		return false
	}
	for _, v := range ns.values {
		if bytes.Equal(b, v) {
			return true
		}
	}
	return false
}

type csvTable struct {
	in       *input
	o        *ImportOptions
	dialect  Dialect
	nulls    *nullSet
	cols     []Column
	declared []bool
	rows     int64 // rows found by the first pass
	cs       *charset

	// speculative: the types are speculated from the sample (see above).
	speculative bool
	tracked     []bool  // speculative: columns without a value in the sample
	trackKinds  []uint8 // their kinds so far

	// second pass
	rc    io.ReadCloser
	sc    *csvScanner
	read  int64
	done  bool
	frame *Frame
	strs  []*strCol
}

// strCol collects a batch's strings of a column: their bytes, then one
// string for all, sliced.
type strCol struct {
	arena []byte
	ends  []int // end offsets in arena; -1 for a missing value
}

func (t *csvTable) Columns() []Column { return t.cols }

func (t *csvTable) Close() {
	if t.rc != nil {
		t.rc.Close()
	}
}

// sniffSize is how much of the start of a file decides the separator.
const sniffSize = 64 << 10

// openCSV opens the input, sniffs the dialect (overridden by o) and returns
// a scanner positioned after the byte order mark.
func openCSV(in *input, o *ImportOptions) (io.ReadCloser, *csvScanner, Dialect, error) {
	rc, err := in.open()
	if err != nil {
		return nil, nil, Dialect{}, err
	}
	head := make([]byte, sniffSize)
	n, err := io.ReadFull(rc, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		rc.Close()
		return nil, nil, Dialect{}, fmt.Errorf("%s: %w", in.name, err)
	}
	head = head[:n]
	d := SniffCSV(head)
	if o.Separator != 0 {
		d.Separator = o.Separator
	}
	if o.Encoding != "" {
		d.Encoding = o.Encoding
	}
	head = bytes.TrimPrefix(head, utf8BOM)
	return rc, newCSVScanner(io.MultiReader(bytes.NewReader(head), rc), d.Separator), d, nil
}

func (t *csvTable) syntaxErr(err error) error {
	var ce *csvError
	if errors.As(err, &ce) {
		return errs.Invalidf("%s: line %d: %s", t.in.name, ce.line, ce.msg)
	}
	return fmt.Errorf("%s: %w", t.in.name, err)
}

// colName names column c in messages: its header name when known.
func (t *csvTable) colName(c int) string {
	if c < len(t.cols) && t.cols[c].Name != "" {
		return fmt.Sprintf("column %q", t.cols[c].Name)
	}
	return fmt.Sprintf("column %d", c+1)
}

// scanCSV is the first pass, over the whole file or, when sample is set, the
// sample only, then speculating the types.
func scanCSV(ctx context.Context, in *input, o *ImportOptions, sample bool) (*csvTable, error) {
	t := &csvTable{in: in, o: o, nulls: newNullSet(o.NullValues)}
	rc, sc, d, err := openCSV(in, o)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	ok, err := sc.next()
	if err != nil {
		return nil, t.syntaxErr(err)
	}
	if !ok {
		return nil, errs.Invalidf("%s: empty file, expected a header row", in.name)
	}
	header := make([][]byte, len(sc.fields))
	for i, f := range sc.fields {
		header[i] = bytes.Clone(f)
	}
	headerLine := sc.recLine
	ncol := len(header)
	// Names as read so far, for messages; decided at the end.
	t.cols = make([]Column, ncol)
	for i, h := range header {
		if utf8.Valid(h) {
			t.cols[i].Name = cleanName(string(h))
		}
	}
	kinds := make([]uint8, ncol)
	for i := range kinds {
		kinds[i] = kindAll
	}
	nonNull := make([]int64, ncol)
	encForced := o.Encoding != ""
	enc := d.Encoding
	var votes decimalVotes
	var rows int64
	complete := false
	for {
		if sample && rows == sampleRows {
			break
		}
		ok, err := sc.next()
		if err != nil {
			return nil, t.syntaxErr(err)
		}
		if !ok {
			complete = true
			break
		}
		if len(sc.fields) != ncol {
			return nil, errs.Invalidf("%s: line %d: %d fields, want %d as in the header (wrong number of fields)", in.name, sc.recLine, len(sc.fields), ncol)
		}
		for c, f := range sc.fields {
			b := trimSpace(f)
			if t.nulls.is(b) {
				continue
			}
			nonNull[c]++
			if k := kinds[c]; k != 0 {
				x := classify(b)
				if rows < sampleRows {
					switch x {
					case kindFloatDot:
						votes.dot++
					case kindFloatComma:
						votes.comma++
					}
				}
				kinds[c] = k & x
				if x != 0 {
					continue // ASCII
				}
			}
			if isASCII(f) {
				continue
			}
			if enc == EncodingUTF8 && !utf8.Valid(f) {
				if encForced {
					return nil, errs.Invalidf("%s: line %d, %s: bytes are not valid UTF-8 (is the file in Windows-1252? say so with the encoding option)", in.name, sc.lines[c], t.colName(c))
				}
				enc = EncodingWindows1252
			}
			if enc == EncodingWindows1252 {
				if _, ok := windows1252.appendDecoded(nil, f); !ok {
					return nil, errs.Invalidf("%s: line %d, %s: a byte is not defined in Windows-1252 (is the file in another encoding?)", in.name, sc.lines[c], t.colName(c))
				}
			}
		}
		rows++
		if rows%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			o.progress("scan", sc.Offset(), in.size, "bytes")
		}
	}
	o.progress("scan", sc.Offset(), in.size, "bytes")
	d.Encoding = enc
	switch {
	case o.Decimal != 0:
		d.Decimal = o.Decimal
	case d.Separator == ',':
		d.Decimal = '.'
	default:
		d.Decimal = votes.mark()
	}
	t.dialect, t.rows = d, rows
	switch enc {
	case EncodingWindows1252:
		t.cs = windows1252
	case EncodingLatin1:
		t.cs = latin1
	}
	// The header, in the encoding now known.
	seen := map[string]bool{}
	for i, h := range header {
		name := string(h)
		if t.cs != nil {
			b, ok := t.cs.appendDecoded(nil, h)
			if !ok {
				return nil, errs.Invalidf("%s: line %d, column %d: column name has a byte not defined in %s", in.name, headerLine, i+1, enc)
			}
			name = string(b)
		} else if !utf8.ValidString(name) {
			return nil, errs.Invalidf("%s: line %d, column %d: column name is not valid UTF-8", in.name, headerLine, i+1)
		}
		name = cleanName(name)
		if name == "" {
			return nil, errs.Invalidf("%s: line %d, column %d: empty column name", in.name, headerLine, i+1)
		}
		if seen[name] {
			return nil, errs.Invalidf("%s: line %d: duplicate column name %q", in.name, headerLine, name)
		}
		seen[name] = true
		t.cols[i] = Column{Name: name, Role: RoleOther}
	}
	t.declared = make([]bool, ncol)
	for _, name := range sortedKeys(o.Types) {
		if !seen[name] {
			return nil, errs.Invalidf("%s: types: unknown column %q (columns: %s)", in.name, name, joinNames(namesOf(t.cols)))
		}
	}
	for i := range t.cols {
		if typ, ok := o.Types[t.cols[i].Name]; ok {
			t.cols[i].Type, t.declared[i] = typ, true
			continue
		}
		k := kinds[i]
		if nonNull[i] == 0 {
			k = 0
		}
		t.cols[i].Type = typeOfKinds(k, d.Decimal)
	}
	if sample && !complete {
		t.speculative = true
		t.rows = -1
		t.tracked = make([]bool, ncol)
		t.trackKinds = make([]uint8, ncol)
		for i := range t.cols {
			if !t.declared[i] && nonNull[i] == 0 {
				t.tracked[i], t.trackKinds[i] = true, kindAll
			}
		}
	}
	return t, nil
}

// cleanName drops byte order marks (sometimes doubled by re-encoding tools)
// and spaces around a column name.
func cleanName(s string) string {
	return trimFunc(s, func(r rune) bool { return r == '\ufeff' || unicode.IsSpace(r) })
}

func trimFunc(s string, f func(rune) bool) string {
	for s != "" {
		r, n := utf8.DecodeRuneInString(s)
		if !f(r) {
			break
		}
		s = s[n:]
	}
	for s != "" {
		r, n := utf8.DecodeLastRuneInString(s)
		if !f(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return s
}

// Next is the second pass, a batch at a time.
func (t *csvTable) Next() (*Frame, error) {
	if t.done {
		return nil, io.EOF
	}
	if t.sc == nil {
		rc, sc, _, err := openCSV(t.in, &ImportOptions{Separator: t.dialect.Separator, Encoding: t.dialect.Encoding})
		if err != nil {
			return nil, err
		}
		t.rc, t.sc = rc, sc
		if ok, err := sc.next(); !ok || err != nil { // the header
			return nil, t.changed(err)
		}
	}
	ncol := len(t.cols)
	// The frame and buffers are reused from batch to batch: the Parquet
	// encoder copies values, and keeps only the strings, which are
	// immutable.
	if t.frame == nil {
		t.frame = emptyFrame(t.cols, batchRows)
		t.strs = make([]*strCol, ncol)
		for c, col := range t.cols {
			if col.Type.storage() == 's' {
				t.strs[c] = &strCol{ends: make([]int, 0, batchRows)}
			}
		}
	}
	f, strs := t.frame, t.strs
	f.reset()
	for _, sc := range strs {
		if sc != nil {
			sc.arena, sc.ends = sc.arena[:0], sc.ends[:0]
		}
	}
	decimal := t.dialect.Decimal
	n := 0
	for n < batchRows {
		ok, err := t.sc.next()
		if err != nil {
			return nil, t.syntaxErr(err)
		}
		if !ok {
			t.done = true
			break
		}
		if len(t.sc.fields) != ncol {
			return nil, errs.Invalidf("%s: line %d: %d fields, want %d as in the header (wrong number of fields)", t.in.name, t.sc.recLine, len(t.sc.fields), ncol)
		}
		for c, fld := range t.sc.fields {
			b := trimSpace(fld)
			missing := t.nulls.is(b)
			if sc := strs[c]; sc != nil {
				if missing {
					sc.ends = append(sc.ends, -1)
					continue
				}
				if t.speculative && t.tracked[c] {
					t.trackKinds[c] &= classify(b)
				}
				if t.cs != nil {
					var ok bool
					if sc.arena, ok = t.cs.appendDecoded(sc.arena, fld); !ok {
						return nil, errs.Invalidf("%s: line %d, %s: a byte is not defined in %s", t.in.name, t.sc.lines[c], t.colName(c), t.dialect.Encoding)
					}
				} else {
					if !utf8.Valid(fld) {
						if t.speculative && t.o.Encoding == "" {
							return nil, errSpeculation // the file is not all UTF-8
						}
						return nil, errs.Invalidf("%s: line %d, %s: bytes are not valid UTF-8", t.in.name, t.sc.lines[c], t.colName(c))
					}
					sc.arena = append(sc.arena, fld...)
				}
				sc.ends = append(sc.ends, len(sc.arena))
				continue
			}
			v := f.Vecs[c]
			if missing {
				v.AppendNull()
				continue
			}
			if t.speculative && !t.declared[c] {
				if !appendInferred(v, b, decimal) {
					return nil, errSpeculation
				}
				continue
			}
			if !appendText(v, b, decimal) {
				what := "a valid " + string(v.Type)
				if t.declared[c] {
					what += " (the declared type)"
				}
				return nil, errs.Invalidf("%s: line %d, %s: value is not %s", t.in.name, t.sc.lines[c], t.colName(c), what)
			}
		}
		n++
	}
	t.read += int64(n)
	for c, sc := range strs {
		if sc == nil {
			continue
		}
		v := f.Vecs[c]
		all := string(sc.arena) // one allocation for the batch's strings
		start := 0
		for _, e := range sc.ends {
			if e < 0 {
				v.AppendNull()
				continue
			}
			v.AppendString(all[start:e])
			start = e
		}
	}
	t.o.progress("import", t.sc.Offset(), t.in.size, "bytes")
	if t.done && t.speculative {
		for c, tracked := range t.tracked {
			if tracked && t.trackKinds[c] != kindAll && typeOfKinds(t.trackKinds[c], decimal) != TypeString {
				return nil, errSpeculation // values of a type after an empty sample
			}
		}
	}
	if t.done && !t.speculative && t.read != t.rows {
		return nil, t.changed(nil)
	}
	if n == 0 {
		return nil, io.EOF
	}
	return f, nil
}

func (t *csvTable) changed(err error) error {
	if err != nil {
		return t.syntaxErr(err)
	}
	return errs.Invalidf("%s: the file changed while it was being imported", t.in.name)
}
