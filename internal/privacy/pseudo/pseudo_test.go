package pseudo_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/keys"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/project"
)

type env struct {
	d                  *db.DB
	audit              *audit.Log
	blobs              *blob.Memory
	keys               *keys.Keyring
	ds                 *dataset.Service
	ps                 *pseudo.Service
	steward, scientist context.Context
}

// newEnv creates projects "proj" and "other", a steward of both and a
// scientist of "proj".
func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	ctx := audit.WithActor(context.Background(), "admin")
	a := audit.New(d)
	kr, err := keys.New(keys.Random())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{d: d, audit: a, blobs: blob.NewMemory(), keys: kr}
	e.ds = dataset.NewService(d, e.blobs, kr, a)
	e.ps = pseudo.NewService(d, kr, e.ds, a)
	for _, p := range []string{"proj", "other"} {
		if _, err := project.NewService(d, a).Create(ctx, p, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	as := auth.NewService(d, a)
	sophie, err := as.CreateUser(ctx, "sophie", "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	sam, err := as.CreateUser(ctx, "sam", "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	e.steward = auth.WithPrincipal(context.Background(), &auth.Principal{UserID: sophie.ID, Username: "sophie",
		Roles: map[string][]auth.Role{"proj": {auth.RoleSteward}, "other": {auth.RoleSteward}}})
	e.scientist = auth.WithPrincipal(context.Background(), &auth.Principal{UserID: sam.ID, Username: "sam",
		Roles: map[string][]auth.Role{"proj": {auth.RoleScientist}}})
	return e
}

const cohortCSV = "ipp,nom,prenom,nir,date_naissance,sexe,code_postal,compte_rendu,glycemie\n" +
	"IPP001,Dupont,Jeanne,2500175123456,1950-01-17,F,75013,Mme Dupont vue ce jour,5.4\n" +
	"IPP002,Martin,Paul,1620375123456,1962-03-02,M,01000,RAS,7.1\n" +
	"IPP001,Dupont,Jeanne,2500175123456,1950-01-17,F,75013,,6.0\n"

// importIdentifying imports csv as an identifying version with the
// suggested roles (and compte_rendu as free text).
func (e *env) importIdentifying(t *testing.T, projectName, name, csv string) dataset.Version {
	t.Helper()
	header, _, _ := strings.Cut(csv, "\n")
	roles := dataset.SuggestRoles(strings.Split(header, ","))
	if strings.Contains(header, "compte_rendu") {
		roles["compte_rendu"] = dataset.RoleText
	}
	res, err := e.ds.Import(e.steward, dataset.Stream(name+".csv", "csv", strings.NewReader(csv)),
		dataset.ImportOptions{Project: projectName, Dataset: name, Level: dataset.Identifying, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return res.Version
}

// column returns a column's values as text.
func column(t *testing.T, f *dataset.Frame, name string) []string {
	t.Helper()
	v, err := f.Col(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, v.Len())
	for r := range out {
		out[r] = v.String(r)
	}
	return out
}

func TestPseudonymize(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		src := e.importIdentifying(t, "proj", "cohort", cohortCSV)
		res, err := e.ps.Pseudonymize(e.steward, src)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Created || res.Version.Level != dataset.Pseudonymized || res.Version.Dataset != "cohort_pseudo" || res.Version.Parent != "cohort@1" {
			t.Fatalf("result version = %+v, created %v", res.Version, res.Created)
		}
		if want := []string{"ipp"}; !slices.Equal(res.Pseudonymized, want) {
			t.Errorf("pseudonymized = %q, want %q", res.Pseudonymized, want)
		}
		if want := []string{"nom", "prenom", "nir", "compte_rendu"}; !slices.Equal(res.Dropped, want) {
			t.Errorf("dropped = %q, want %q", res.Dropped, want)
		}
		if want := []string{"date_naissance"}; !slices.Equal(res.Generalized, want) {
			t.Errorf("generalized = %q, want %q", res.Generalized, want)
		}
		out, err := e.ds.ReadFrame(e.scientist, res.Version)
		if err != nil {
			t.Fatalf("a scientist cannot read the pseudonymized version: %v", err)
		}
		if want := []string{"ipp", "date_naissance_annee", "sexe", "code_postal", "glycemie"}; !slices.Equal(out.Names(), want) {
			t.Fatalf("columns = %q, want %q", out.Names(), want)
		}
		ids := column(t, out, "ipp")
		checks := []struct {
			name string
			ok   bool
		}{
			{"same patient, same pseudonym", ids[0] == ids[2]},
			{"different patients, different pseudonyms", ids[0] != ids[1]},
			{"pseudonym does not contain the id", !strings.Contains(ids[0], "IPP001") && !strings.Contains(ids[0], "001") && !strings.Contains(ids[1], "002")},
			{"pseudonym is not empty", ids[0] != "" && ids[1] != ""},
			{"birth year only", slices.Equal(column(t, out, "date_naissance_annee"), []string{"1950", "1962", "1950"})},
			{"quasi-identifiers that are not dates are kept", slices.Equal(column(t, out, "sexe"), []string{"F", "M", "F"})},
			{"features are kept", slices.Equal(column(t, out, "glycemie"), []string{"5.4", "7.1", "6"})},
			{"codes keep their leading zeros", slices.Equal(column(t, out, "code_postal"), []string{"75013", "01000", "75013"})},
		}
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) {
				if !c.ok {
					t.Errorf("failed; output %v", out.ToTable().Rows)
				}
			})
		}
		for _, c := range res.Version.Columns {
			if c.Name == "ipp" && (c.Role != dataset.RolePatientID || c.Type != dataset.TypeString) {
				t.Errorf("ipp column = %v, want string patient_id", c)
			}
			if c.Name == "date_naissance_annee" && c.Type != dataset.TypeInteger {
				t.Errorf("year column = %v, want integer", c)
			}
		}

		t.Run("no identifying value stored in clear", func(t *testing.T) {
			objs, err := e.blobs.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				rc, _ := e.blobs.Get(ctx, o.Key)
				data, _ := io.ReadAll(rc)
				rc.Close()
				for _, s := range []string{"IPP001", "IPP002", "Dupont", "Jeanne", "2500175123456", "1950-01-17", "vue ce jour"} {
					if bytes.Contains(data, []byte(s)) {
						t.Errorf("blob %s holds %q", o.Key, s)
					}
				}
			}
			var recipe string
			d.QueryRow(ctx, `SELECT recipe FROM dataset_versions WHERE id = ?`, res.Version.ID).Scan(&recipe)
			if recipe == "" || strings.Contains(recipe, "IPP0") {
				t.Errorf("recipe = %q", recipe)
			}
		})

		t.Run("lineage", func(t *testing.T) {
			chain, err := e.ds.Lineage(ctx, res.Version)
			if err != nil || len(chain) != 2 || chain[1].ID != src.ID {
				t.Fatalf("Lineage = %v, %v", chain, err)
			}
		})

		t.Run("again gives the same version", func(t *testing.T) {
			again, err := e.ps.Pseudonymize(e.steward, src)
			if err != nil {
				t.Fatal(err)
			}
			if again.Created || again.Version.ID != res.Version.ID {
				t.Errorf("second run = version %d created %v, want version %d not created", again.Version.ID, again.Created, res.Version.ID)
			}
		})
	})
}

func TestPseudonymDomains(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		const other = "ipp,taille\nIPP002,180\nIPP001,165\n"
		pseudonyms := map[string]map[string]string{} // dataset@project → ipp → pseudonym
		for _, tc := range []struct{ project, name, csv string }{
			{"proj", "cohort", cohortCSV},
			{"proj", "mesures", other},
			{"other", "cohort", cohortCSV},
		} {
			src := e.importIdentifying(t, tc.project, tc.name, tc.csv)
			res, err := e.ps.Pseudonymize(e.steward, src)
			if err != nil {
				t.Fatal(err)
			}
			srcTab, err := e.ds.ReadFrame(e.steward, src)
			if err != nil {
				t.Fatal(err)
			}
			out, err := e.ds.ReadFrame(e.steward, res.Version)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]string{}
			for i, id := range column(t, srcTab, "ipp") {
				m[id] = column(t, out, "ipp")[i]
			}
			pseudonyms[tc.name+"@"+tc.project] = m
		}
		tests := []struct {
			name     string
			a, b     string
			wantSame bool
		}{
			{"same project, two extracts", "cohort@proj", "mesures@proj", true},
			{"two projects, same extract", "cohort@proj", "cohort@other", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, id := range []string{"IPP001", "IPP002"} {
					pa, pb := pseudonyms[tt.a][id], pseudonyms[tt.b][id]
					if pa == "" || pb == "" {
						t.Fatalf("%s: missing pseudonym (%q, %q)", id, pa, pb)
					}
					if (pa == pb) != tt.wantSame {
						t.Errorf("%s: %s → %s, %s → %s; want same = %v", id, tt.a, pa, tt.b, pb, tt.wantSame)
					}
				}
			})
		}
		var n int
		d.QueryRow(context.Background(), `SELECT COUNT(*) FROM secrets WHERE name = 'pseudonym-key'`).Scan(&n)
		if n != 2 {
			t.Errorf("%d pseudonym keys stored, want one per project (2)", n)
		}
	})
}

func TestPseudonymizeFailsClosed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		tests := []struct {
			name       string
			table      *dataset.Table
			want       []string // fragments of the message
			notInError []string
		}{
			{
				name: "empty patient id",
				table: &dataset.Table{
					Columns: []dataset.Column{{Name: "ipp", Type: dataset.TypeString, Role: dataset.RolePatientID}, {Name: "nom", Type: dataset.TypeString, Role: dataset.RoleDirectIdentifier}},
					Rows:    [][]string{{"IPP001", "Dupont"}, {"", "Martin"}, {"IPP003", "Durand"}},
				},
				want:       []string{"row 2", `column "ipp"`},
				notInError: []string{"Martin", "Dupont", "IPP00"},
			},
			{
				// Typed content cannot hold a value that is not a date in a date
				// column, so the risk is a birth date kept as text.
				name: "birth date typed as text",
				table: &dataset.Table{
					Columns: []dataset.Column{{Name: "ipp", Type: dataset.TypeString, Role: dataset.RolePatientID},
						{Name: "date_naissance", Type: dataset.TypeString, Role: dataset.RoleQuasiIdentifier}},
					Rows: [][]string{{"IPP001", "1950-01-17"}, {"IPP002", "vers 1950"}},
				},
				want:       []string{`column "date_naissance"`, "not typed as a date"},
				notInError: []string{"vers 1950", "1950-01-17", "IPP002"},
			},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				name := fmt.Sprintf("src%d", i)
				src, _, err := e.ds.Create(e.steward, dataset.NewVersion{Project: "proj", Dataset: name, Table: tt.table, Level: dataset.Identifying})
				if err != nil {
					t.Fatal(err)
				}
				_, err = e.ps.Pseudonymize(e.steward, src)
				if !errs.Is(err, errs.Invalid) {
					t.Fatalf("Pseudonymize = %v, want invalid", err)
				}
				msg := errs.MessageOf(err)
				for _, w := range tt.want {
					if !strings.Contains(msg, w) {
						t.Errorf("message %q does not name %q", msg, w)
					}
				}
				for _, s := range tt.notInError {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q shows the value %q", err, s)
					}
				}
				if _, err := e.ds.Get(context.Background(), "proj", name+"_pseudo", 0); !errs.Is(err, errs.NotFound) {
					t.Errorf("a version was created despite the error: %v", err)
				}
			})
		}
		if evs, _ := e.audit.List(context.Background(), audit.Filter{Action: "dataset.version.create", Limit: 100}); len(evs) != len(tests) {
			t.Errorf("%d versions created, want %d (the sources only)", len(evs), len(tests))
		}
	})
}

func TestPseudonymizeRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		src := e.importIdentifying(t, "proj", "cohort", cohortCSV)
		nonIdent, _, err := e.ds.Create(e.scientist, dataset.NewVersion{Project: "proj", Dataset: "bio",
			Table: &dataset.Table{Columns: []dataset.Column{{Name: "ipp", Type: dataset.TypeString, Role: dataset.RolePatientID}}, Rows: [][]string{{"PS1"}}},
			Level: dataset.Pseudonymized})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			ctx  context.Context
			src  dataset.Version
			want errs.Code
		}{
			{"non-identifying source", e.steward, nonIdent, errs.Invalid},
			{"scientist", e.scientist, src, errs.Forbidden},
			{"steward of another project only", auth.WithPrincipal(context.Background(), &auth.Principal{UserID: 1, Username: "sophie",
				Roles: map[string][]auth.Role{"other": {auth.RoleSteward}}}), src, errs.Forbidden},
			{"instance admin", auth.WithPrincipal(context.Background(), &auth.Principal{UserID: 1, Username: "root", Admin: true}), src, errs.Forbidden},
			{"nobody", context.Background(), src, errs.Unauthenticated},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := e.ps.Pseudonymize(tt.ctx, tt.src); !errs.Is(err, tt.want) {
					t.Fatalf("Pseudonymize = %v, want %s", err, tt.want)
				}
			})
		}
		var n int
		d.QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM secrets) + (SELECT COUNT(*) FROM datasets WHERE name LIKE '%pseudo%')`).Scan(&n)
		if n != 0 {
			t.Errorf("refused pseudonymizations left %d keys or datasets", n)
		}
	})
}

func TestProjectKeyStoredWrapped(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		src := e.importIdentifying(t, "proj", "cohort", cohortCSV)
		res, err := e.ps.Pseudonymize(e.steward, src)
		if err != nil {
			t.Fatal(err)
		}
		var pid int64
		var wrapped []byte
		if err := d.QueryRow(ctx, `SELECT s.project_id, s.wrapped FROM secrets s JOIN projects p ON p.id = s.project_id WHERE p.name = 'proj' AND s.name = 'pseudonym-key'`).Scan(&pid, &wrapped); err != nil {
			t.Fatal(err)
		}
		aad := []byte(fmt.Sprintf("project:%d:pseudonym-key", pid))
		key, err := e.keys.Unwrap(wrapped, aad)
		if err != nil {
			t.Fatalf("stored key does not open under the master key: %v", err)
		}
		out, err := e.ds.ReadFrame(e.steward, res.Version)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := keys.New(keys.Random())
		checks := []struct {
			name string
			ok   bool
		}{
			{"key is 32 bytes", len(key) == keys.Size},
			{"stored value is not the key", !bytes.Equal(wrapped, key)},
			{"stored value does not contain the key", !bytes.Contains(wrapped, key)},
			{"the unwrapped key made the pseudonyms", column(t, out, "ipp")[0] == pseudo.Pseudonym(key, "IPP001")},
			{"another master key cannot open it", func() bool { _, err := other.Unwrap(wrapped, aad); return err != nil }()},
			{"it cannot be moved to another project", func() bool {
				_, err := e.keys.Unwrap(wrapped, []byte(fmt.Sprintf("project:%d:pseudonym-key", pid+1)))
				return err != nil
			}()},
		}
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) {
				if !c.ok {
					t.Error("failed")
				}
			})
		}
		if evs, _ := e.audit.List(ctx, audit.Filter{Action: "pseudonym_key.create"}); len(evs) != 1 {
			t.Errorf("%d key-creation events, want 1", len(evs))
		}
		t.Run("another master key cannot pseudonymize", func(t *testing.T) {
			ds2 := dataset.NewService(d, e.blobs, other, e.audit)
			ps2 := pseudo.NewService(d, other, ds2, e.audit)
			if _, err := ps2.Pseudonymize(e.steward, src); err == nil {
				t.Fatal("succeeded under another master key")
			}
		})
	})
}

func TestPseudonym(t *testing.T) {
	k1, k2 := keys.Random(), keys.Random()
	tests := []struct {
		name     string
		a, b     string
		wantSame bool
	}{
		{"same key, same id", pseudo.Pseudonym(k1, "IPP001"), pseudo.Pseudonym(k1, "IPP001"), true},
		{"same key, other id", pseudo.Pseudonym(k1, "IPP001"), pseudo.Pseudonym(k1, "IPP002"), false},
		{"other key, same id", pseudo.Pseudonym(k1, "IPP001"), pseudo.Pseudonym(k2, "IPP001"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.a == tt.b) != tt.wantSame {
				t.Errorf("%q vs %q: want same = %v", tt.a, tt.b, tt.wantSame)
			}
			if !strings.HasPrefix(tt.a, "PS") || len(tt.a) != 22 || strings.Contains(tt.a, "IPP") {
				t.Errorf("pseudonym %q: want PS + 20 hex characters", tt.a)
			}
		})
	}
}

// The first pseudonymizations of a project, run at once, must agree on one key.
func TestProjectKeyConcurrentFirstUse(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		const n = 6
		srcs := make([]dataset.Version, n)
		for i := range srcs {
			srcs[i] = e.importIdentifying(t, "proj", fmt.Sprintf("extract%d", i), fmt.Sprintf("ipp,mesure\nIPP001,%d\n", i))
		}
		type result struct {
			res pseudo.Result
			err error
		}
		results := make(chan result, n)
		for _, src := range srcs {
			go func() {
				res, err := e.ps.Pseudonymize(e.steward, src)
				results <- result{res, err}
			}()
		}
		pseudonyms := map[string]bool{}
		for range n {
			r := <-results
			if r.err != nil {
				t.Fatalf("concurrent Pseudonymize: %v", r.err)
			}
			out, err := e.ds.ReadFrame(e.steward, r.res.Version)
			if err != nil {
				t.Fatal(err)
			}
			pseudonyms[column(t, out, "ipp")[0]] = true
		}
		if len(pseudonyms) != 1 {
			t.Errorf("IPP001 got %d different pseudonyms in one project, want 1", len(pseudonyms))
		}
	})
}

func TestPseudonymizeRefusesUnparsedBirthDates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		src := e.importIdentifying(t, "proj", "fr_dates", "ipp,date_naissance\nIPP001,janvier 1950\n")
		_, err := e.ps.Pseudonymize(e.steward, src)
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `"date_naissance"`) || strings.Contains(err.Error(), "1950") {
			t.Fatalf("Pseudonymize = %v, want invalid naming the column, not the value", err)
		}
	})
}

// Birth dates as French extracts write them, and datetimes, keep their year.
func TestPseudonymizeGeneralizesBirthDates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		imp, err := e.ds.Import(e.steward, dataset.Stream("fr_dates.csv", "", strings.NewReader("ipp;date_naissance;ddn_heure\nIPP001;17/01/1950;1950-01-17 04:30\nIPP002;;31/12/1969 23:59\n")),
			dataset.ImportOptions{Project: "proj", Dataset: "fr_dates", Level: dataset.Identifying, Roles: map[string]dataset.Role{
				"ipp": dataset.RolePatientID, "date_naissance": dataset.RoleQuasiIdentifier, "ddn_heure": dataset.RoleQuasiIdentifier}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.ps.Pseudonymize(e.steward, imp.Version)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.ds.ReadFrame(e.steward, res.Version)
		if err != nil {
			t.Fatal(err)
		}
		if got := column(t, out, "date_naissance_annee"); !slices.Equal(got, []string{"1950", ""}) {
			t.Errorf("date_naissance_annee = %q", got)
		}
		if got := column(t, out, "ddn_heure_annee"); !slices.Equal(got, []string{"1950", "1969"}) {
			t.Errorf("ddn_heure_annee = %q", got)
		}
	})
}
