package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
)

// Type is a column's value type.
type Type string

// Column types.
const (
	TypeInteger Type = "integer"
	TypeFloat   Type = "float"
	TypeBoolean Type = "boolean"
	TypeDate    Type = "date"
	TypeString  Type = "string"
)

// Role is what a column means for privacy and learning (DESIGN.md).
type Role string

// Column roles.
const (
	RolePatientID        Role = "patient_id"
	RoleDirectIdentifier Role = "direct_identifier"
	RoleQuasiIdentifier  Role = "quasi_identifier"
	RoleSensitive        Role = "sensitive"
	RoleText             Role = "text"
	RoleDate             Role = "date"
	RoleFeature          Role = "feature"
	RoleTarget           Role = "target"
	RoleOther            Role = "other"
)

// Roles lists every column role.
var Roles = []Role{RolePatientID, RoleDirectIdentifier, RoleQuasiIdentifier, RoleSensitive, RoleText, RoleDate, RoleFeature, RoleTarget, RoleOther}

// Identifying reports whether values of a column with this role identify a
// person directly, and so must never be shown, logged or profiled.
func (r Role) Identifying() bool { return r == RolePatientID || r == RoleDirectIdentifier }

// Column describes one column.
type Column struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
	Role Role   `json:"role"`
}

// Table is an in-memory table of text cells with a typed schema. The empty
// string is a missing value.
type Table struct {
	Columns []Column
	Rows    [][]string
}

// Index returns the position of a column, or -1.
func (t *Table) Index(name string) int {
	return slices.IndexFunc(t.Columns, func(c Column) bool { return c.Name == name })
}

// MustColumn returns a column's index or an error naming it.
func (t *Table) MustColumn(name string) (int, error) {
	i := t.Index(name)
	if i < 0 {
		return -1, errs.Invalidf("unknown column %q (columns: %s)", name, strings.Join(t.Names(), ", "))
	}
	return i, nil
}

// Names lists column names in order.
func (t *Table) Names() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// Floats returns a numeric column as float64s; a missing or non-numeric value
// is an error naming the row (values themselves are not shown: they may be
// identifying).
func (t *Table) Floats(name string) ([]float64, error) {
	i, err := t.MustColumn(name)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(t.Rows))
	for r, row := range t.Rows {
		v, err := strconv.ParseFloat(row[i], 64)
		if err != nil {
			return nil, errs.Invalidf("row %d, column %q: not a number", r+1, name)
		}
		out[r] = v
	}
	return out, nil
}

// ReadCSV parses a comma-separated file with a header row. source names the
// input in error messages ("cohort.csv").
func ReadCSV(r io.Reader, source string) (*Table, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errs.Invalidf("%s: empty file, expected a header row", source)
	}
	if err != nil {
		return nil, csvErr(source, err)
	}
	t := &Table{}
	seen := map[string]bool{}
	for i, h := range header {
		if !utf8.ValidString(h) {
			line, _ := cr.FieldPos(i)
			return nil, errs.Invalidf("%s: line %d, column %d: column name is not valid UTF-8", source, line, i+1)
		}
		// A byte order mark (sometimes doubled by re-encoding tools) and
		// spaces around a name are invisible: drop them all, so the name
		// reads back the same once written.
		h = strings.TrimFunc(h, func(r rune) bool { return r == '\ufeff' || unicode.IsSpace(r) })
		if h == "" {
			return nil, errs.Invalidf("%s: line 1, column %d: empty column name", source, i+1)
		}
		if seen[h] {
			return nil, errs.Invalidf("%s: line 1: duplicate column name %q", source, h)
		}
		seen[h] = true
		t.Columns = append(t.Columns, Column{Name: h, Role: RoleOther})
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr(source, err)
		}
		for i, v := range rec {
			if !utf8.ValidString(v) {
				line, _ := cr.FieldPos(i)
				return nil, errs.Invalidf("%s: line %d, column %q: bytes are not valid UTF-8", source, line, t.Columns[i].Name)
			}
		}
		t.Rows = append(t.Rows, rec)
	}
	t.InferTypes()
	return t, nil
}

func csvErr(source string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return errs.Invalidf("%s: line %d: wrong number of fields", source, pe.Line)
		}
		return errs.Invalidf("%s: line %d, column %d: %v", source, pe.Line, pe.Column, pe.Err)
	}
	return errs.Invalidf("%s: %v", source, err)
}

// InferTypes sets each column's type from its values, with the import's
// rules (see infer.go; the decimal mark is '.', "" is missing).
func (t *Table) InferTypes() {
	for i := range t.Columns {
		t.Columns[i].Type = inferType(t.Rows, i)
	}
}

func inferType(rows [][]string, col int) Type {
	kinds, present := kindAll, false
	for _, row := range rows {
		b := trimSpace([]byte(row[col]))
		if len(b) == 0 {
			continue
		}
		present = true
		if kinds &= classify(b); kinds == 0 {
			break
		}
	}
	if !present {
		return TypeString
	}
	return typeOfKinds(kinds, '.')
}

// WriteCSV writes the table with a header row.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Names()); err != nil {
		return err
	}
	for _, r := range t.Rows {
		// encoding/csv writes a record of one empty field as an empty
		// line, which readers skip: quote it so the row is not lost.
		if len(r) == 1 && r[0] == "" {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			if _, err := io.WriteString(w, "\"\"\n"); err != nil {
				return err
			}
			continue
		}
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// SetRoles applies name → role; unknown columns or roles are errors.
func (t *Table) SetRoles(roles map[string]Role) error {
	for name, role := range roles {
		i, err := t.MustColumn(name)
		if err != nil {
			return err
		}
		if !slices.Contains(Roles, role) {
			return errs.Invalidf("column %q: unknown role %q", name, role)
		}
		t.Columns[i].Role = role
	}
	return nil
}

// SuggestRoles proposes roles from column names, for the user to confirm.
// It never applies them.
func SuggestRoles(names []string) map[string]Role {
	direct := []string{"nom", "prenom", "prénom", "name", "first_name", "last_name", "nir", "ins", "ssn", "adresse", "address", "tel", "telephone", "téléphone", "phone", "email", "mail"}
	quasi := []string{"age", "âge", "sexe", "sex", "gender", "code_postal", "cp", "zip", "date_naissance", "birth_date", "dob", "commune"}
	ids := []string{"ipp", "patient_id", "id_patient", "nip"}
	out := map[string]Role{}
	for _, n := range names {
		l := strings.ToLower(n)
		switch {
		case slices.Contains(ids, l):
			out[n] = RolePatientID
		case slices.Contains(direct, l):
			out[n] = RoleDirectIdentifier
		case slices.Contains(quasi, l):
			out[n] = RoleQuasiIdentifier
		case strings.HasPrefix(l, "date_"):
			out[n] = RoleDate
		}
	}
	return out
}

// Clone returns a deep copy.
func (t *Table) Clone() *Table {
	c := &Table{Columns: slices.Clone(t.Columns), Rows: make([][]string, len(t.Rows))}
	for i, r := range t.Rows {
		c.Rows[i] = slices.Clone(r)
	}
	return c
}

// Validate checks the table's shape.
func (t *Table) Validate() error {
	if len(t.Columns) == 0 {
		return errs.Invalidf("table has no columns")
	}
	for i, r := range t.Rows {
		if len(r) != len(t.Columns) {
			return errs.Invalidf("row %d: %d fields, want %d", i+1, len(r), len(t.Columns))
		}
	}
	return nil
}

func (c Column) String() string { return fmt.Sprintf("%s:%s:%s", c.Name, c.Type, c.Role) }
