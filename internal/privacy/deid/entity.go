package deid

import "fmt"

// Label is the kind of an identifying span.
type Label uint8

// The labels of GUIDELINES.md (see docs/deid.md).
const (
	None Label = iota
	Nom
	Prenom
	Date
	DateNaissance
	Adresse
	Ville
	Zip
	Tel
	Mail
	Secu
	IPP
	NDA
	Hopital
	numLabels
)

var labelNames = [numLabels]string{"", "NOM", "PRENOM", "DATE", "DATE_NAISSANCE", "ADRESSE", "VILLE", "ZIP", "TEL", "MAIL", "SECU", "IPP", "NDA", "HOPITAL"}

// Labels lists every label, in a stable order.
func Labels() []Label {
	out := make([]Label, 0, numLabels-1)
	for l := Nom; l < numLabels; l++ {
		out = append(out, l)
	}
	return out
}

func (l Label) String() string {
	if l < numLabels {
		return labelNames[l]
	}
	return fmt.Sprintf("Label(%d)", l)
}

// ParseLabel returns the label named s.
func ParseLabel(s string) (Label, bool) {
	for l := Nom; l < numLabels; l++ {
		if labelNames[l] == s {
			return l, true
		}
	}
	return None, false
}

// MarshalText writes the label name (for JSON).
func (l Label) MarshalText() ([]byte, error) {
	if l == None || l >= numLabels {
		return nil, fmt.Errorf("deid: invalid label %d", l)
	}
	return []byte(labelNames[l]), nil
}

// UnmarshalText reads a label name.
func (l *Label) UnmarshalText(b []byte) error {
	v, ok := ParseLabel(string(b))
	if !ok {
		return fmt.Errorf("deid: unknown label %q", b)
	}
	*l = v
	return nil
}

// Entity is an identifying span. Start and End count Unicode code points
// into the original text; End is exclusive.
type Entity struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Label Label  `json:"label"`
	Text  string `json:"text"`
}

// Span sources, by decreasing authority when spans overlap.
const (
	srcRule uint8 = iota
	srcModel
	srcPropagated
)

// span is an entity in byte offsets, used inside the pipeline.
type span struct {
	start, end int32
	label      Label
	src        uint8
}
