package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Datatypes of the Open Inference Protocol, with the range of values each
// holds (numbers are read as float64, so 64-bit integers beyond 2^53 lose
// precision, as they would in any JSON client).
var datatypes = map[string]struct {
	min, max float64
	integer  bool
}{
	"BOOL":   {0, 1, true},
	"UINT8":  {0, math.MaxUint8, true},
	"UINT16": {0, math.MaxUint16, true},
	"UINT32": {0, math.MaxUint32, true},
	"UINT64": {0, math.MaxUint64, true},
	"INT8":   {math.MinInt8, math.MaxInt8, true},
	"INT16":  {math.MinInt16, math.MaxInt16, true},
	"INT32":  {math.MinInt32, math.MaxInt32, true},
	"INT64":  {math.MinInt64, math.MaxInt64, true},
	"FP16":   {-65504, 65504, false},
	"FP32":   {-math.MaxFloat32, math.MaxFloat32, false},
	"FP64":   {-math.MaxFloat64, math.MaxFloat64, false},
	"BYTES":  {},
}

// numericTypes are the datatypes read as numbers (BOOL as 0 and 1).
var numericTypes = func() map[string]bool {
	out := map[string]bool{}
	for k := range datatypes {
		if k != "BYTES" {
			out[k] = true
		}
	}
	return out
}()

// flatten reads a flat or nested JSON array of finite FP64 numbers.
func flatten(raw json.RawMessage) ([]float64, error) { return numbers(raw, "FP64") }

// numbers reads a flat or nested JSON array in row-major order as values of
// a numeric datatype: BOOL takes true and false, the integer types whole
// numbers in their range, the floating-point types finite numbers in theirs
// or null for a missing value (NaN: gradient-boosted trees take it, the
// linear learners refuse it).
func numbers(raw json.RawMessage, dtype string) ([]float64, error) {
	return numbersN(raw, dtype, 8)
}

// numbersN is numbers with room for n values.
func numbersN(raw json.RawMessage, dtype string, n int) ([]float64, error) {
	return appendNumbers(make([]float64, 0, min(max(n, 1), MaxBatch)), raw, dtype)
}

// appendNumbers is numbers appending to out.
func appendNumbers(out []float64, raw json.RawMessage, dtype string) ([]float64, error) {
	dt, ok := datatypes[dtype]
	if !ok || dtype == "BYTES" {
		return nil, fmt.Errorf("datatype %q is not numeric", dtype)
	}
	err := scanArray(raw, func(tok []byte) error {
		if dtype == "BOOL" {
			switch string(tok) {
			case "true":
				out = append(out, 1)
				return nil
			case "false":
				out = append(out, 0)
				return nil
			}
			return fmt.Errorf("BOOL data must be an array of true and false")
		}
		if string(tok) == "null" {
			if dt.integer {
				return fmt.Errorf("null (a missing value) is only allowed in FP16, FP32 and FP64 data")
			}
			out = append(out, math.NaN())
			return nil
		}
		c := tok[0]
		if c != '-' && (c < '0' || c > '9') {
			return fmt.Errorf("data must be an array of numbers")
		}
		f, err := strconv.ParseFloat(string(tok), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("value %s is not a finite number", tok)
		}
		if f < dt.min || f > dt.max {
			return fmt.Errorf("value %s is out of the range of %s", tok, dtype)
		}
		if dt.integer && f != math.Trunc(f) {
			return fmt.Errorf("value %s is not a whole number, as %s requires", tok, dtype)
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

// flattenStrings reads a flat or nested JSON array of strings (BYTES).
func flattenStrings(raw json.RawMessage) ([]string, error) { return stringsN(raw, 8) }

// stringsN is flattenStrings with room for n values.
func stringsN(raw json.RawMessage, n int) ([]string, error) {
	return appendStrings(make([]string, 0, min(max(n, 1), MaxBatch)), raw)
}

// appendStrings is flattenStrings appending to out.
func appendStrings(out []string, raw json.RawMessage) ([]string, error) {
	err := scanArray(raw, func(tok []byte) error {
		if tok[0] != '"' {
			return fmt.Errorf("BYTES data must be an array of strings")
		}
		if s, ok := plainString(tok); ok {
			out = append(out, s)
			return nil
		}
		var s string
		if err := json.Unmarshal(tok, &s); err != nil {
			return fmt.Errorf("data is not valid JSON")
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// plainString decodes a JSON string without escapes or control bytes.
func plainString(tok []byte) (string, bool) {
	body := tok[1 : len(tok)-1]
	for _, c := range body {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return "", false
		}
	}
	return string(body), true
}

// maxDepth bounds the nesting of tensor data.
const maxDepth = 8

// scanArray calls leaf with the token of every scalar of a flat or nested
// JSON array, in row-major order. It reads the bytes once, without building
// a tree; raw was already checked to be valid JSON by the request decoder,
// but it is checked again here so that it stands alone (fuzzed).
func scanArray(raw []byte, leaf func(tok []byte) error) error {
	i := skipSpace(raw, 0)
	if i == len(raw) {
		return fmt.Errorf("data is required")
	}
	if raw[i] != '[' {
		return fmt.Errorf("data must be an array")
	}
	depth := 0
	expectValue := true // after '[' or ','
	for i < len(raw) {
		i = skipSpace(raw, i)
		if i == len(raw) {
			break
		}
		c := raw[i]
		switch {
		case c == '[':
			if !expectValue {
				return fmt.Errorf("data is not valid JSON")
			}
			depth++
			if depth > maxDepth {
				return fmt.Errorf("data is nested too deeply")
			}
			i++
			// An empty array closes at once.
			if j := skipSpace(raw, i); j < len(raw) && raw[j] == ']' {
				i = j + 1
				depth--
				expectValue = false
				if depth == 0 {
					return trailing(raw, i)
				}
			}
			continue
		case c == ']':
			if expectValue || depth == 0 {
				return fmt.Errorf("data is not valid JSON")
			}
			depth--
			i++
			if depth == 0 {
				return trailing(raw, i)
			}
			continue
		case c == ',':
			if expectValue {
				return fmt.Errorf("data is not valid JSON")
			}
			expectValue = true
			i++
			continue
		}
		if !expectValue {
			return fmt.Errorf("data is not valid JSON")
		}
		j, err := scalarEnd(raw, i)
		if err != nil {
			return err
		}
		if c == '{' {
			return fmt.Errorf("data must be an array of scalars")
		}
		if err := leaf(raw[i:j]); err != nil {
			return err
		}
		i = j
		expectValue = false
	}
	return fmt.Errorf("data is not valid JSON")
}

func trailing(raw []byte, i int) error {
	if skipSpace(raw, i) != len(raw) {
		return fmt.Errorf("data is not valid JSON")
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// scalarEnd returns the end of the scalar token starting at i.
func scalarEnd(b []byte, i int) (int, error) {
	if b[i] == '"' {
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, fmt.Errorf("data is not valid JSON")
	}
	if b[i] == '{' {
		return i + 1, nil
	}
	j := i
	for j < len(b) {
		c := b[j]
		if c == ',' || c == ']' || c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '[' || c == '"' {
			break
		}
		j++
	}
	if j == i {
		return 0, fmt.Errorf("data is not valid JSON")
	}
	switch string(b[i:j]) {
	case "true", "false", "null":
	default:
		if !json.Valid(b[i:j]) {
			return 0, fmt.Errorf("data is not valid JSON")
		}
	}
	return j, nil
}
