package recipe

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// age: the time between a date column and another date column or a fixed
// date, in completed years or in days ("age at admission").
type ageStep struct {
	From string `yaml:"from"` // e.g. the birth date
	To   string `yaml:"to"`   // e.g. the admission date
	At   string `yaml:"at"`   // a fixed date, YYYY-MM-DD, instead of to
	Unit string `yaml:"unit"` // years (default) or days
	Name string `yaml:"name"`
	Role string `yaml:"role"` // default quasi_identifier: an age narrows down who someone is
	at   int64
	role dataset.Role
}

func parseAge(n *yaml.Node) (op, error) {
	s, err := decode[ageStep](n, "")
	if err != nil {
		return nil, err
	}
	switch {
	case s.From == "":
		return nil, errs.Invalidf("from is required")
	case s.Name == "":
		return nil, errs.Invalidf("name is required")
	case (s.To == "") == (s.At == ""):
		return nil, errs.Invalidf("give to (a column) or at (a date), one of them")
	}
	if s.At != "" {
		d, err := time.Parse(time.DateOnly, s.At)
		if err != nil {
			return nil, errs.Invalidf("at: want a date YYYY-MM-DD")
		}
		s.at = dataset.Days(d)
	}
	switch s.Unit {
	case "":
		s.Unit = "years"
	case "years", "days":
	default:
		return nil, errs.Invalidf("unit: want years or days")
	}
	if s.role, err = parseRole(s.Role, dataset.RoleQuasiIdentifier); err != nil {
		return nil, err
	}
	return s, nil
}

// dateCol returns a date or datetime column.
func dateCol(w *work, name string) (*dataset.Vec, error) {
	j, err := w.col(name)
	if err != nil {
		return nil, err
	}
	v := w.vecs[j]
	if v.Type != dataset.TypeDate && v.Type != dataset.TypeDatetime {
		return nil, errs.Invalidf("column %q is %s, not a date (cast it first)", name, v.Type)
	}
	return v, nil
}

// dayOf is value i of a date or datetime vector as days since 1970-01-01
// (a datetime's UTC date).
func dayOf(v *dataset.Vec, i int) int64 {
	if v.Type == dataset.TypeDatetime {
		return dataset.Days(time.UnixMicro(v.I[i]).UTC())
	}
	return v.I[i]
}

func (s *ageStep) apply(w *work) error {
	from, err := dateCol(w, s.From)
	if err != nil {
		return err
	}
	var to *dataset.Vec
	if s.To != "" {
		if to, err = dateCol(w, s.To); err != nil {
			return err
		}
	}
	out := dataset.NewVec(dataset.TypeInteger, w.rows())
	for i := range w.rows() {
		if missing(from, i) || (to != nil && missing(to, i)) {
			out.AppendNull()
			continue
		}
		a, b := dayOf(from, i), s.at
		if to != nil {
			b = dayOf(to, i)
		}
		if s.Unit == "days" {
			out.AppendInt(b - a)
		} else {
			out.AppendInt(years(a, b))
		}
	}
	return w.add(dataset.Column{Name: s.Name, Type: dataset.TypeInteger, Role: s.role}, out)
}

// years is the number of completed years from day a to day b (counted
// backwards, so negative, when b is before a). Someone born on 29 February turns a year older on
// 1 March in common years.
func years(a, b int64) int64 {
	if b < a {
		return -years(b, a)
	}
	ya, ma, da := dataset.DateFromDays(a).Date()
	yb, mb, db := dataset.DateFromDays(b).Date()
	n := int64(yb - ya)
	if mb < ma || (mb == ma && db < da) {
		n--
	}
	return n
}

func (s *ageStep) describe() string {
	until := s.To
	if until == "" {
		until = s.At
	}
	return fmt.Sprintf("age %s = %s from %s to %s", s.Name, s.Unit, s.From, until)
}
