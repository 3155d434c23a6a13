package serve

import (
	"encoding/json"
	"errors"
	"strconv"
)

// errSlowPath sends a request body to encoding/json.
var errSlowPath = errors.New("not a plain inference request")

// ParseRequest reads an inference request body quickly: one pass over the
// bytes, tensor data kept as raw JSON, no reflection. It handles the plain
// form of the protocol's requests (exact field names, string ids, integer
// shapes); for anything else, or any error, it returns an error and the
// caller decodes with encoding/json, which gives the same result or says
// what is wrong. Either way the body must be valid JSON.
func ParseRequest(b []byte) (Request, error) {
	var req Request
	if !json.Valid(b) {
		return req, errSlowPath
	}
	s := &scan{b: b}
	err := s.object(func(key string) error {
		switch key {
		case "id":
			v, ok := s.str()
			if !ok {
				return errSlowPath
			}
			req.ID = v
		case "parameters":
			return s.rawInto(&req.Parameters)
		case "outputs":
			return s.rawInto(&req.Outputs)
		case "inputs":
			if s.null() {
				return nil
			}
			req.Inputs = make([]Tensor, 0, 8)
			return s.array(func() error {
				var t Tensor
				err := s.object(func(key string) error {
					var ok bool
					switch key {
					case "name":
						t.Name, ok = s.str()
					case "datatype":
						t.Datatype, ok = s.str()
					case "shape":
						t.Shape, ok = s.ints()
					case "data":
						t.Data, ok = s.raw()
					case "parameters":
						return s.rawInto(&t.Parameters)
					}
					if !ok {
						return errSlowPath
					}
					return nil
				})
				req.Inputs = append(req.Inputs, t)
				return err
			})
		default:
			return errSlowPath
		}
		return nil
	})
	if err != nil {
		return Request{}, err
	}
	if s.ws(); s.i != len(s.b) {
		return Request{}, errSlowPath
	}
	return req, nil
}

// scan walks a document already known to be valid JSON.
type scan struct {
	b []byte
	i int
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
	if s.peek() == 'n' {
		s.i += len("null")
		return true
	}
	return false
}

// object calls field for each key, with the scanner on its value.
func (s *scan) object(field func(key string) error) error {
	if s.peek() != '{' {
		return errSlowPath
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, ok := s.str()
		if !ok || s.peek() != ':' {
			return errSlowPath
		}
		s.i++
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errSlowPath
		}
	}
}

func (s *scan) array(elem func() error) error {
	if s.peek() != '[' {
		return errSlowPath
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errSlowPath
		}
	}
}

// str reads a string without escapes (others take the slow path).
func (s *scan) str() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	j, err := scalarEnd(s.b, s.i)
	if err != nil {
		return "", false
	}
	v, ok := plainString(s.b[s.i:j])
	s.i = j
	return v, ok
}

func (s *scan) ints() ([]int64, bool) {
	out := make([]int64, 0, 2)
	err := s.array(func() error {
		s.ws()
		j, err := scalarEnd(s.b, s.i)
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(string(s.b[s.i:j]), 10, 64)
		if err != nil {
			return errSlowPath
		}
		out = append(out, n)
		s.i = j
		return nil
	})
	return out, err == nil
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

// rawInto decodes the next value with encoding/json (rare fields).
func (s *scan) rawInto(v any) error {
	raw, ok := s.raw()
	if !ok {
		return errSlowPath
	}
	if err := json.Unmarshal(raw, v); err != nil {
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
