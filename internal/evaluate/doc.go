// Package evaluate is hygie's model-evaluation core: cross-validation
// splitters (stratified and grouped-by-patient k-fold), binary
// classification and regression metrics, ROC / PR / calibration curves,
// seeded bootstrap confidence intervals (percentile and BCa), subgroup
// metrics with small-cell suppression and a JSON-serialisable report.
//
// Everything is pure Go and deterministic for a given seed
// (math/rand/v2 PCG). See docs/evaluation.md.
package evaluate

import (
	"encoding/json"
	"math"
	"strconv"
)

// Num is a float64 that serialises NaN and ±Inf as JSON null (encoding/json
// rejects them) — undefined metrics (e.g. PPV with no predicted positives)
// are NaN in Go and null in JSON.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler (null → NaN).
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// Float returns the value as float64.
func (n Num) Float() float64 { return float64(n) }
