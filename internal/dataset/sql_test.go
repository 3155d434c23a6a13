package dataset_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
)

// warehouse returns the DSN of a fresh PostgreSQL schema holding a
// "sejours" table, standing for a clinical data warehouse.
func warehouse(t *testing.T) string {
	t.Helper()
	dsn := dbtest.PostgresURL(t)
	ctx := context.Background()
	w, err := db.Open(ctx, dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	stmts := []string{
		`CREATE TABLE sejours (
			ipp text, age smallint, n_actes integer, cout bigint, poids real, glycemie double precision, montant numeric(10,2),
			deces boolean, entree date, sortie timestamp, vu timestamptz, code char(5), service varchar(40), id uuid, extra jsonb, notes text[])`,
		`INSERT INTO sejours VALUES
			('IPP1', 54, 3, 123456789012, 70.5, 5.4, 1234.56, false, '2024-01-17', '2024-01-20 14:05:00', '2024-01-20 14:05:00+01', '01000', 'cardiologie',
			 '6ba7b810-9dad-11d1-80b4-00c04fd430c8', '{"a": 1}', '{x,y}'),
			('IPP2', NULL, NULL, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	}
	for _, s := range stmts {
		if _, err := w.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return dsn
}

func TestImportSQL(t *testing.T) {
	dsn := warehouse(t)
	e := newEnv(t, dbtest.SQLite(t))
	var progress []int64
	res, err := e.ds.Import(e.steward, dataset.Query(dsn, "SELECT * FROM sejours ORDER BY ipp"), dataset.ImportOptions{
		Project: "proj", Dataset: "sejours", Level: dataset.Identifying, Roles: map[string]dataset.Role{"ipp": dataset.RolePatientID},
		Progress: func(p dataset.Progress) {
			if p.Unit != "rows" || p.Total != -1 {
				t.Errorf("progress %+v", p)
			}
			progress = append(progress, p.Done)
		}})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Version
	wantTypes := []dataset.Type{S, I, I, I, F, F, F, B, D, DT, DT, S, S, S, S, S}
	if got := types(v.Columns); !slices.Equal(got, wantTypes) {
		t.Errorf("types = %v, want %v", got, wantTypes)
	}
	f, err := e.ds.ReadFrame(e.steward, v)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"IPP1", "54", "3", "123456789012", "70.5", "5.4", "1234.56", "false", "2024-01-17", "2024-01-20T14:05:00Z", "2024-01-20T13:05:00Z", "01000",
			"cardiologie", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", `{"a": 1}`, "{x,y}"},
		{"IPP2", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅"},
	}
	if got := cells(f); !equalRows(got, want) {
		t.Errorf("content =\n%q\nwant\n%q", got, want)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 2 {
		t.Errorf("progress = %v", progress)
	}
	if res.Suggested["age"] != dataset.RoleQuasiIdentifier {
		t.Errorf("suggested = %v", res.Suggested)
	}

	t.Run("declared types convert", func(t *testing.T) {
		res, err := e.ds.Import(e.steward, dataset.Query(dsn, "SELECT ipp, age, entree FROM sejours ORDER BY ipp"), dataset.ImportOptions{
			Project: "proj", Dataset: "typed", Level: dataset.Identifying,
			Types: map[string]dataset.Type{"age": F, "entree": DT, "ipp": dataset.TypeText}})
		if err != nil {
			t.Fatal(err)
		}
		if got := types(res.Version.Columns); !slices.Equal(got, []dataset.Type{dataset.TypeText, F, DT}) {
			t.Errorf("types = %v", got)
		}
		_, err = e.ds.Import(e.steward, dataset.Query(dsn, "SELECT ipp FROM sejours ORDER BY ipp"), dataset.ImportOptions{
			Project: "proj", Dataset: "typed2", Level: dataset.Identifying, Types: map[string]dataset.Type{"ipp": I}})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `row 1, column "ipp"`) || strings.Contains(err.Error(), "IPP1") {
			t.Errorf("Import with a wrong declared type = %v", err)
		}
	})
}

func TestImportSQLErrors(t *testing.T) {
	dsn := warehouse(t)
	e := newEnv(t, dbtest.SQLite(t))
	u, _ := url.Parse(dsn)
	withPassword := *u
	withPassword.User = url.UserPassword(u.User.Username(), "s3cr3t-pw")
	refused := *u
	refused.Host = "127.0.0.1:1"
	refused.User = url.UserPassword("hygie", "s3cr3t-pw")
	tests := []struct {
		name, dsn, query string
		want             []string
	}{
		{"syntax error", dsn, "SELEKT 1", []string{"SQL query", "syntax error", "42601"}},
		{"unknown table", dsn, "SELECT * FROM patients", []string{"SQL query", `"patients"`, "42P01"}},
		{"writes are refused", dsn, "INSERT INTO sejours (ipp) VALUES ('x') RETURNING ipp", []string{"read-only transaction"}},
		{"several statements", dsn, "SELECT 1; DROP TABLE sejours", []string{"SQL query"}},
		{"no columns", dsn, "CREATE TEMP TABLE x ()", []string{"SQL query"}},
		{"a cast fails", dsn, "SELECT CAST(ipp AS integer) FROM sejours ORDER BY ipp", []string{"SQL query", "invalid input syntax", "22P02"}},
		{"a cast fails after some rows", dsn, "SELECT CAST(CASE WHEN n > 1 THEN 'IPP1' ELSE '1' END AS integer) FROM generate_series(1, 20000) n", []string{"SQL query", "invalid input syntax"}},
		{"server refuses the connection", refused.String(), "SELECT 1", []string{"cannot connect", "127.0.0.1:1"}},
		{"unparsable connection string", "postgres://hygie:s3cr3t-pw@host:notaport/db", "SELECT 1", []string{"connection string does not parse"}},
		{"empty query", dsn, "", []string{"empty query"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.ds.Import(e.steward, dataset.Query(tt.dsn, tt.query), dataset.ImportOptions{Project: "proj", Dataset: "bad", Level: dataset.Identifying})
			if err == nil {
				t.Fatal("Import succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), u.Host) || strings.Contains(err.Error(), "notaport") {
				t.Errorf("error %q shows the connection string", err)
			}
			if strings.Contains(err.Error(), "IPP1") {
				t.Errorf("error %q shows a value", err)
			}
		})
	}
	if _, err := e.ds.Get(context.Background(), "proj", "bad", 0); !errs.Is(err, errs.NotFound) {
		t.Errorf("a failed import left a version: %v", err)
	}
	// The warehouse is untouched.
	w, err := db.Open(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var n int
	if err := w.QueryRow(context.Background(), `SELECT COUNT(*) FROM sejours`).Scan(&n); err != nil || n != 2 {
		t.Errorf("warehouse has %d rows (%v), want 2", n, err)
	}
}
