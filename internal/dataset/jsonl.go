package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
)

// JSON Lines import: one JSON object per line (blank lines skipped), its
// keys the columns, in the order they first appear; a key missing from a
// line, null and "" are missing values. Types: numbers are integers when
// all are (integers up to 2^63-1 in magnitude), else floats; true/false are
// booleans; strings follow the text rules (so "1950-01-17" is a date); a
// column whose values are of several JSON kinds, or objects and arrays, is
// a string column holding the values' JSON text. Two passes, like CSV.

// JSON kinds of a column's values (bit set).
const (
	jsonNumber uint8 = 1 << iota
	jsonFloat        // a number that is not an int64
	jsonBool
	jsonString
	jsonNested
)

type jsonlTable struct {
	in    *input
	o     *ImportOptions
	cols  []Column
	index map[string]int
	rows  int64

	// second pass
	rc   io.ReadCloser
	lr   *lineReader
	read int64
	done bool
}

func (t *jsonlTable) Columns() []Column { return t.cols }

func (t *jsonlTable) Close() {
	if t.rc != nil {
		t.rc.Close()
	}
}

// lineReader reads lines of bounded length.
type lineReader struct {
	r    *bufio.Reader
	line int
	off  int64
	buf  []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 1<<20)}
}

// next returns the next line without its end, false at the end.
func (lr *lineReader) next() ([]byte, bool, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.off += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			if len(lr.buf)+len(chunk) > maxRecord {
				return nil, false, &csvError{lr.line + 1, fmt.Sprintf("line longer than %d MiB", maxRecord>>20)}
			}
			lr.buf = append(lr.buf, chunk...)
			continue
		}
		if err == io.EOF && len(chunk) == 0 && len(lr.buf) == 0 {
			return nil, false, nil
		}
		if err != nil && err != io.EOF {
			return nil, false, err
		}
		lr.line++
		line := chunk
		if len(lr.buf) > 0 {
			lr.buf = append(lr.buf, chunk...)
			line = lr.buf
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		return line, true, nil
	}
}

// jsonFields calls fn with each key and raw value of the object on line.
func jsonFields(line []byte, fn func(key string, raw []byte) error) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("not valid JSON")
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return errors.New("not valid JSON")
		}
		if err := fn(key, raw); err != nil {
			return err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return errors.New("not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

// jsonKind returns the JSON kind of a raw value, 0 for null.
func jsonKind(raw []byte) uint8 {
	switch raw[0] {
	case 'n':
		return 0
	case 't', 'f':
		return jsonBool
	case '"':
		return jsonString
	case '{', '[':
		return jsonNested
	}
	if _, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return jsonNumber
	}
	return jsonNumber | jsonFloat
}

func unquoteJSON(raw []byte) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

func scanJSONL(ctx context.Context, in *input, o *ImportOptions) (*jsonlTable, error) {
	t := &jsonlTable{in: in, o: o, index: map[string]int{}}
	rc, err := in.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	lr := newLineReader(rc)
	type colState struct {
		json  uint8 // JSON kinds seen
		kinds uint8 // text kinds of its strings
		any   bool
	}
	var states []*colState
	for {
		line, ok, err := lr.next()
		if err != nil {
			return nil, t.lineErr(err)
		}
		if !ok {
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !utf8.Valid(line) {
			return nil, errs.Invalidf("%s: line %d: not valid UTF-8", in.name, lr.line)
		}
		err = jsonFields(line, func(key string, raw []byte) error {
			i, ok := t.index[key]
			if !ok {
				i = len(t.cols)
				t.index[key] = i
				t.cols = append(t.cols, Column{Name: key, Role: RoleOther})
				states = append(states, &colState{kinds: kindAll})
			}
			st := states[i]
			k := jsonKind(raw)
			if k == 0 {
				return nil
			}
			if k == jsonString {
				s, err := unquoteJSON(raw)
				if err != nil {
					return errors.New("not valid JSON")
				}
				b := trimSpace([]byte(s))
				if len(b) == 0 {
					return nil
				}
				st.kinds &= classify(b)
			}
			st.json |= k
			st.any = true
			return nil
		})
		if err != nil {
			return nil, errs.Invalidf("%s: line %d: %v", in.name, lr.line, err)
		}
		t.rows++
		if t.rows%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			o.progress("scan", lr.off, in.size, "bytes")
		}
	}
	if len(t.cols) == 0 {
		return nil, errs.Invalidf("%s: no JSON object with keys", in.name)
	}
	for _, name := range sortedKeys(o.Types) {
		if _, ok := t.index[name]; !ok {
			return nil, errs.Invalidf("%s: types: unknown column %q (columns: %s)", in.name, name, joinNames(namesOf(t.cols)))
		}
	}
	for i, st := range states {
		c := &t.cols[i]
		if typ, ok := o.Types[c.Name]; ok {
			c.Type = typ
			continue
		}
		switch {
		case !st.any:
			c.Type = TypeString
		case st.json == jsonNumber:
			c.Type = TypeInteger
		case st.json == jsonNumber|jsonFloat:
			c.Type = TypeFloat
		case st.json == jsonBool:
			c.Type = TypeBoolean
		case st.json == jsonString:
			c.Type = typeOfKinds(st.kinds, '.')
		default:
			c.Type = TypeString
		}
	}
	return t, nil
}

func (t *jsonlTable) lineErr(err error) error {
	var ce *csvError
	if errors.As(err, &ce) {
		return errs.Invalidf("%s: line %d: %s", t.in.name, ce.line, ce.msg)
	}
	return fmt.Errorf("%s: %w", t.in.name, err)
}

func (t *jsonlTable) Next() (*Frame, error) {
	if t.done {
		return nil, io.EOF
	}
	if t.lr == nil {
		rc, err := t.in.open()
		if err != nil {
			return nil, err
		}
		t.rc, t.lr = rc, newLineReader(rc)
	}
	f := emptyFrame(t.cols, batchRows)
	set := make([]bool, len(t.cols))
	n := 0
	for n < batchRows {
		line, ok, err := t.lr.next()
		if err != nil {
			return nil, t.lineErr(err)
		}
		if !ok {
			t.done = true
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		clear(set)
		err = jsonFields(line, func(key string, raw []byte) error {
			i, ok := t.index[key]
			if !ok {
				return errs.Invalidf("%s: the file changed while it was being imported", t.in.name)
			}
			set[i] = true
			if !appendJSON(f.Vecs[i], raw) {
				return errs.Invalidf("%s: line %d, column %q: value is not a valid %s", t.in.name, t.lr.line, key, f.Vecs[i].Type)
			}
			return nil
		})
		if err != nil {
			if errs.CodeOf(err) == errs.Invalid {
				return nil, err
			}
			return nil, errs.Invalidf("%s: line %d: %v", t.in.name, t.lr.line, err)
		}
		for i, ok := range set {
			if !ok {
				f.Vecs[i].AppendNull()
			}
		}
		n++
	}
	t.read += int64(n)
	t.o.progress("import", t.lr.off, t.in.size, "bytes")
	if t.done && t.read != t.rows {
		return nil, errs.Invalidf("%s: the file changed while it was being imported", t.in.name)
	}
	if n == 0 {
		return nil, io.EOF
	}
	return f, nil
}

// appendJSON appends a raw JSON value to v, reporting whether it fits.
func appendJSON(v *Vec, raw []byte) bool {
	k := jsonKind(raw)
	if k == 0 {
		v.AppendNull()
		return true
	}
	text := raw
	if k == jsonString {
		s, err := unquoteJSON(raw)
		if err != nil {
			return false
		}
		text = []byte(s)
		if v.Type.storage() == 's' {
			if len(trimSpace(text)) == 0 {
				v.AppendNull()
			} else {
				v.AppendString(s)
			}
			return true
		}
	}
	if v.Type.storage() == 's' {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) != nil {
			return false
		}
		v.AppendString(buf.String())
		return true
	}
	b := trimSpace(text)
	if len(b) == 0 {
		v.AppendNull()
		return true
	}
	if k == jsonNested {
		return false
	}
	return appendText(v, b, '.')
}
