package dataset_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
)

// importString imports content as a file named name.
func (e *env) importString(t *testing.T, name, content string, o dataset.ImportOptions) (dataset.ImportResult, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.Project == "" {
		o.Project = "proj"
	}
	if o.Dataset == "" {
		o.Dataset = "imported"
	}
	if o.Level == "" {
		o.Level = dataset.Pseudonymized
	}
	// Most fixtures carry a pseudonymized "ipp": confirm its role, as an
	// importer must (TestImportRefusesUnconfirmedIdentifiers).
	if header, _, _ := strings.Cut(content, "\n"); o.Roles == nil && o.Level != dataset.Identifying && strings.Contains(header, "ipp") {
		o.Roles = map[string]dataset.Role{"ipp": dataset.RolePatientID}
	}
	return e.ds.Import(e.steward, dataset.File(path, ""), o)
}

// cells returns a frame's rows as text (Vec.String), missing values as "∅".
func cells(f *dataset.Frame) [][]string {
	out := make([][]string, f.Rows())
	for r := range out {
		for _, v := range f.Vecs {
			s := v.String(r)
			if v.IsNull(r) {
				s = "∅"
			}
			out[r] = append(out[r], s)
		}
	}
	return out
}

func types(cols []dataset.Column) []dataset.Type {
	out := make([]dataset.Type, len(cols))
	for i, c := range cols {
		out[i] = c.Type
	}
	return out
}

const (
	I  = dataset.TypeInteger
	F  = dataset.TypeFloat
	B  = dataset.TypeBoolean
	D  = dataset.TypeDate
	DT = dataset.TypeDatetime
	S  = dataset.TypeString
)

func TestImportCSVDialects(t *testing.T) {
	d := dbtest.SQLite(t)
	e := newEnv(t, d)
	tests := []struct {
		name      string
		file      string
		content   string
		opts      dataset.ImportOptions
		dialect   dataset.Dialect
		wantNames []string
		wantTypes []dataset.Type
		want      [][]string
	}{
		{
			name: "comma, UTF-8", file: "a.csv",
			content:   "ipp,age,poids,né le,actif\nIPP1,54,70.5,1970-01-02,true\nIPP2,,65,,false\n",
			dialect:   dataset.Dialect{Separator: ',', Encoding: "utf-8", Decimal: '.'},
			wantNames: []string{"ipp", "age", "poids", "né le", "actif"}, wantTypes: []dataset.Type{S, I, F, D, B},
			want: [][]string{{"IPP1", "54", "70.5", "1970-01-02", "true"}, {"IPP2", "∅", "65", "∅", "false"}},
		},
		{
			name: "Excel in French: semicolons, decimal comma, Windows-1252, CRLF", file: "export.csv",
			content:   "Nom;Prénom;Poids;Entrée;Sortie;Hospitalisé\r\nDupont;Hélène;70,5;17/01/2024;17/01/2024 14:05;Oui\r\nMartin;Zoë;;03/02/2024;04/02/2024 08:00;non\r\n",
			opts:      dataset.ImportOptions{Level: dataset.Identifying}, // names: an identifying extract
			dialect:   dataset.Dialect{Separator: ';', Encoding: "windows-1252", Decimal: ','},
			wantNames: []string{"Nom", "Prénom", "Poids", "Entrée", "Sortie", "Hospitalisé"}, wantTypes: []dataset.Type{S, S, F, D, DT, B},
			want: [][]string{{"Dupont", "Hélène", "70.5", "2024-01-17", "2024-01-17T14:05:00Z", "true"}, {"Martin", "Zoë", "∅", "2024-02-03", "2024-02-04T08:00:00Z", "false"}},
		},
		{
			name: "tabs, byte order mark, quoted newlines", file: "notes.tsv",
			content:   "\ufeffid\tnote\tscore\n1\t\"ligne 1\nligne 2\t(tab)\"\t1e3\n2\t\"dit \"\"ok\"\"\"\t-2.5\n",
			dialect:   dataset.Dialect{Separator: '\t', Encoding: "utf-8", Decimal: '.'},
			wantNames: []string{"id", "note", "score"}, wantTypes: []dataset.Type{I, S, F},
			want: [][]string{{"1", "ligne 1\nligne 2\t(tab)", "1000"}, {"2", "dit \"ok\"", "-2.5"}},
		},
		{
			name: "missing value markers and codes with leading zeros", file: "m.csv",
			content:   "code_postal,valeur,texte\n01000,NA,NULL\n75013, 12 ,N/A\n,NaN,x\n",
			dialect:   dataset.Dialect{Separator: ',', Encoding: "utf-8", Decimal: '.'},
			wantNames: []string{"code_postal", "valeur", "texte"}, wantTypes: []dataset.Type{S, I, S},
			want: [][]string{{"01000", "∅", "∅"}, {"75013", "12", "∅"}, {"∅", "∅", "x"}},
		},
		{
			name: "options override the sniffing", file: "forced.txt",
			content: "a|b\n1,5|x\n",
			opts:    dataset.ImportOptions{Separator: '|', Decimal: ',', Encoding: "latin1", NullValues: []string{"x"}},
			dialect: dataset.Dialect{Separator: '|', Encoding: "latin-1", Decimal: ','},
			// b has no value left: a string column of missing values.
			wantNames: []string{"a", "b"}, wantTypes: []dataset.Type{F, S},
			want: [][]string{{"1.5", "∅"}},
		},
		{
			name: "declared types override inference", file: "declared.csv",
			content:   "flag,n,when,code\n0,1,2024-01-01,12\n1,2,,0034\n",
			opts:      dataset.ImportOptions{Types: map[string]dataset.Type{"flag": B, "n": F, "when": DT, "code": dataset.TypeText}},
			dialect:   dataset.Dialect{Separator: ',', Encoding: "utf-8", Decimal: '.'},
			wantNames: []string{"flag", "n", "when", "code"}, wantTypes: []dataset.Type{B, F, DT, dataset.TypeText},
			want: [][]string{{"false", "1", "2024-01-01T00:00:00Z", "12"}, {"true", "2", "∅", "0034"}},
		},
		{
			name: "header only", file: "empty.csv",
			content:   "a;b\n",
			dialect:   dataset.Dialect{Separator: ';', Encoding: "utf-8", Decimal: '.'},
			wantNames: []string{"a", "b"}, wantTypes: []dataset.Type{S, S},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := tt.content
			if tt.dialect.Encoding == "windows-1252" {
				content = toWindows1252(t, content)
			}
			tt.opts.Dataset = "d" + string(rune('a'+i))
			res, err := e.importString(t, tt.file, content, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Dialect == nil || *res.Dialect != tt.dialect {
				t.Errorf("dialect = %+v, want %+v", res.Dialect, tt.dialect)
			}
			v := res.Version
			if got := namesOf(v.Columns); !slices.Equal(got, tt.wantNames) {
				t.Errorf("names = %q, want %q", got, tt.wantNames)
			}
			if got := types(v.Columns); !slices.Equal(got, tt.wantTypes) {
				t.Errorf("types = %v, want %v", got, tt.wantTypes)
			}
			if v.Rows != len(tt.want) || v.Format != "parquet" || !res.Created {
				t.Errorf("version = %d rows, format %q, created %v", v.Rows, v.Format, res.Created)
			}
			f, err := e.ds.ReadFrame(e.steward, v)
			if err != nil {
				t.Fatal(err)
			}
			if got := cells(f); !slices.EqualFunc(got, tt.want, slices.Equal[[]string]) {
				t.Errorf("content = %q, want %q", got, tt.want)
			}
		})
	}
}

func namesOf(cols []dataset.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// toWindows1252 encodes s (UTF-8, Latin characters only).
func toWindows1252(t *testing.T, s string) string {
	var b []byte
	for _, r := range s {
		switch {
		case r < 0x80:
			b = append(b, byte(r))
		case r >= 0xA0 && r <= 0xFF:
			b = append(b, byte(r))
		case r == '€':
			b = append(b, 0x80)
		default:
			t.Fatalf("cannot encode %q", r)
		}
	}
	return string(b)
}

func TestImportCSVErrors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		tests := []struct {
			name    string
			content string
			opts    dataset.ImportOptions
			want    []string // fragments of the message
			secret  string   // a value that must not appear
		}{
			{"empty file", "", dataset.ImportOptions{}, []string{"cohort.csv", "empty file"}, ""},
			{"ragged row", "a,b,c\n1,2,3\n4,5\n", dataset.ImportOptions{}, []string{"cohort.csv", "line 3", "2 fields, want 3"}, ""},
			{"ragged row after a multi-line field", "a,b\n\"x\ny\",1\nDupont\n", dataset.ImportOptions{}, []string{"cohort.csv", "line 4", "1 fields, want 2"}, "Dupont"},
			{"value not of the declared type", "ipp,age\nIPP1,54\nIPP2,cinquante\n", dataset.ImportOptions{Types: map[string]dataset.Type{"age": I}},
				[]string{"cohort.csv", "line 3", `column "age"`, "not a valid integer", "declared"}, "cinquante"},
			{"value not a date", "ipp,ddn\nIPP1,1950-01-17\nIPP2,17/13/1950\n", dataset.ImportOptions{Types: map[string]dataset.Type{"ddn": D}},
				[]string{"line 3", `column "ddn"`, "date"}, "17/13/1950"},
			{"invalid UTF-8 when UTF-8 is declared", "nom,x\nDupont,1\nH\xe9l\xe8ne,2\n", dataset.ImportOptions{Encoding: "utf-8"},
				[]string{"cohort.csv", "line 3", `column "nom"`, "not valid UTF-8"}, "l\xe8ne"},
			{"byte undefined in Windows-1252", "nom,x\nDupont,1\nAb\x81c,2\n", dataset.ImportOptions{},
				[]string{"cohort.csv", "line 3", `column "nom"`, "not defined in Windows-1252"}, "Ab"},
			{"unclosed quote", "a,b\n1,\"Dupont\n2,3\n", dataset.ImportOptions{}, []string{"cohort.csv", "line 2", "not closed"}, "Dupont"},
			{"text after a closing quote", "a,b\n1,\"Dup\"ont\n", dataset.ImportOptions{}, []string{"cohort.csv", "line 2", "closing quote"}, "Dup"},
			{"duplicate header", "ipp,age,ipp\n1,2,3\n", dataset.ImportOptions{}, []string{"cohort.csv", "line 1", `duplicate column name "ipp"`}, ""},
			{"empty header", "a,,c\n1,2,3\n", dataset.ImportOptions{}, []string{"cohort.csv", "line 1, column 2", "empty column name"}, ""},
			{"role for an unknown column", "a,b\n1,2\n", dataset.ImportOptions{Roles: map[string]dataset.Role{"c": dataset.RoleFeature}}, []string{`unknown column "c"`, "a, b"}, ""},
			{"unknown role", "a,b\n1,2\n", dataset.ImportOptions{Roles: map[string]dataset.Role{"a": "secret"}}, []string{`column "a"`, `unknown role "secret"`}, ""},
			{"type for an unknown column", "a,b\n1,2\n", dataset.ImportOptions{Types: map[string]dataset.Type{"c": I}}, []string{"cohort.csv", `unknown column "c"`}, ""},
			{"unknown type", "a,b\n1,2\n", dataset.ImportOptions{Types: map[string]dataset.Type{"a": "money"}}, []string{`unknown type "money"`}, ""},
			{"direct identifier in a pseudonymized version", "nom,x\nDupont,1\n", dataset.ImportOptions{Roles: map[string]dataset.Role{"nom": dataset.RoleDirectIdentifier}},
				[]string{`column "nom"`, "direct identifiers"}, "Dupont"},
			{"unknown encoding", "a\n1\n", dataset.ImportOptions{Encoding: "ebcdic"}, []string{`encoding "ebcdic"`}, ""},
			{"decimal mark equal to the separator", "a\n1\n", dataset.ImportOptions{Separator: ',', Decimal: ','}, []string{"decimal mark"}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.opts.Dataset = "cohort"
				_, err := e.importString(t, "cohort.csv", tt.content, tt.opts)
				if !errs.Is(err, errs.Invalid) {
					t.Fatalf("Import = %v, want invalid", err)
				}
				msg := errs.MessageOf(err)
				for _, w := range tt.want {
					if !strings.Contains(msg, w) {
						t.Errorf("message %q does not contain %q", msg, w)
					}
				}
				if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
					t.Errorf("error %q shows the value %q", err, tt.secret)
				}
			})
		}
		var n int
		d.QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM datasets) + (SELECT COUNT(*) FROM dataset_versions)`).Scan(&n)
		if n != 0 {
			t.Errorf("%d dataset rows after failed imports, want 0", n)
		}
		if objs, _ := e.blobs.List(context.Background(), ""); len(objs) != 0 {
			t.Errorf("%d blobs after failed imports, want 0", len(objs))
		}
	})
}

// A failure at the very end of a large file stores nothing either, even for
// an identifying version (encrypted content already streamed to the store).
func TestImportFailsLateStoresNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		var b strings.Builder
		b.WriteString("ipp,age\n")
		for i := range 100_000 {
			b.WriteString("IPP")
			b.WriteString(strings.Repeat("x", i%7))
			b.WriteString(",42\n")
		}
		b.WriteString("IPPlast,quarante\n")
		for _, level := range []dataset.Level{dataset.Identifying, dataset.Pseudonymized} {
			_, err := e.importString(t, "big.csv", b.String(), dataset.ImportOptions{Level: level, Types: map[string]dataset.Type{"age": I}, Roles: map[string]dataset.Role{"ipp": dataset.RolePatientID}})
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "line 100002") {
				t.Fatalf("%s: Import = %v", level, err)
			}
		}
		if objs, _ := e.blobs.List(context.Background(), ""); len(objs) != 0 {
			t.Errorf("%d blobs after failed imports, want 0", len(objs))
		}
	})
}

func TestImportRolesAndSuggestions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		res, err := e.importString(t, "cohort.csv", "ipp,nom,sexe,date_entree,glycemie\nIPP1,Dupont,F,2024-01-01,5.4\n",
			dataset.ImportOptions{Level: dataset.Identifying, Roles: map[string]dataset.Role{"ipp": dataset.RolePatientID, "glycemie": dataset.RoleTarget}})
		if err != nil {
			t.Fatal(err)
		}
		roles := map[string]dataset.Role{}
		for _, c := range res.Version.Columns {
			roles[c.Name] = c.Role
		}
		want := map[string]dataset.Role{"ipp": dataset.RolePatientID, "nom": dataset.RoleOther, "sexe": dataset.RoleOther, "date_entree": dataset.RoleOther, "glycemie": dataset.RoleTarget}
		if !mapsEqual(roles, want) {
			t.Errorf("roles = %v, want %v (suggestions are never applied)", roles, want)
		}
		wantSuggested := map[string]dataset.Role{"nom": dataset.RoleDirectIdentifier, "sexe": dataset.RoleQuasiIdentifier, "date_entree": dataset.RoleDate}
		if !mapsEqual(res.Suggested, wantSuggested) {
			t.Errorf("suggested = %v, want %v", res.Suggested, wantSuggested)
		}
		if !res.Version.Encrypted {
			t.Error("identifying import not encrypted")
		}
	})
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestImportIsContentAddressed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		const csv = "ipp;poids;vu le\nIPP1;70,5;17/01/2024\nIPP2;;18/01/2024\n"
		for _, level := range []dataset.Level{dataset.Pseudonymized, dataset.Identifying} {
			name := "bio-" + string(level)
			o := dataset.ImportOptions{Dataset: name, Level: level, Roles: map[string]dataset.Role{"ipp": dataset.RolePatientID}}
			first, err := e.importString(t, "bio.csv", csv, o)
			if err != nil {
				t.Fatal(err)
			}
			// The same content again, from a stream this time.
			again, err := e.ds.Import(e.steward, dataset.Stream("stdin", "csv", strings.NewReader(csv)), dataset.ImportOptions{Project: "proj", Dataset: name, Level: level,
				Roles: map[string]dataset.Role{"ipp": dataset.RolePatientID}})
			if err != nil {
				t.Fatal(err)
			}
			if again.Created || again.Version.ID != first.Version.ID || again.Version.Digest != first.Version.Digest {
				t.Errorf("%s: second import = version %d created %v, want version %d reused", level, again.Version.Version, again.Created, first.Version.Version)
			}
			// The same content as a frame, read back from the version.
			f, err := e.ds.ReadFrame(e.steward, first.Version)
			if err != nil {
				t.Fatal(err)
			}
			v, created, err := e.ds.Create(e.steward, dataset.NewVersion{Project: "proj", Dataset: name, Frame: f, Level: level})
			if err != nil || created || v.ID != first.Version.ID {
				t.Errorf("%s: Create from the read frame = version %d created %v, %v; want the existing version", level, v.Version, created, err)
			}
			// Another role is another content.
			o.Roles = map[string]dataset.Role{"ipp": dataset.RoleOther}
			other, err := e.importString(t, "bio.csv", csv, o)
			if err != nil || !other.Created || other.Version.Version != 2 {
				t.Errorf("%s: import with other roles = version %d created %v, %v", level, other.Version.Version, other.Created, err)
			}
		}
		// One blob per distinct content: the unused encrypted copies were removed.
		if objs, _ := e.blobs.List(context.Background(), ""); len(objs) != 4 {
			t.Errorf("%d blobs, want 4", len(objs))
		}
	})
}

func TestImportJSONLines(t *testing.T) {
	d := dbtest.SQLite(t)
	e := newEnv(t, d)
	content := `{"ipp": "IPP1", "age": 54, "poids": 70.5, "actif": true, "ddn": "1970-01-02", "vu": "2024-01-01T10:00:00+01:00", "extra": {"a": [1, 2]}}
{"ipp": "IPP2", "age": null, "poids": 65, "actif": false, "ddn": "17/01/1950", "mixte": 1}

{"age": 12, "ipp": "IPP3", "mixte": "x", "vu": ""}
`
	res, err := e.importString(t, "cohort.jsonl", content, dataset.ImportOptions{Roles: map[string]dataset.Role{"ipp": dataset.RolePatientID}})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Version
	wantNames := []string{"ipp", "age", "poids", "actif", "ddn", "vu", "extra", "mixte"}
	if got := namesOf(v.Columns); !slices.Equal(got, wantNames) {
		t.Errorf("names = %q, want %q", got, wantNames)
	}
	if got, want := types(v.Columns), []dataset.Type{S, I, F, B, D, DT, S, S}; !slices.Equal(got, want) {
		t.Errorf("types = %v, want %v", got, want)
	}
	f, err := e.ds.ReadFrame(e.steward, v)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"IPP1", "54", "70.5", "true", "1970-01-02", "2024-01-01T09:00:00Z", `{"a":[1,2]}`, "∅"},
		{"IPP2", "∅", "65", "false", "1950-01-17", "∅", "∅", "1"},
		{"IPP3", "12", "∅", "∅", "∅", "∅", "∅", "x"},
	}
	if got := cells(f); !slices.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Errorf("content = %q, want %q", got, want)
	}

	errTests := []struct {
		name, content string
		want          []string
	}{
		{"not an object", "{\"a\":1}\n[1,2]\n", []string{"cohort.jsonl", "line 2", "not a JSON object"}},
		{"broken JSON", "{\"a\":1}\n{\"a\":\n", []string{"line 2", "not valid JSON"}},
		{"duplicate key", "{\"a\":1,\"a\":2}\n", []string{"line 1", `duplicate key "a"`}},
		{"two objects on a line", "{\"a\":1} {\"a\":2}\n", []string{"line 1", "more than one"}},
		{"invalid UTF-8", "{\"a\":\"\xff\"}\n", []string{"line 1", "UTF-8"}},
		{"declared type", "{\"a\":\"Dupont\"}\n", []string{"line 1", `column "a"`, "integer"}},
		{"no keys", "{}\n\n", []string{"no JSON object with keys"}},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			o := dataset.ImportOptions{Dataset: "bad"}
			if tt.name == "declared type" {
				o.Types = map[string]dataset.Type{"a": I}
			}
			_, err := e.importString(t, "cohort.jsonl", tt.content, o)
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Import = %v, want invalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs.MessageOf(err), w) {
					t.Errorf("message %q does not contain %q", errs.MessageOf(err), w)
				}
			}
			if strings.Contains(err.Error(), "Dupont") {
				t.Errorf("error shows a value: %v", err)
			}
		})
	}
}

func TestImportProgress(t *testing.T) {
	d := dbtest.SQLite(t)
	e := newEnv(t, d)
	var b strings.Builder
	b.WriteString("a,b\n")
	for i := range 50_000 {
		b.WriteString("row,")
		b.WriteString(strings.Repeat("1", 1+i%5))
		b.WriteString("\n")
	}
	var stages []string
	var last dataset.Progress
	_, err := e.ds.Import(e.steward, dataset.Stream("stdin", "csv", strings.NewReader(b.String())), dataset.ImportOptions{
		Project: "proj", Dataset: "progress", Level: dataset.Anonymized,
		Progress: func(p dataset.Progress) {
			if len(stages) == 0 || stages[len(stages)-1] != p.Stage {
				stages = append(stages, p.Stage)
			}
			if p.Done < 0 || (p.Total >= 0 && p.Done > p.Total) || p.Unit != "bytes" {
				t.Errorf("progress %+v", p)
			}
			last = p
		}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"read", "scan", "import"}; !slices.Equal(stages, want) {
		t.Errorf("stages = %q, want %q", stages, want)
	}
	if last.Done != int64(b.Len()) || last.Total != int64(b.Len()) {
		t.Errorf("last progress = %+v, want %d of %d bytes", last, b.Len(), b.Len())
	}
}

func TestImportRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		tests := []struct {
			name string
			ctx  context.Context
			o    dataset.ImportOptions
			want errs.Code
		}{
			{"scientist importing identifying data", e.scientist, dataset.ImportOptions{Level: dataset.Identifying}, errs.Forbidden},
			{"viewer", e.viewer, dataset.ImportOptions{Level: dataset.Pseudonymized}, errs.Forbidden},
			{"nobody", context.Background(), dataset.ImportOptions{Level: dataset.Pseudonymized}, errs.Unauthenticated},
			{"bad name", e.steward, dataset.ImportOptions{Level: dataset.Pseudonymized, Dataset: "Bad Name"}, errs.Invalid},
			{"bad level", e.steward, dataset.ImportOptions{Level: "public"}, errs.Invalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.o.Project = "proj"
				if tt.o.Dataset == "" {
					tt.o.Dataset = "refused"
				}
				// The source is never read: a reader that fails the test.
				_, err := e.ds.Import(tt.ctx, dataset.Stream("x.csv", "csv", failReader{t}), tt.o)
				if !errs.Is(err, tt.want) {
					t.Fatalf("Import = %v, want %s", err, tt.want)
				}
			})
		}
	})
}

type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("the source was read before the import was allowed")
	return 0, context.Canceled
}

func TestImportStreamCopyIsSealed(t *testing.T) {
	// A stream is copied to a temporary file: nothing of it may be readable there.
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	d := dbtest.SQLite(t)
	e := newEnv(t, d)
	const secret = "Dupont-Jeanne-2500175123456"
	var seen [][]byte
	_, err := e.ds.Import(e.steward, dataset.Stream("stdin", "csv", strings.NewReader("nom,x\n"+secret+",1\n")), dataset.ImportOptions{
		Project: "proj", Dataset: "sealed", Level: dataset.Identifying,
		Progress: func(p dataset.Progress) {
			// While the import runs, read every file open in the temporary
			// directory (removed from it as soon as created, where the system
			// allows: look for them among the open files).
			fds, _ := os.ReadDir("/proc/self/fd")
			for _, fd := range fds {
				target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
				if err != nil || !strings.HasPrefix(target, dir) {
					continue
				}
				if b, err := os.ReadFile(filepath.Join("/proc/self/fd", fd.Name())); err == nil {
					seen = append(seen, b)
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/proc/self/fd"); err == nil && len(seen) == 0 {
		t.Error("no temporary file seen")
	}
	for _, b := range seen {
		if bytes.Contains(b, []byte("Dupont")) {
			t.Fatal("a temporary file holds the content in clear")
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d temporary files left", len(entries))
	}
}

func TestImportDatetimeUTC(t *testing.T) {
	d := dbtest.SQLite(t)
	e := newEnv(t, d)
	res, err := e.importString(t, "t.csv", "t\n2024-03-31T01:30:00+02:00\n1969-12-31 23:59:59.999999\n", dataset.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.ds.ReadFrame(e.steward, res.Version)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{time.Date(2024, 3, 30, 23, 30, 0, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)}
	for i, w := range want {
		if got := time.UnixMicro(f.Vecs[0].I[i]).UTC(); !got.Equal(w) {
			t.Errorf("row %d = %v, want %v", i+1, got, w)
		}
	}
	_ = audit.Success
}

func TestImportRefusesUnconfirmedIdentifiers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		const csv = "nir,nom,poids\n1234567890123,Dupont,70\n"
		_, err := e.importString(t, "extract.csv", csv, dataset.ImportOptions{Level: dataset.Pseudonymized})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `"nir", "nom"`) || strings.Contains(err.Error(), "Dupont") {
			t.Fatalf("Import = %v, want a refusal naming the unconfirmed identifier columns", err)
		}
		if objs, _ := e.blobs.List(context.Background(), ""); len(objs) != 0 {
			t.Fatalf("%d blobs after a refused import", len(objs))
		}
		// Confirmed explicitly, or imported as identifying, it goes through.
		if _, err := e.importString(t, "extract.csv", csv, dataset.ImportOptions{Level: dataset.Identifying,
			Roles: map[string]dataset.Role{"nir": dataset.RoleDirectIdentifier, "nom": dataset.RoleDirectIdentifier}}); err != nil {
			t.Fatal(err)
		}
	})
}
