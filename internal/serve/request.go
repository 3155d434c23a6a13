package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
)

// errSlowPath sends a request body to encoding/json.
var errSlowPath = errors.New("not a plain inference request")

// ParseRequest reads an inference request body quickly: one pass over the
// bytes, tensor data kept as raw JSON, no reflection. It handles the plain
// form of the protocol's requests (exact field names, string ids, integer
// shapes); for anything else, or any error, it returns an error and the
// caller decodes with encoding/json, which gives the same result or says
// what is wrong. Either way the body must be valid JSON: the scanner checks
// the structure it walks, and the values it keeps raw (tensor data) are
// checked with json.Valid, so the whole body is not scanned twice.
func ParseRequest(b []byte) (Request, error) {
	req, err := parseRequest(b)
	if err != nil {
		return Request{}, err
	}
	return req, nil
}

// parseRequest is ParseRequest without closures, so that nothing but the
// request itself reaches the heap.
func parseRequest(b []byte) (req Request, err error) {
	s := scan{b: b}
	if !s.open('{') {
		return req, errSlowPath
	}
	for first := true; ; {
		more, err := s.next('}', &first)
		if err != nil {
			return req, err
		}
		if !more {
			if s.ws(); s.i != len(s.b) {
				return req, errSlowPath
			}
			return req, nil
		}
		key, ok := s.key()
		if !ok {
			return req, errSlowPath
		}
		switch string(key) {
		case "id":
			if req.ID, ok = s.str(); !ok {
				return req, errSlowPath
			}
		case "parameters":
			err = s.rawInto(&req.Parameters)
		case "outputs":
			err = s.rawInto(&req.Outputs)
		case "inputs":
			if s.null() {
				req.Inputs = nil
				continue
			}
			if !s.open('[') {
				return req, errSlowPath
			}
			req.Inputs = make([]Tensor, 0, 8)
			for first := true; ; {
				more, err := s.next(']', &first)
				if err != nil {
					return req, err
				}
				if !more {
					break
				}
				req.Inputs = append(req.Inputs, Tensor{})
				if err := s.tensor(&req.Inputs[len(req.Inputs)-1]); err != nil {
					return req, err
				}
			}
		default:
			return req, errSlowPath
		}
		if err != nil {
			return req, err
		}
	}
}

// tensor reads one input tensor.
func (s *scan) tensor(t *Tensor) error {
	if !s.open('{') {
		return errSlowPath
	}
	for first := true; ; {
		more, err := s.next('}', &first)
		if err != nil || !more {
			return err
		}
		key, ok := s.key()
		if !ok {
			return errSlowPath
		}
		switch string(key) {
		case "name":
			var v []byte
			if v, ok = s.plain(); ok {
				t.Name = intern(v)
			}
		case "datatype":
			var v []byte
			if v, ok = s.plain(); ok {
				t.Datatype = datatypeName(v)
			}
		case "shape":
			t.Shape, ok = s.ints()
		case "data":
			if t.Data, ok = s.raw(); ok {
				ok = json.Valid(t.Data)
			}
		case "parameters":
			if err := s.rawInto(&t.Parameters); err != nil {
				return err
			}
		default:
			ok = false
		}
		if !ok {
			return errSlowPath
		}
	}
}

// scan walks a JSON document; anything unexpected is an error.
type scan struct {
	b      []byte
	i      int
	ints64 []int64 // room for shapes
}

func (s *scan) ws() { s.i = skipSpace(s.b, s.i) }

func (s *scan) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scan) null() bool {
	if s.peek() == 'n' && len(s.b)-s.i >= len("null") && string(s.b[s.i:s.i+len("null")]) == "null" {
		s.i += len("null")
		return true
	}
	return false
}

// open consumes c, the opening of an object or array.
func (s *scan) open(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.i++
	return true
}

// next moves to the next member of the object (or element of the array)
// opened before, whose closing byte is end: false once end is consumed.
// first is true before the first member.
func (s *scan) next(end byte, first *bool) (bool, error) {
	c := s.peek()
	if *first {
		*first = false
		if c == end {
			s.i++
			return false, nil
		}
		return true, nil
	}
	switch c {
	case ',':
		s.i++
		return true, nil
	case end:
		s.i++
		return false, nil
	}
	return false, errSlowPath
}

// key reads a member's key (a plain string) and the colon after it.
func (s *scan) key() ([]byte, bool) {
	k, ok := s.plain()
	if !ok || s.peek() != ':' {
		return nil, false
	}
	s.i++
	return k, true
}

// plain reads a string without escapes, control or non-ASCII bytes
// (others take the slow path) and returns its contents.
func (s *scan) plain() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[s.i+1 : j]
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// str reads a plain string.
func (s *scan) str() (string, bool) {
	v, ok := s.plain()
	return string(v), ok
}

func (s *scan) ints() ([]int64, bool) {
	if !s.open('[') {
		return nil, false
	}
	// The shapes of a request share one array.
	if cap(s.ints64)-len(s.ints64) < 2 {
		s.ints64 = make([]int64, 0, 16)
	}
	from := len(s.ints64)
	for first := true; ; {
		more, err := s.next(']', &first)
		if err != nil {
			return nil, false
		}
		if !more {
			return s.ints64[from:len(s.ints64):len(s.ints64)], true
		}
		if s.ws(); s.i == len(s.b) {
			return nil, false
		}
		j, err := scalarEnd(s.b, s.i)
		if err != nil {
			return nil, false
		}
		n, err := strconv.ParseInt(string(s.b[s.i:j]), 10, 64)
		if err != nil {
			return nil, false
		}
		s.ints64 = append(s.ints64, n)
		s.i = j
	}
}

// names interns the tensor names requests carry (the models' input
// names, a few dozen): bounded in count and length.
var names = struct {
	sync.RWMutex
	m map[string]string
}{m: map[string]string{}}

func intern(b []byte) string {
	names.RLock()
	v, ok := names.m[string(b)]
	names.RUnlock()
	if ok {
		return v
	}
	v = string(b)
	if len(v) <= 64 {
		names.Lock()
		if len(names.m) < 4096 {
			names.m[v] = v
		}
		names.Unlock()
	}
	return v
}

// datatypeName returns the protocol's datatype names without allocating.
func datatypeName(b []byte) string {
	switch string(b) {
	case "BOOL":
		return "BOOL"
	case "UINT8":
		return "UINT8"
	case "UINT16":
		return "UINT16"
	case "UINT32":
		return "UINT32"
	case "UINT64":
		return "UINT64"
	case "INT8":
		return "INT8"
	case "INT16":
		return "INT16"
	case "INT32":
		return "INT32"
	case "INT64":
		return "INT64"
	case "FP16":
		return "FP16"
	case "FP32":
		return "FP32"
	case "FP64":
		return "FP64"
	case "BYTES":
		return "BYTES"
	}
	return string(b)
}

// raw returns the next value's bytes.
func (s *scan) raw() (json.RawMessage, bool) {
	start := skipSpace(s.b, s.i)
	depth := 0
	i := start
	for i < len(s.b) {
		switch c := s.b[i]; c {
		case '[', '{':
			depth++
			i++
		case ']', '}':
			if depth == 0 {
				return nil, false
			}
			depth--
			i++
		case '"':
			j, err := scalarEnd(s.b, i)
			if err != nil {
				return nil, false
			}
			i = j
		case ',':
			if depth == 0 {
				s.i = i
				return s.b[start:i], true
			}
			i++
		case ' ', '\t', '\n', '\r':
			i++
		default:
			if depth == 0 {
				j, err := scalarEnd(s.b, i)
				if err != nil {
					return nil, false
				}
				s.i = j
				return s.b[start:j], true
			}
			i++
		}
		if depth == 0 && i > start && (s.b[i-1] == ']' || s.b[i-1] == '}' || s.b[i-1] == '"') {
			s.i = i
			return s.b[start:i], true
		}
	}
	return nil, false
}

// rawInto decodes the next value with encoding/json (rare fields), unknown
// fields refused as the slow path does.
func (s *scan) rawInto(v any) error {
	raw, ok := s.raw()
	if !ok {
		return errSlowPath
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		return errSlowPath
	}
	return nil
}

// AppendJSON appends the response as JSON, as encoding/json would write it
// (the hot path of the server); a non-finite output is written as null.
func (r *Response) AppendJSON(b []byte) []byte {
	b = append(b, `{"model_name":`...)
	b = appendJSONString(b, r.ModelName)
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, r.ModelVersion)
	if r.ID != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, r.ID)
	}
	if len(r.Parameters) > 0 {
		b = append(b, `,"parameters":`...)
		ids, ok := r.Parameters["prediction_ids"].([]string)
		if len(r.Parameters) == 1 && ok {
			b = append(b, `{"prediction_ids":[`...)
			for i, id := range ids {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, id)
			}
			b = append(b, "]}"...)
		} else {
			p, err := json.Marshal(r.Parameters)
			if err != nil {
				p = []byte("{}")
			}
			b = append(b, p...)
		}
	}
	b = append(b, `,"outputs":[`...)
	for i, o := range r.Outputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, o.Name)
		b = append(b, `,"shape":[`...)
		for k, d := range o.Shape {
			if k > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, d, 10)
		}
		b = append(b, `],"datatype":`...)
		b = appendJSONString(b, o.Datatype)
		b = append(b, `,"data":[`...)
		for k, v := range o.Data {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendJSONNumber(b, v)
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}\n"...)
}
