package dataset_test

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantCols []string
		wantRows [][]string
	}{
		{"header and rows", "ipp,age\nIPP1,54\nIPP2,61\n", []string{"ipp", "age"}, [][]string{{"IPP1", "54"}, {"IPP2", "61"}}},
		{"header only", "ipp,age\n", []string{"ipp", "age"}, nil},
		{"no final newline", "a,b\n1,2", []string{"a", "b"}, [][]string{{"1", "2"}}},
		{"CRLF line ends", "a,b\r\n1,2\r\n", []string{"a", "b"}, [][]string{{"1", "2"}}},
		{"byte order mark and spaces trimmed from header", "\ufeff a ,b\n1,2\n", []string{"a", "b"}, [][]string{{"1", "2"}}},
		{"doubled byte order mark", "\ufeff\ufeffipp,\ufeffage\n1,2\n", []string{"ipp", "age"}, [][]string{{"1", "2"}}},
		{"quoted comma and newline kept", "a,b\n\"x,y\",\"l1\nl2\"\n", []string{"a", "b"}, [][]string{{"x,y", "l1\nl2"}}},
		{"empty cells are missing values", "a,b\n,2\n1,\n", []string{"a", "b"}, [][]string{{"", "2"}, {"1", ""}}},
		{"accented UTF-8", "prénom,âge\nHélène,42\n", []string{"prénom", "âge"}, [][]string{{"Hélène", "42"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := dataset.ReadCSV(strings.NewReader(tt.in), "cohort.csv")
			if err != nil {
				t.Fatalf("ReadCSV: %v", err)
			}
			if got := tab.Names(); !slices.Equal(got, tt.wantCols) {
				t.Errorf("columns = %q, want %q", got, tt.wantCols)
			}
			if !slices.EqualFunc(tab.Rows, tt.wantRows, slices.Equal[[]string]) {
				t.Errorf("rows = %q, want %q", tab.Rows, tt.wantRows)
			}
			for _, c := range tab.Columns {
				if c.Role != dataset.RoleOther {
					t.Errorf("column %s: role %q before the user confirms roles, want %q", c.Name, c.Role, dataset.RoleOther)
				}
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // fragments of the message
	}{
		{"empty file", "", []string{"cohort.csv", "empty file"}},
		{"blank lines only", "\n\n", []string{"cohort.csv", "empty file"}},
		{"ragged row too short", "a,b,c\n1,2,3\n4,5\n", []string{"cohort.csv", "line 3", "wrong number of fields"}},
		{"ragged row too long", "a,b\n1,2,3\n", []string{"cohort.csv", "line 2", "wrong number of fields"}},
		{"duplicate header", "ipp,age,ipp\n1,2,3\n", []string{"cohort.csv", "line 1", `duplicate column name "ipp"`}},
		{"duplicate header after trimming", "age, age\n1,2\n", []string{"cohort.csv", "line 1", `duplicate column name "age"`}},
		{"empty header", "a,,c\n1,2,3\n", []string{"cohort.csv", "line 1, column 2", "empty column name"}},
		{"blank header", "a,  \n1,2\n", []string{"cohort.csv", "line 1, column 2", "empty column name"}},
		{"header of byte order marks only", "\ufeff\ufeff,a\n1,2\n", []string{"cohort.csv", "line 1, column 1", "empty column name"}},
		{"invalid UTF-8 in a cell", "a,nom\n1,ok\n2,\xff\xfe\n", []string{"cohort.csv", "line 3", `column "nom"`, "UTF-8"}},
		{"invalid UTF-8 in a multi-line cell", "a,nom\n1,\"x\ny\xff\"\n", []string{"cohort.csv", "line 2", `column "nom"`, "UTF-8"}},
		{"invalid UTF-8 in the header", "a,n\xffm\n1,2\n", []string{"cohort.csv", "line 1", "UTF-8"}},
		{"bare quote", "a,b\n1,x\"y\n", []string{"cohort.csv", "line 2"}},
		{"unterminated quote", "a,b\n1,\"abc\n", []string{"cohort.csv", "line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := dataset.ReadCSV(strings.NewReader(tt.in), "cohort.csv")
			if err == nil {
				t.Fatalf("ReadCSV = %d columns, %d rows, want an error", len(tab.Columns), len(tab.Rows))
			}
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("code = %s, want invalid (%v)", errs.CodeOf(err), err)
			}
			msg := errs.MessageOf(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "\xff") {
				t.Errorf("message %q repeats the offending bytes", msg)
			}
		})
	}
}

func TestInferTypes(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   dataset.Type
	}{
		{"integers", []string{"1", "-2", "30"}, dataset.TypeInteger},
		{"integers with missing", []string{"1", "", "3"}, dataset.TypeInteger},
		{"zeros and ones are integers", []string{"0", "1", "1"}, dataset.TypeInteger},
		{"a leading zero makes a code", []string{"75013", "01000"}, dataset.TypeString},
		{"zero itself is a number", []string{"0", "12"}, dataset.TypeInteger},
		{"beyond 64 bits", []string{"9223372036854775808"}, dataset.TypeFloat},
		{"floats", []string{"1.5", "2", "-0.25"}, dataset.TypeFloat},
		{"exponent", []string{"1e3", "2"}, dataset.TypeFloat},
		{"decimal comma is text when the mark is a point", []string{"5,4"}, dataset.TypeString},
		{"NaN is not a number", []string{"1.5", "NaN"}, dataset.TypeString},
		{"thousands separators are text", []string{"1,234.5"}, dataset.TypeString},
		{"booleans", []string{"true", "false", ""}, dataset.TypeBoolean},
		{"booleans in any case", []string{"True", "FALSE"}, dataset.TypeBoolean},
		{"french booleans", []string{"oui", "Non", "VRAI", "faux"}, dataset.TypeBoolean},
		{"booleans and numbers", []string{"oui", "1"}, dataset.TypeString},
		{"dates", []string{"1950-03-01", "2001-12-31"}, dataset.TypeDate},
		{"impossible date", []string{"1950-02-30"}, dataset.TypeString},
		{"leap day", []string{"2000-02-29", "1996-02-29"}, dataset.TypeDate},
		{"not a leap year", []string{"1900-02-29"}, dataset.TypeString},
		{"french date format", []string{"01/03/1950", "1/3/1950", "31/12/2001"}, dataset.TypeDate},
		{"american dates do not fit", []string{"12/31/2001"}, dataset.TypeString},
		{"both date formats", []string{"01/03/1950", "1950-03-01"}, dataset.TypeDate},
		{"datetimes", []string{"2024-03-01T12:30:00Z", "2024-03-01 08:00", "01/03/2024 14:05:30"}, dataset.TypeDatetime},
		{"datetimes with offsets and fractions", []string{"2024-03-01T12:30:00.123+01:00", "2024-03-01T12:30:00-0500"}, dataset.TypeDatetime},
		{"dates and datetimes", []string{"2024-03-01", "2024-03-01T12:30:00"}, dataset.TypeDatetime},
		{"bad hour", []string{"2024-03-01 24:00"}, dataset.TypeString},
		{"one date among strings", []string{"1950-03-01", "inconnu"}, dataset.TypeString},
		{"spaces around numbers", []string{" 12 ", "3"}, dataset.TypeInteger},
		{"mixed int and text", []string{"1", "x"}, dataset.TypeString},
		{"all missing", []string{"", ""}, dataset.TypeString},
		{"no rows", nil, dataset.TypeString},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := &dataset.Table{Columns: []dataset.Column{{Name: "x"}, {Name: "id"}}}
			for i, v := range tt.values {
				tab.Rows = append(tab.Rows, []string{v, "r" + string(rune('a'+i))})
			}
			tab.InferTypes()
			if got := tab.Columns[0].Type; got != tt.want {
				t.Errorf("type of %q = %s, want %s", tt.values, got, tt.want)
			}
			if got := tab.Columns[1].Type; got != dataset.TypeString {
				t.Errorf("other column type = %s, want string", got)
			}
		})
	}
}

func TestSuggestRoles(t *testing.T) {
	tests := []struct {
		name string
		want dataset.Role // "" means no suggestion
	}{
		{"nom", dataset.RoleDirectIdentifier},
		{"prenom", dataset.RoleDirectIdentifier},
		{"prénom", dataset.RoleDirectIdentifier},
		{"NIR", dataset.RoleDirectIdentifier},
		{"nir", dataset.RoleDirectIdentifier},
		{"adresse", dataset.RoleDirectIdentifier},
		{"telephone", dataset.RoleDirectIdentifier},
		{"email", dataset.RoleDirectIdentifier},
		{"age", dataset.RoleQuasiIdentifier},
		{"Sexe", dataset.RoleQuasiIdentifier},
		{"code_postal", dataset.RoleQuasiIdentifier},
		{"date_naissance", dataset.RoleQuasiIdentifier},
		{"ipp", dataset.RolePatientID},
		{"IPP", dataset.RolePatientID},
		{"patient_id", dataset.RolePatientID},
		{"date_entree", dataset.RoleDate},
		{"glycemie", ""},
		{"nombre", ""}, // not "nom"
		{"diagnostic", ""},
	}
	names := make([]string, len(tests))
	for i, tt := range tests {
		names[i] = tt.name
	}
	got := dataset.SuggestRoles(names)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := got[tt.name]
			if tt.want == "" {
				if ok {
					t.Errorf("suggested %s, want no suggestion", r)
				}
				return
			}
			if r != tt.want {
				t.Errorf("suggested %q, want %q", r, tt.want)
			}
		})
	}
	t.Run("never applied", func(t *testing.T) {
		tab, err := dataset.ReadCSV(strings.NewReader("nom,ipp\nDupont,IPP1\n"), "x.csv")
		if err != nil {
			t.Fatal(err)
		}
		before := slices.Clone(tab.Columns)
		dataset.SuggestRoles(tab.Names())
		if !slices.Equal(tab.Columns, before) {
			t.Errorf("SuggestRoles changed the table: %v", tab.Columns)
		}
	})
}

func TestSetRoles(t *testing.T) {
	tests := []struct {
		name    string
		roles   map[string]dataset.Role
		wantErr bool
	}{
		{"known column and role", map[string]dataset.Role{"nom": dataset.RoleDirectIdentifier}, false},
		{"unknown column", map[string]dataset.Role{"prenom": dataset.RoleDirectIdentifier}, true},
		{"unknown role", map[string]dataset.Role{"nom": "secret"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := &dataset.Table{Columns: []dataset.Column{{Name: "nom", Role: dataset.RoleOther}}}
			err := tab.SetRoles(tt.roles)
			if tt.wantErr {
				if !errs.Is(err, errs.Invalid) {
					t.Fatalf("SetRoles = %v, want invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for n, r := range tt.roles {
				if tab.Columns[tab.Index(n)].Role != r {
					t.Errorf("column %s role = %s, want %s", n, tab.Columns[tab.Index(n)].Role, r)
				}
			}
		})
	}
}

// Tables written with WriteCSV must read back identical: Read relies on it.
func TestWriteCSVRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		tab  *dataset.Table
	}{
		{"plain", &dataset.Table{Columns: cols("a", "b"), Rows: [][]string{{"1", "2"}, {"", "x"}}}},
		{"quotes commas newlines", &dataset.Table{Columns: cols("a", "b"), Rows: [][]string{{`say "hi"`, "x,y"}, {"l1\nl2", " lead"}}}},
		{"one column with missing values", &dataset.Table{Columns: cols("ipp"), Rows: [][]string{{"IPP1"}, {""}, {"IPP3"}, {""}}}},
		{"one column all missing", &dataset.Table{Columns: cols("x"), Rows: [][]string{{""}, {""}}}},
		{"all cells empty", &dataset.Table{Columns: cols("a", "b"), Rows: [][]string{{"", ""}}}},
		{"no rows", &dataset.Table{Columns: cols("a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.tab.WriteCSV(&buf); err != nil {
				t.Fatal(err)
			}
			back, err := dataset.ReadCSV(&buf, "roundtrip")
			if err != nil {
				t.Fatalf("ReadCSV of WriteCSV output: %v", err)
			}
			if !slices.Equal(back.Names(), tt.tab.Names()) {
				t.Errorf("columns = %q, want %q", back.Names(), tt.tab.Names())
			}
			if !slices.EqualFunc(back.Rows, tt.tab.Rows, slices.Equal[[]string]) {
				t.Errorf("rows = %q, want %q", back.Rows, tt.tab.Rows)
			}
		})
	}
}

func TestFloats(t *testing.T) {
	tab := &dataset.Table{Columns: cols("age", "nom"), Rows: [][]string{{"54", "Dupont"}, {"", "Martin"}}}
	if _, err := tab.Floats("poids"); !errs.Is(err, errs.Invalid) {
		t.Errorf("unknown column: %v", err)
	}
	_, err := tab.Floats("nom")
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "row 1") || strings.Contains(err.Error(), "Dupont") {
		t.Errorf("non-numeric column: %v (want invalid, naming row 1, not the value)", err)
	}
	if _, err := tab.Floats("age"); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "row 2") {
		t.Errorf("missing value: %v", err)
	}
}

func cols(names ...string) []dataset.Column {
	out := make([]dataset.Column, len(names))
	for i, n := range names {
		out[i] = dataset.Column{Name: n, Type: dataset.TypeString, Role: dataset.RoleOther}
	}
	return out
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"", "a\n", "a,b\n1,2\n", "ipp,nom\nIPP1,Dupont\n", "a,b\n1\n", "a,a\n", ",\n", "\ufeffa\n1\n",
		"a,b\n\"x\ny\",2\n", "a\n\"\"\n", "a\n\xff\n", "a,b\r\n1,2\r\n", "a\n\"x\"y\n", "a\n\"\r\"\n",
		"0\n\"\r\r\n\"", "\ufeff\ufeff", "\ufeff\ufeffipp,\ufeff age\ufeff\n1,2\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := dataset.ReadCSV(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error code %s, want invalid: %v", errs.CodeOf(err), err)
			}
			return
		}
		if len(tab.Columns) == 0 {
			t.Fatal("success with no columns")
		}
		seen := map[string]bool{}
		for _, c := range tab.Columns {
			if c.Name == "" || seen[c.Name] {
				t.Fatalf("empty or duplicate column name %q", c.Name)
			}
			seen[c.Name] = true
		}
		for i, r := range tab.Rows {
			if len(r) != len(tab.Columns) {
				t.Fatalf("row %d has %d fields, want %d", i+1, len(r), len(tab.Columns))
			}
		}
		if err := tab.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		// What was read is stored with WriteCSV and read back by Read.
		var buf bytes.Buffer
		if err := tab.WriteCSV(&buf); err != nil {
			t.Fatalf("WriteCSV: %v", err)
		}
		back, err := dataset.ReadCSV(&buf, "again")
		if err != nil {
			t.Fatalf("ReadCSV of WriteCSV output: %v", err)
		}
		// encoding/csv drops a carriage return before a newline, even inside
		// a quoted field: a cell's "\r\n" is stored as "\n".
		crlf := func(rows [][]string) [][]string {
			out := make([][]string, len(rows))
			for i, r := range rows {
				out[i] = make([]string, len(r))
				for j, v := range r {
					out[i][j] = strings.ReplaceAll(v, "\r\n", "\n")
				}
			}
			return out
		}
		if !slices.Equal(back.Names(), tab.Names()) || !slices.EqualFunc(back.Rows, crlf(tab.Rows), slices.Equal[[]string]) {
			t.Fatalf("round trip changed the table:\n got %q %q\nwant %q %q", back.Names(), back.Rows, tab.Names(), tab.Rows)
		}
		if types := func(t *dataset.Table) map[string]dataset.Type {
			m := map[string]dataset.Type{}
			for _, c := range t.Columns {
				m[c.Name] = c.Type
			}
			return m
		}; !maps.Equal(types(back), types(tab)) {
			t.Fatalf("round trip changed inferred types: %v, want %v", back.Columns, tab.Columns)
		}
	})
}
