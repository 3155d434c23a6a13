package pseudo

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/deid"
)

// DateOffset is the secret date shift of a patient, in days: derived from
// the domain key by HMAC, so the same patient always moves by the same
// offset in the domain, within ±maxDays; never 0 unless allowZero; a
// multiple of 7 when keepWeekday.
func DateOffset(key []byte, patient string, maxDays int, allowZero, keepWeekday bool) int {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("hygie/date-shift/v1\x00"))
	m.Write([]byte(patient))
	u := binary.BigEndian.Uint64(m.Sum(nil))
	step := 1
	if keepWeekday {
		step = 7
	}
	k := uint64(maxDays / step) // magnitudes 1..k (or 0..k)
	if allowZero {
		// 2k+1 values, -k..k
		return (int(u%(2*k+1)) - int(k)) * step
	}
	mag := int(u%k) + 1
	if (u>>63)&1 == 1 {
		mag = -mag
	}
	return mag * step
}

// run is one pseudonymization in progress.
type run struct {
	spec    Spec
	src     dataset.Version
	f       *dataset.Frame
	key     []byte
	entries map[string]string // pseudonym → original, for the vault
}

func (p *run) fail(row int, col, format string, args ...any) error {
	return errs.Invalidf("%s: row %d, column %q: %s", p.src.Ref(), row+1, col, fmt.Sprintf(format, args...))
}

func (p *run) pseudonym(id string) string {
	ps := p.spec.Format.Make(p.key, id)
	p.entries[ps] = id
	return ps
}

func isDate(t dataset.Type) bool { return t == dataset.TypeDate || t == dataset.TypeDatetime }

func (p *run) isAge(c dataset.Column) bool {
	if p.spec.AgeCap < 0 {
		return false
	}
	if len(p.spec.AgeColumns) > 0 {
		return slices.Contains(p.spec.AgeColumns, c.Name)
	}
	n := strings.ToLower(c.Name)
	return n == "age" || strings.HasPrefix(n, "age_") || strings.HasSuffix(n, "_age")
}

func (p *run) shifts(c dataset.Column) bool {
	if p.spec.Dates != "shift" || !isDate(c.Type) {
		return false
	}
	return len(p.spec.DateRoles) == 0 || slices.Contains(p.spec.DateRoles, c.Role)
}

// apply builds the pseudonymized frame.
func (p *run) apply() (*dataset.Frame, Result, error) {
	var res Result
	f, spec := p.f, p.spec
	rows := 0
	if len(f.Vecs) > 0 {
		rows = f.Vecs[0].Len()
	}
	// The patient of each row: needed to shift dates and to mask the
	// patient's identity in free text.
	pidCol := -1
	for i, c := range f.Columns {
		if c.Role == dataset.RolePatientID {
			pidCol = i
			break
		}
	}
	needPatient := spec.Text != "drop" && slices.ContainsFunc(f.Columns, func(c dataset.Column) bool { return c.Role == dataset.RoleText })
	for _, c := range f.Columns {
		if p.shifts(c) {
			needPatient = true
		}
	}
	if needPatient && pidCol < 0 {
		return nil, res, errs.Invalidf("%s: shifting dates or de-identifying text per patient needs a column with role patient_id", p.src.Ref())
	}
	offsets := make([]int, rows)
	if pidCol >= 0 {
		v := f.Vecs[pidCol]
		for r := range rows {
			if v.IsNull(r) || strings.TrimSpace(v.String(r)) == "" {
				// Name the place, never the value.
				return nil, res, p.fail(r, f.Columns[pidCol].Name, "empty patient id")
			}
			offsets[r] = DateOffset(p.key, v.String(r), spec.ShiftDays, spec.AllowZeroShift, spec.KeepWeekday)
		}
	}
	out := &dataset.Frame{}
	for i, c := range f.Columns {
		v := f.Vecs[i]
		switch {
		case c.Role == dataset.RolePatientID || (c.Role == dataset.RoleDirectIdentifier && spec.DirectIdentifiers == "pseudonymize"):
			res.Pseudonymized = append(res.Pseudonymized, c.Name)
			pv := dataset.NewVec(dataset.TypeString, v.Len())
			for r := range v.Len() {
				if v.IsNull(r) {
					if c.Role == dataset.RolePatientID {
						return nil, res, p.fail(r, c.Name, "empty patient id")
					}
					pv.AppendNull()
					continue
				}
				pv.AppendString(p.pseudonym(v.String(r)))
			}
			c.Type, v = dataset.TypeString, pv
		case c.Role == dataset.RoleDirectIdentifier:
			res.Dropped = append(res.Dropped, c.Name)
			continue
		case c.Role == dataset.RoleText || c.Type == dataset.TypeText:
			if spec.Text == "drop" {
				// Free text may hold names; unless de-identified it stays out.
				res.Dropped = append(res.Dropped, c.Name)
				continue
			}
			tv, err := p.text(c, v, pidCol, offsets)
			if err != nil {
				return nil, res, err
			}
			res.Deidentified = append(res.Deidentified, c.Name)
			v = tv
		case p.shifts(c):
			res.Shifted = append(res.Shifted, c.Name)
			sv := dataset.NewVec(c.Type, v.Len())
			for r := range v.Len() {
				if v.IsNull(r) {
					sv.AppendNull()
					continue
				}
				d := int64(offsets[r])
				if c.Type == dataset.TypeDatetime {
					d *= 86400e6
				}
				sv.AppendInt(v.I[r] + d)
			}
			v = sv
		case spec.Dates == "year" && c.Role == dataset.RoleQuasiIdentifier && isDate(c.Type):
			res.Generalized = append(res.Generalized, c.Name)
			yv := dataset.NewVec(dataset.TypeInteger, v.Len())
			for r := range v.Len() {
				if v.IsNull(r) {
					yv.AppendNull()
					continue
				}
				day := v.I[r]
				if c.Type == dataset.TypeDatetime {
					day = floorDiv(v.I[r], 86400e6)
				}
				yv.AppendInt(int64(dataset.DateFromDays(day).Year()))
			}
			c.Name += "_annee"
			c.Type, v = dataset.TypeInteger, yv
		case p.isAge(c):
			if c.Type != dataset.TypeInteger && c.Type != dataset.TypeFloat {
				return nil, res, errs.Invalidf("%s: column %q is an age column (top-coded above %d) but is not numeric (%s); convert it or list age_columns", p.src.Ref(), c.Name, spec.AgeCap, c.Type)
			}
			res.TopCoded = append(res.TopCoded, c.Name)
			cv := dataset.NewVec(c.Type, v.Len())
			capped := spec.AgeCap + 1
			for r := range v.Len() {
				switch {
				case v.IsNull(r):
					cv.AppendNull()
				case c.Type == dataset.TypeInteger:
					cv.AppendInt(min(v.I[r], int64(capped)))
				default:
					x := v.F[r]
					if math.IsNaN(x) {
						return nil, res, p.fail(r, c.Name, "not a number")
					}
					cv.AppendFloat(min(x, float64(capped)))
				}
			}
			v = cv
		}
		out.Columns = append(out.Columns, c)
		out.Vecs = append(out.Vecs, v)
	}
	if len(out.Columns) == 0 {
		return nil, res, errs.Invalidf("%s: every column would be dropped", p.src.Ref())
	}
	return out, res, nil
}

// text de-identifies a free-text column row by row, adding the row's own
// identifiers (patient id and direct identifiers) so that they are masked
// wherever they appear, even when the model misses them.
func (p *run) text(c dataset.Column, v *dataset.Vec, pidCol int, offsets []int) (*dataset.Vec, error) {
	eng, err := Engine()
	if err != nil {
		return nil, err
	}
	sur := deid.NewSurrogates(p.derive("hygie/surrogates/v1"))
	tv := dataset.NewVec(v.Type, v.Len())
	for r := range v.Len() {
		if v.IsNull(r) {
			tv.AppendNull()
			continue
		}
		s := v.String(r)
		if !utf8.ValidString(s) {
			return nil, p.fail(r, c.Name, "text is not valid UTF-8")
		}
		if len(s) > deid.DefaultMaxBytes {
			return nil, p.fail(r, c.Name, "text longer than %d bytes", deid.DefaultMaxBytes)
		}
		var ids []Identity
		for i, ic := range p.f.Columns {
			if ic.Role != dataset.RolePatientID && ic.Role != dataset.RoleDirectIdentifier {
				continue
			}
			if iv := p.f.Vecs[i]; !iv.IsNull(r) {
				ids = append(ids, Identity{Value: iv.String(r), Label: LabelOf(ic)})
			}
		}
		o := TextOptions{Mode: p.spec.Text, Identity: ids, Surrogates: sur}
		if p.spec.Dates == "shift" {
			o.ShiftDays, o.ShiftDates = offsets[r], true
		}
		tv.AppendString(DeidentifyText(eng, s, o).Text)
	}
	return tv, nil
}

func (p *run) derive(label string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func (p *run) recipe(res Result) string {
	s := fmt.Sprintf("pseudonymize: hmac-sha256 (domain %s, format %s) on %v; drop %v", p.spec.Domain, p.spec.Format, res.Pseudonymized, res.Dropped)
	if len(res.Generalized) > 0 {
		s += fmt.Sprintf("; year only for %v", res.Generalized)
	}
	if len(res.Shifted) > 0 {
		s += fmt.Sprintf("; per-patient date shift (±%d days, keep weekday %v) for %v", p.spec.ShiftDays, p.spec.KeepWeekday, res.Shifted)
	}
	if len(res.TopCoded) > 0 {
		s += fmt.Sprintf("; ages above %d top-coded for %v", p.spec.AgeCap, res.TopCoded)
	}
	if len(res.Deidentified) > 0 {
		s += fmt.Sprintf("; free text de-identified (%s) for %v", p.spec.Text, res.Deidentified)
	}
	return s
}
