package pseudo

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/privacy/deid"
)

var (
	engineOnce sync.Once
	engine     *deid.Deidentifier
	engineErr  error
)

// Engine returns the shared de-identification engine (the embedded model),
// loaded on first use.
func Engine() (*deid.Deidentifier, error) {
	engineOnce.Do(func() { engine, engineErr = deid.New(nil) })
	return engine, engineErr
}

// Identity is a value known to identify the patient of a text (the row's
// patient id, name, NIR...), masked wherever it appears in the text.
type Identity struct {
	Value string
	Label deid.Label
}

// LabelOf guesses the label of an identifier column from its role and name.
func LabelOf(c dataset.Column) deid.Label {
	n := strings.ToLower(c.Name)
	has := func(ws ...string) bool {
		return slices.ContainsFunc(ws, func(w string) bool { return strings.Contains(n, w) })
	}
	switch {
	case c.Role == dataset.RolePatientID || has("ipp"):
		return deid.IPP
	case has("prenom", "prénom", "first", "given"):
		return deid.Prenom
	case has("nir", "secu", "ssn", "insee"):
		return deid.Secu
	case has("tel", "phone", "mobile"):
		return deid.Tel
	case has("mail"):
		return deid.Mail
	case has("adresse", "address", "rue"):
		return deid.Adresse
	case has("nda", "sejour", "séjour"):
		return deid.NDA
	case has("naissance", "birth", "dob", "ddn"):
		return deid.DateNaissance
	}
	return deid.Nom
}

// TextOptions tunes DeidentifyText.
type TextOptions struct {
	// Mode is "mask" (each entity becomes [LABEL]), "surrogate" (realistic
	// replacements by the engine) or "tag" (text unchanged, entities only).
	Mode string
	// Identity values are added as entities wherever they occur (whole
	// words, case-insensitive), even if the engine misses them.
	Identity []Identity
	// ShiftDates moves the dates of the text by ShiftDays (the patient's
	// offset) in mask mode, when they are numeric (dd/mm/yyyy, dd-mm-yyyy,
	// dd.mm.yyyy, yyyy-mm-dd); other dates are masked. The engine has no
	// public hook to shift dates by a given offset (its surrogates move the
	// dates of a document by an offset of its own), so in surrogate mode the
	// dates are always masked.
	ShiftDates bool
	ShiftDays  int
	// Surrogates keys the surrogate mode (nil: random).
	Surrogates *deid.Surrogates
}

// TextResult is a de-identified text and its entities, whose offsets count
// code points into the original text.
type TextResult struct {
	Text     string        `json:"text"`
	Entities []deid.Entity `json:"entities"`
}

type tspan struct {
	start, end int // runes
	label      deid.Label
}

// DeidentifyText de-identifies one text with the engine and the patient's
// own identity.
func DeidentifyText(eng *deid.Deidentifier, text string, o TextOptions) TextResult {
	rs := []rune(text)
	var spans []tspan
	for _, e := range eng.Deidentify(text, deid.Tag, nil).Entities {
		spans = append(spans, tspan{e.Start, e.End, e.Label})
	}
	spans = append(spans, identitySpans(rs, o.Identity)...)
	spans = mergeSpans(spans)
	res := TextResult{Entities: make([]deid.Entity, 0, len(spans))}
	for _, sp := range spans {
		res.Entities = append(res.Entities, deid.Entity{Start: sp.start, End: sp.end, Label: sp.label, Text: string(rs[sp.start:sp.end])})
	}
	switch o.Mode {
	case "tag":
		res.Text = text
	case "surrogate":
		// Mask the identity and the dates first, then let the engine replace
		// the rest with surrogates.
		pre := rewrite(rs, spans, func(sp tspan) (string, bool) {
			if sp.label == deid.Date || sp.label == deid.DateNaissance || fromIdentity(sp, rs, o.Identity) {
				return "[" + sp.label.String() + "]", true
			}
			return "", false
		})
		sur := o.Surrogates
		if sur == nil {
			sur = deid.NewSurrogates(nil)
		}
		res.Text = eng.Deidentify(pre, deid.Surrogate, sur).Text
	default:
		res.Text = rewrite(rs, spans, func(sp tspan) (string, bool) {
			if o.ShiftDates && (sp.label == deid.Date || sp.label == deid.DateNaissance) {
				if s, ok := ShiftDateText(string(rs[sp.start:sp.end]), o.ShiftDays); ok {
					return s, true
				}
			}
			return "[" + sp.label.String() + "]", true
		})
	}
	return res
}

func fromIdentity(sp tspan, rs []rune, ids []Identity) bool {
	s := strings.ToLower(string(rs[sp.start:sp.end]))
	for _, id := range ids {
		if strings.Contains(s, strings.ToLower(strings.TrimSpace(id.Value))) {
			return true
		}
		for _, w := range strings.Fields(id.Value) {
			if len([]rune(w)) >= 3 && strings.Contains(s, strings.ToLower(w)) {
				return true
			}
		}
	}
	return false
}

// rewrite replaces the spans for which repl says so.
func rewrite(rs []rune, spans []tspan, repl func(tspan) (string, bool)) string {
	var b strings.Builder
	pos := 0
	for _, sp := range spans {
		s, ok := repl(sp)
		if !ok {
			continue
		}
		b.WriteString(string(rs[pos:sp.start]))
		b.WriteString(s)
		pos = sp.end
	}
	b.WriteString(string(rs[pos:]))
	return b.String()
}

// identitySpans finds the identity values (and, for names, each of their
// words of 3 letters or more) as whole words, ignoring case.
func identitySpans(rs []rune, ids []Identity) []tspan {
	lower := make([]rune, len(rs))
	for i, r := range rs {
		lower[i] = unicode.ToLower(r)
	}
	var out []tspan
	find := func(v string, l deid.Label) {
		needle := []rune(strings.ToLower(strings.TrimSpace(v)))
		if len(needle) < 2 {
			return
		}
		for i := 0; i+len(needle) <= len(lower); i++ {
			if !slices.Equal(lower[i:i+len(needle)], needle) {
				continue
			}
			if i > 0 && isWord(lower[i-1]) || i+len(needle) < len(lower) && isWord(lower[i+len(needle)]) {
				continue
			}
			out = append(out, tspan{i, i + len(needle), l})
		}
	}
	for _, id := range ids {
		find(id.Value, id.Label)
		if id.Label == deid.Nom || id.Label == deid.Prenom {
			for _, w := range strings.FieldsFunc(id.Value, func(r rune) bool { return unicode.IsSpace(r) || r == '-' }) {
				if len([]rune(w)) >= 3 && w != id.Value {
					find(w, id.Label)
				}
			}
		}
	}
	return out
}

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// mergeSpans sorts spans and merges overlapping ones; a merged span keeps
// the label of its longest part.
func mergeSpans(s []tspan) []tspan {
	slices.SortFunc(s, func(a, b tspan) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end))
	})
	var out []tspan
	for _, sp := range s {
		if n := len(out); n > 0 && sp.start < out[n-1].end {
			last := &out[n-1]
			if sp.end-sp.start > last.end-last.start {
				last.label = sp.label
			}
			last.end = max(last.end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}

var (
	dmyRE = regexp.MustCompile(`^(\d{1,2})([/.-])(\d{1,2})([/.-])(\d{4})$`)
	ymdRE = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)
)

// ShiftDateText moves a numeric date by days, keeping its layout; ok is
// false for any other form (the caller masks it).
func ShiftDateText(s string, days int) (string, bool) {
	pad := func(n int, like string) string {
		v := strconv.Itoa(n)
		for len(v) < len(like) {
			v = "0" + v
		}
		return v
	}
	valid := func(y, m, d int) (time.Time, bool) {
		t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		return t, t.Year() == y && int(t.Month()) == m && t.Day() == d
	}
	if m := dmyRE.FindStringSubmatch(s); m != nil && m[2] == m[4] {
		d, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[3])
		y, _ := strconv.Atoi(m[5])
		t, ok := valid(y, mo, d)
		if !ok {
			return "", false
		}
		t = t.AddDate(0, 0, days)
		return pad(t.Day(), m[1]) + m[2] + pad(int(t.Month()), m[3]) + m[4] + pad(t.Year(), m[5]), true
	}
	if m := ymdRE.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		t, ok := valid(y, mo, d)
		if !ok {
			return "", false
		}
		return t.AddDate(0, 0, days).Format("2006-01-02"), true
	}
	return "", false
}
