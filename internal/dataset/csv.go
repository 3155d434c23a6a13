package dataset

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// CSV as hospitals export it: from Excel in French (';' and a decimal
// comma, Windows-1252), from SQL tools (',' or tab, UTF-8), with quoted
// fields holding separators, quotes ("") and newlines.

// Encodings of CSV files.
const (
	EncodingUTF8        = "utf-8"
	EncodingWindows1252 = "windows-1252" // also what Excel calls "ANSI"
	EncodingLatin1      = "latin-1"      // ISO-8859-1
)

// Dialect says how a CSV file is written.
type Dialect struct {
	Separator byte   // ',', ';', '\t' or '|'
	Encoding  string // EncodingUTF8, EncodingWindows1252 or EncodingLatin1
	Decimal   byte   // '.' or ','
}

// MarshalJSON writes the separator and the decimal mark as strings.
func (d Dialect) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"separator": string(rune(d.Separator)), "encoding": d.Encoding, "decimal": string(rune(d.Decimal))})
}

// String describes the dialect for people: "';', windows-1252, decimal ','".
func (d Dialect) String() string {
	sep := fmt.Sprintf("%q", rune(d.Separator))
	if d.Separator == '\t' {
		sep = "tab"
	}
	return fmt.Sprintf("separator %s, %s, decimal mark %q", sep, d.Encoding, rune(d.Decimal))
}

// normalizeEncoding maps the usual names of the supported encodings to
// ours, and "" to "".
func normalizeEncoding(name string) (string, bool) {
	switch lower(name) {
	case "":
		return "", true
	case "utf-8", "utf8":
		return EncodingUTF8, true
	case "windows-1252", "cp1252", "win1252", "ansi":
		return EncodingWindows1252, true
	case "latin-1", "latin1", "iso-8859-1", "iso8859-1":
		return EncodingLatin1, true
	}
	return "", false
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// sniffLines is how many lines of the start of a file SniffCSV looks at.
const sniffLines = 50

// SniffCSV guesses a CSV file's dialect from its first bytes (a few
// kilobytes are plenty; a cut last line is ignored):
//
//   - the separator is the one of ',', ';' and tab that splits the first
//     lines (quotes respected) into the same number of fields, more than one;
//     among several, the one giving the most fields; ',' when none does;
//   - the encoding is UTF-8 when the bytes are valid UTF-8, else
//     Windows-1252 (the importer revises this over the whole file);
//   - the decimal mark is ',' when the separator is not ',' and numbers with
//     a decimal comma ("5,4") outnumber those with a point (the importer
//     revises this over the whole file too).
func SniffCSV(head []byte) Dialect {
	head = bytes.TrimPrefix(head, utf8BOM)
	d := Dialect{Separator: ',', Encoding: EncodingUTF8, Decimal: '.'}
	if !validUTF8Prefix(head) {
		d.Encoding = EncodingWindows1252
	}
	best, bestFields := byte(0), 1
	for _, sep := range []byte{',', ';', '\t'} {
		n, ok := consistentFields(head, sep)
		if ok && n > bestFields {
			best, bestFields = sep, n
		}
	}
	if best == 0 {
		// No separator gives a consistent table: take the one splitting the
		// first line into most fields.
		for _, sep := range []byte{',', ';', '\t'} {
			if n := firstLineFields(head, sep); n > bestFields {
				best, bestFields = sep, n
			}
		}
	}
	if best != 0 {
		d.Separator = best
	}
	if d.Separator != ',' {
		var votes decimalVotes
		sc := newCSVScanner(bytes.NewReader(head), d.Separator)
		for i := 0; i < sniffLines; i++ {
			ok, err := sc.next()
			if !ok || err != nil {
				break
			}
			for _, f := range sc.fields {
				votes.add(trimSpace(f))
			}
		}
		d.Decimal = votes.mark()
	}
	return d
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// validUTF8Prefix reports whether b is valid UTF-8, allowing a rune cut at
// its end.
func validUTF8Prefix(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	for cut := 1; cut < utf8.UTFMax && cut <= len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) && !utf8.FullRune(b[len(b)-cut:]) {
			return true
		}
	}
	return false
}

// decimalVotes counts numbers written with a decimal point and with a
// decimal comma.
type decimalVotes struct{ dot, comma int64 }

func (v *decimalVotes) add(f []byte) {
	if len(f) == 0 || !(isDigit(f[0]) || f[0] == '-' || f[0] == '+') {
		return
	}
	switch floatSyntax(f) {
	case kindFloatDot:
		v.dot++
	case kindFloatComma:
		v.comma++
	}
}

func (v decimalVotes) mark() byte {
	if v.comma > v.dot {
		return ','
	}
	return '.'
}

// consistentFields splits the complete lines of head with sep and reports
// the number of fields when every record has the same number.
func consistentFields(head []byte, sep byte) (int, bool) {
	sc := newCSVScanner(bytes.NewReader(completeLines(head)), sep)
	n := -1
	for i := 0; i < sniffLines; i++ {
		ok, err := sc.next()
		if err != nil {
			return 0, false
		}
		if !ok {
			break
		}
		if n >= 0 && len(sc.fields) != n {
			return 0, false
		}
		n = len(sc.fields)
	}
	return n, n > 1
}

func firstLineFields(head []byte, sep byte) int {
	sc := newCSVScanner(bytes.NewReader(completeLines(head)), sep)
	if ok, err := sc.next(); !ok || err != nil {
		return 0
	}
	return len(sc.fields)
}

// completeLines drops a cut last line, unless head holds one line only.
func completeLines(head []byte) []byte {
	if i := bytes.LastIndexByte(head, '\n'); i >= 0 {
		return head[:i+1]
	}
	return head
}

// csvScanner reads CSV records with constant memory: a record's fields
// point into its buffer (or into a scratch buffer for quoted fields with
// doubled quotes) and are valid until the next call to next.
//
// Rules: records end with \n or \r\n; blank lines are skipped; a field that
// starts with '"' is quoted and ends at the next lone '"', which must be
// followed by the separator or the end of the line; inside, "" is a quote
// and separators and newlines are data. A quote inside an unquoted field is
// data. A record longer than maxRecord is an error (an unclosed quote,
// usually), so that memory stays bounded.
type csvScanner struct {
	r       io.Reader
	sep     byte
	buf     []byte
	start   int // first unconsumed byte of buf
	end     int // end of the data in buf
	eof     bool
	rerr    error
	line    int   // line number of buf[start]
	offset  int64 // input offset of buf[start]
	fields  [][]byte
	lines   []int // line on which each field starts
	recLine int   // line on which the record starts
	scratch []byte
	quoted  bool // the last record had a quoted field
}

const (
	csvBufSize = 1 << 20
	maxRecord  = 64 << 20
)

func newCSVScanner(r io.Reader, sep byte) *csvScanner {
	return &csvScanner{r: r, sep: sep, line: 1}
}

// errNeedMore is parse's signal that the record continues past the buffer;
// errEnd that the input has no more records.
var (
	errNeedMore = errors.New("need more input")
	errEnd      = errors.New("end of input")
)

// csvError is a syntax error at a line.
type csvError struct {
	line int
	msg  string
}

func (e *csvError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// next reads the next record into s.fields, reporting false at the end.
func (s *csvScanner) next() (bool, error) {
	for {
		err := s.parse()
		switch err {
		case nil:
			return true, nil
		case errEnd:
			return false, s.rerr
		case errNeedMore:
			if s.eof {
				// parse ends records at the end of the input: cannot happen.
				return false, &csvError{s.line, "unexpected end of input"}
			}
			if err := s.fill(); err != nil {
				return false, err
			}
		default:
			return false, err
		}
	}
}

// Offset returns how many input bytes the records read so far span.
func (s *csvScanner) Offset() int64 { return s.offset }

// fill moves the unconsumed bytes to the front of buf and reads more.
func (s *csvScanner) fill() error {
	if s.buf == nil {
		s.buf = make([]byte, 64<<10) // grows to csvBufSize on big inputs
	}
	if s.start > 0 {
		copy(s.buf, s.buf[s.start:s.end])
		s.end -= s.start
		s.start = 0
	}
	if s.end == len(s.buf) || len(s.buf) < csvBufSize {
		if s.end == len(s.buf) && len(s.buf) >= maxRecord {
			return &csvError{s.line, fmt.Sprintf("record longer than %d MiB (a quoted field not closed?)", maxRecord>>20)}
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	// Fill the buffer: a record cut by the end of the buffer is parsed again
	// from its start, so each refill must bring a buffer's worth (or the
	// rest of the input), and the buffer doubles for records longer than
	// it: the work stays linear in the record's length.
	for !s.eof && s.end < len(s.buf) {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			s.eof, s.rerr = true, err
			return err
		}
	}
	return nil
}

// parse reads one record from buf[start:end]; it returns errNeedMore when
// the record may continue past end, errEnd at the end of the input.
func (s *csvScanner) parse() error {
	s.fields = s.fields[:0]
	s.lines = s.lines[:0]
	s.scratch = s.scratch[:0]
	s.quoted = false
	buf := s.buf[s.start:s.end]
	line := s.line
	// Skip blank lines.
	i := 0
	for i < len(buf) {
		if buf[i] == '\n' {
			line++
			i++
		} else if buf[i] == '\r' && i+1 < len(buf) && buf[i+1] == '\n' {
			i++
		} else {
			break
		}
	}
	if i > 0 {
		s.consume(i, line)
		buf = buf[i:]
		i = 0
	}
	switch {
	case len(buf) == 0 && s.eof:
		return errEnd
	case len(buf) == 0, buf[0] == '\r' && len(buf) == 1 && !s.eof:
		return errNeedMore
	}
	s.recLine = line
	// Fast path: a whole line without quotes.
	nl := bytes.IndexByte(buf, '\n')
	if nl < 0 && !s.eof {
		return errNeedMore
	}
	rec, next := buf, len(buf)
	if nl >= 0 {
		rec, next = buf[:nl], nl+1
	}
	if bytes.IndexByte(rec, '"') < 0 {
		if len(rec) > 0 && rec[len(rec)-1] == '\r' {
			rec = rec[:len(rec)-1]
		}
		s.fields = splitFields(s.fields, rec, s.sep)
		for range s.fields {
			s.lines = append(s.lines, line)
		}
		if nl >= 0 {
			line++
		}
		s.consume(next, line)
		return nil
	}
	// Slow path: field by field, with quotes.
	for {
		fieldLine := line
		if i < len(buf) && buf[i] == '"' {
			s.quoted = true
			open := i
			j := i + 1
			scratchStart := -1
			var field []byte
			for {
				k := bytes.IndexByte(buf[j:], '"')
				if k < 0 {
					if s.eof {
						return &csvError{fieldLine, "quoted field not closed before the end of the file"}
					}
					return errNeedMore
				}
				q := j + k // the quote
				if q+1 == len(buf) && !s.eof {
					return errNeedMore
				}
				if q+1 < len(buf) && buf[q+1] == '"' {
					// A doubled quote is a quote.
					if scratchStart < 0 {
						scratchStart = len(s.scratch)
					}
					s.scratch = append(s.scratch, buf[j:q+1]...)
					j = q + 2
					continue
				}
				if scratchStart >= 0 {
					s.scratch = append(s.scratch, buf[j:q]...)
					field = s.scratch[scratchStart:len(s.scratch):len(s.scratch)]
				} else {
					field = buf[j:q]
				}
				i = q + 1
				break
			}
			line += bytes.Count(buf[open:i], newline)
			s.fields = append(s.fields, field)
			s.lines = append(s.lines, fieldLine)
			// After the closing quote: a separator, the end of the line or of the input.
			switch {
			case i == len(buf):
				s.consume(i, line)
				return nil
			case buf[i] == s.sep:
				i++
				continue
			case buf[i] == '\n':
				s.consume(i+1, line+1)
				return nil
			case buf[i] == '\r' && i+1 < len(buf) && buf[i+1] == '\n':
				s.consume(i+2, line+1)
				return nil
			case buf[i] == '\r' && i+1 == len(buf):
				if !s.eof {
					return errNeedMore
				}
				s.consume(i+1, line)
				return nil
			default:
				return &csvError{line, "unexpected character after a closing quote (a quote inside a quoted field must be doubled)"}
			}
		}
		// Unquoted field: up to the separator or the end of the line.
		j := i
		for j < len(buf) && buf[j] != s.sep && buf[j] != '\n' {
			j++
		}
		if j == len(buf) && !s.eof {
			return errNeedMore
		}
		f := buf[i:j]
		if (j == len(buf) || buf[j] == '\n') && len(f) > 0 && f[len(f)-1] == '\r' {
			f = f[:len(f)-1]
		}
		s.fields = append(s.fields, f)
		s.lines = append(s.lines, fieldLine)
		switch {
		case j == len(buf):
			s.consume(j, line)
			return nil
		case buf[j] == '\n':
			s.consume(j+1, line+1)
			return nil
		}
		i = j + 1 // after the separator
	}
}

var newline = []byte{'\n'}

// splitFields appends the fields of rec, separated by sep, to dst. It looks
// at eight bytes at a time: fields are short, and a call to
// bytes.IndexByte per field costs more than the field.
func splitFields(dst [][]byte, rec []byte, sep byte) [][]byte {
	const (
		ones = 0x0101010101010101
		low7 = 0x7F7F7F7F7F7F7F7F
	)
	pattern := ones * uint64(sep)
	start, i := 0, 0
	for ; i+8 <= len(rec); i += 8 {
		x := binary.LittleEndian.Uint64(rec[i:]) ^ pattern // zero bytes where sep is
		// The high bit of each byte of m is set exactly for the zero bytes of x.
		m := ^((x&low7 + low7) | x | low7)
		for m != 0 {
			j := i + bits.TrailingZeros64(m)>>3
			dst = append(dst, rec[start:j])
			start = j + 1
			m &= m - 1
		}
	}
	for ; i < len(rec); i++ {
		if rec[i] == sep {
			dst = append(dst, rec[start:i])
			start = i + 1
		}
	}
	return append(dst, rec[start:])
}

func (s *csvScanner) consume(n, line int) {
	s.start += n
	s.offset += int64(n)
	s.line = line
}

// charset decodes single-byte encodings to UTF-8.
type charset struct {
	runes [256]rune // utf8.RuneError for bytes the encoding leaves undefined
}

var (
	windows1252 = newCharset(charmap.Windows1252)
	latin1      = newCharset(charmap.ISO8859_1)
)

func newCharset(m *charmap.Charmap) *charset {
	c := &charset{}
	for b := range 256 {
		c.runes[b] = m.DecodeByte(byte(b))
	}
	return c
}

// appendDecoded appends b decoded to UTF-8 to dst, reporting false when b
// holds a byte the encoding does not define.
func (c *charset) appendDecoded(dst, b []byte) ([]byte, bool) {
	for _, x := range b {
		if x < utf8.RuneSelf {
			dst = append(dst, x)
			continue
		}
		r := c.runes[x]
		if r == utf8.RuneError {
			return dst, false
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst, true
}

// isASCII reports whether b holds ASCII bytes only.
func isASCII(b []byte) bool {
	for len(b) >= 8 {
		if (uint64(b[0])|uint64(b[1])|uint64(b[2])|uint64(b[3])|uint64(b[4])|uint64(b[5])|uint64(b[6])|uint64(b[7]))&0x80 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
