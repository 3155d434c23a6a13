package pseudo

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/vault"
)

// Spec says how a dataset version is pseudonymized. The zero Spec is the
// default (the behaviour of Pseudonymize). It is read from YAML or JSON
// (ParseSpec), for example:
//
//	domain: research            # pseudonym domain (default: "default")
//	format: {prefix: "P-", length: 14, alphabet: base32, check: true}
//	direct_identifiers: drop    # drop | pseudonymize
//	dates: shift                # year (default) | shift | keep
//	date_roles: [date, quasi_identifier]   # shift only these roles (default: every date column)
//	shift_days: 365             # offsets within ±shift_days (default 365), never 0
//	allow_zero_shift: false
//	keep_weekday: true          # offsets are multiples of 7
//	age_cap: 89                 # ages above become age_cap+1 (default 89; -1: off)
//	age_columns: [age]          # default: numeric columns named age, age_*, *_age
//	text: mask                  # drop (default) | mask | surrogate
//	output: cohort_pseudo       # default: NAME_pseudo
//	vault: true                 # record pseudonym → identifier (default true)
//
// A format is fixed when its domain is created: a spec naming an existing
// domain with another format is refused. The default domain uses
// LegacyFormat; a new named domain without a format gets DefaultFormat.
type Spec struct {
	Domain            string         `json:"domain,omitempty" yaml:"domain"`
	Format            *Format        `json:"format,omitempty" yaml:"format"`
	DirectIdentifiers string         `json:"direct_identifiers,omitempty" yaml:"direct_identifiers"`
	Dates             string         `json:"dates,omitempty" yaml:"dates"`
	DateRoles         []dataset.Role `json:"date_roles,omitempty" yaml:"date_roles"`
	ShiftDays         int            `json:"shift_days,omitempty" yaml:"shift_days"`
	AllowZeroShift    bool           `json:"allow_zero_shift,omitempty" yaml:"allow_zero_shift"`
	KeepWeekday       bool           `json:"keep_weekday,omitempty" yaml:"keep_weekday"`
	AgeCap            int            `json:"age_cap,omitempty" yaml:"age_cap"`
	AgeColumns        []string       `json:"age_columns,omitempty" yaml:"age_columns"`
	Text              string         `json:"text,omitempty" yaml:"text"`
	OutputName        string         `json:"output,omitempty" yaml:"output"`
	Vault             *bool          `json:"vault,omitempty" yaml:"vault"`
}

// DefaultFormat is the format of a new named domain without one: "P", 16
// Crockford base-32 characters (80 bits) and a check character.
var DefaultFormat = Format{Prefix: "P", Length: 16, Alphabet: "base32", Check: true}

// Defaults of Spec.
const (
	DefaultShiftDays = 365
	DefaultAgeCap    = 89
)

// ParseSpec reads a spec from YAML or JSON; unknown fields are refused.
func ParseSpec(b []byte) (Spec, error) {
	var s Spec
	if len(bytes.TrimSpace(b)) == 0 {
		return s, nil
	}
	if t := bytes.TrimSpace(b); t[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return s, errs.Invalidf("pseudonymization spec: %v", err)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&s); err != nil {
			return s, errs.Invalidf("pseudonymization spec: %v", err)
		}
	}
	return s, s.normalize()
}

// normalize fills the defaults and checks the spec.
func (s *Spec) normalize() error {
	if s.Domain == "" {
		s.Domain = vault.DefaultDomain
	}
	if err := vault.ValidDomainName(s.Domain); err != nil {
		return err
	}
	if s.Format == nil {
		f := DefaultFormat
		if s.Domain == vault.DefaultDomain {
			f = LegacyFormat
		}
		s.Format = &f
	}
	if err := s.Format.Validate(); err != nil {
		return err
	}
	check := func(name, v string, allowed ...string) (string, error) {
		if v == "" {
			return allowed[0], nil
		}
		if !slices.Contains(allowed, v) {
			return v, errs.Invalidf("pseudonymization spec: %s must be one of %s", name, strings.Join(allowed, ", "))
		}
		return v, nil
	}
	var err error
	if s.DirectIdentifiers, err = check("direct_identifiers", s.DirectIdentifiers, "drop", "pseudonymize"); err != nil {
		return err
	}
	if s.Dates, err = check("dates", s.Dates, "year", "shift", "keep"); err != nil {
		return err
	}
	if s.Text, err = check("text", s.Text, "drop", "mask", "surrogate"); err != nil {
		return err
	}
	for _, r := range s.DateRoles {
		if !slices.Contains(dataset.Roles, r) {
			return errs.Invalidf("pseudonymization spec: date_roles: unknown role %q", r)
		}
	}
	if s.ShiftDays == 0 {
		s.ShiftDays = DefaultShiftDays
	}
	if s.ShiftDays < 0 || s.ShiftDays > 3650 {
		return errs.Invalidf("pseudonymization spec: shift_days must be 1 to 3650")
	}
	if s.KeepWeekday && s.ShiftDays < 7 {
		return errs.Invalidf("pseudonymization spec: keep_weekday needs shift_days of at least 7")
	}
	if s.AgeCap == 0 {
		s.AgeCap = DefaultAgeCap
	}
	if s.AgeCap < -1 || s.AgeCap > 150 {
		return errs.Invalidf("pseudonymization spec: age_cap must be 1 to 150 (or -1: off)")
	}
	if s.OutputName != "" && !outputName.MatchString(s.OutputName) {
		return errs.Invalidf("pseudonymization spec: output %q is not a valid dataset name", s.OutputName)
	}
	return nil
}

var outputName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

func (s Spec) vault() bool { return s.Vault == nil || *s.Vault }

// Output is the name of the dataset the spec writes.
func (s Spec) Output(src dataset.Version) string {
	if s.OutputName != "" {
		return s.OutputName
	}
	return src.Dataset + "_pseudo"
}
