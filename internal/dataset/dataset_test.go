package dataset_test

import (
	"bytes"
	"context"
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
	"github.com/hygie-health/hygie/internal/project"
)

// env is a project "proj" with a steward, a scientist and a viewer.
type env struct {
	d                          *db.DB
	audit                      *audit.Log
	blobs                      *blob.Memory
	keys                       *keys.Keyring
	ds                         *dataset.Service
	steward, scientist, viewer context.Context
}

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
	for _, p := range []string{"proj", "other"} {
		if _, err := project.NewService(d, a).Create(ctx, p, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	as := auth.NewService(d, a)
	as2ctx := func(name string, role auth.Role) context.Context {
		u, err := as.CreateUser(ctx, name, "", "", false)
		if err != nil {
			t.Fatal(err)
		}
		return auth.WithPrincipal(context.Background(), &auth.Principal{UserID: u.ID, Username: name, Roles: map[string][]auth.Role{"proj": {role}}})
	}
	e.steward = as2ctx("sophie", auth.RoleSteward)
	e.scientist = as2ctx("sam", auth.RoleScientist)
	e.viewer = as2ctx("victor", auth.RoleViewer)
	return e
}

const identifyingCSV = "ipp,nom,prenom,nir,date_naissance,sexe,glycemie\n" +
	"IPP001,Dupont,Jeanne,2500175123456,1950-01-17,F,5.4\n" +
	"IPP002,Martin,Paul,1620375123456,1962-03-02,M,7.1\n"

// identifying reads identifyingCSV with the suggested roles applied.
func identifying(t *testing.T) *dataset.Table {
	t.Helper()
	tab, err := dataset.ReadCSV(strings.NewReader(identifyingCSV), "cohort.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.SetRoles(dataset.SuggestRoles(tab.Names())); err != nil {
		t.Fatal(err)
	}
	return tab
}

func table(t *testing.T, csv string) *dataset.Table {
	t.Helper()
	tab, err := dataset.ReadCSV(strings.NewReader(csv), "test.csv")
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestCreateIsContentAddressed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		create := func(csv string, level dataset.Level) (dataset.Version, bool) {
			t.Helper()
			v, created, err := e.ds.Create(e.scientist, dataset.NewVersion{Project: "proj", Dataset: "bio", Table: table(t, csv), Level: level})
			if err != nil {
				t.Fatal(err)
			}
			return v, created
		}
		steps := []struct {
			name        string
			csv         string
			level       dataset.Level
			wantVersion int
			wantCreated bool
		}{
			{"first import", "ipp,glycemie\nPS1,5.4\n", dataset.Pseudonymized, 1, true},
			{"same content again", "ipp,glycemie\nPS1,5.4\n", dataset.Pseudonymized, 1, false},
			{"different content", "ipp,glycemie\nPS1,5.5\n", dataset.Pseudonymized, 2, true},
			{"first content once more", "ipp,glycemie\nPS1,5.4\n", dataset.Pseudonymized, 1, false},
			{"same content at another level", "ipp,glycemie\nPS1,5.4\n", dataset.Anonymized, 3, true},
		}
		digests := map[int]string{}
		for _, s := range steps {
			v, created := create(s.csv, s.level)
			if v.Version != s.wantVersion || created != s.wantCreated {
				t.Errorf("%s: version %d created=%v, want %d created=%v", s.name, v.Version, created, s.wantVersion, s.wantCreated)
			}
			if d, ok := digests[v.Version]; ok && d != v.Digest {
				t.Errorf("%s: version %d digest changed", s.name, v.Version)
			}
			digests[v.Version] = v.Digest
			if v.Rows != 1 || v.Project != "proj" || v.Dataset != "bio" || v.CreatedBy != "sam" || v.Encrypted {
				t.Errorf("%s: version = %+v", s.name, v)
			}
		}
		vs, err := e.ds.Versions(context.Background(), "proj", "bio")
		if err != nil {
			t.Fatal(err)
		}
		if got := len(vs); got != 3 || vs[0].Version != 3 {
			t.Fatalf("Versions = %d versions, newest %d; want 3, newest 3", got, vs[0].Version)
		}
		latest, err := e.ds.Get(context.Background(), "proj", "bio", 0)
		if err != nil || latest.Version != 3 {
			t.Fatalf("Get latest = %v, %v", latest.Version, err)
		}
		if _, err := e.ds.Get(context.Background(), "proj", "bio", 9); !errs.Is(err, errs.NotFound) {
			t.Errorf("Get missing version: %v", err)
		}
		// Blobs are content-addressed too: versions 1 and 3 share their content.
		objs, _ := e.blobs.List(context.Background(), "")
		if len(objs) != 2 {
			t.Errorf("blob store holds %d objects, want 2 (two distinct contents)", len(objs))
		}
		got, err := e.ds.Read(e.scientist, vs[1])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Rows[0], []string{"PS1", "5.5"}) {
			t.Errorf("Read version 2 = %q", got.Rows)
		}
		var n int
		d.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action = 'dataset.version.create'`).Scan(&n)
		if n != 3 {
			t.Errorf("%d dataset.version.create events, want 3", n)
		}
	})
}

func TestIdentifyingVersionsAccess(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		nv := dataset.NewVersion{Project: "proj", Dataset: "cohort", Table: identifying(t), Level: dataset.Identifying}
		for _, tc := range []struct {
			name string
			ctx  context.Context
			want errs.Code
		}{
			{"scientist", e.scientist, errs.Forbidden},
			{"viewer", e.viewer, errs.Forbidden},
			{"nobody", context.Background(), errs.Unauthenticated},
			{"steward of another project", auth.WithPrincipal(context.Background(), &auth.Principal{UserID: 1, Username: "sophie",
				Roles: map[string][]auth.Role{"other": {auth.RoleSteward}}}), errs.Forbidden},
			{"instance admin without a data role", auth.WithPrincipal(context.Background(), &auth.Principal{UserID: 1, Username: "root", Admin: true}), errs.Forbidden},
		} {
			t.Run("create as "+tc.name, func(t *testing.T) {
				if _, _, err := e.ds.Create(tc.ctx, nv); !errs.Is(err, tc.want) {
					t.Fatalf("Create = %v, want %s", err, tc.want)
				}
				if _, err := e.ds.Get(context.Background(), "proj", "cohort", 0); !errs.Is(err, errs.NotFound) {
					t.Fatalf("a refused Create left a version: %v", err)
				}
			})
		}
		v, created, err := e.ds.Create(e.steward, nv)
		if err != nil || !created {
			t.Fatalf("steward Create = %v, %v", created, err)
		}
		if !v.Encrypted || v.Level != dataset.Identifying {
			t.Fatalf("version = %+v, want encrypted identifying", v)
		}
		stored, err := e.ds.Get(context.Background(), "proj", "cohort", 1)
		if err != nil || !stored.Encrypted {
			t.Fatalf("Get = %+v, %v", stored, err)
		}

		reads := []struct {
			name    string
			ctx     context.Context
			want    errs.Code
			outcome string
		}{
			{"scientist", e.scientist, errs.Forbidden, audit.Denied},
			{"viewer", e.viewer, errs.Forbidden, audit.Denied},
			{"steward", e.steward, "", audit.Success},
		}
		for _, tc := range reads {
			t.Run("read as "+tc.name, func(t *testing.T) {
				before := countEvents(t, e.audit, "dataset.read_identifying")
				got, err := e.ds.Read(tc.ctx, stored)
				if errs.CodeOf(err) != tc.want {
					t.Fatalf("Read = %v, want code %q", err, tc.want)
				}
				if tc.want != "" && got != nil {
					t.Fatal("a refused Read returned content")
				}
				evs, err := e.audit.List(context.Background(), audit.Filter{Action: "dataset.read_identifying", Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				if n := countEvents(t, e.audit, "dataset.read_identifying"); n != before+1 {
					t.Fatalf("%d read events after the read, want %d", n, before+1)
				}
				ev := evs[0]
				if ev.Outcome != tc.outcome || ev.Actor != actorOf(tc.ctx) || ev.Project != "proj" || ev.Target != "dataset:cohort@1" {
					t.Errorf("audit event = %+v, want outcome %s by %s on dataset:cohort@1", ev, tc.outcome, actorOf(tc.ctx))
				}
				if strings.Contains(ev.Detail+ev.Reason+ev.Target, "Dupont") {
					t.Errorf("audit event holds an identifying value: %+v", ev)
				}
			})
		}
		if r, err := e.audit.Verify(context.Background()); err != nil || !r.OK {
			t.Fatalf("audit chain: %+v, %v", r, err)
		}
	})
}

func actorOf(ctx context.Context) string { return auth.FromContext(ctx).Username }

func countEvents(t *testing.T, a *audit.Log, action string) int {
	t.Helper()
	evs, err := a.List(context.Background(), audit.Filter{Action: action, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func TestIdentifyingContentEncryptedAtRest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		tab := identifying(t)
		v, _, err := e.ds.Create(e.steward, dataset.NewVersion{Project: "proj", Dataset: "cohort", Table: tab, Level: dataset.Identifying})
		if err != nil {
			t.Fatal(err)
		}
		objs, err := e.blobs.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 1 {
			t.Fatalf("blob store holds %d objects, want 1", len(objs))
		}
		secrets := []string{"2500175123456", "1620375123456", "Dupont", "Jeanne", "Martin", "IPP001", "1950-01-17", "ipp,nom"}
		for _, o := range objs {
			rc, err := e.blobs.Get(ctx, o.Key)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			for _, s := range secrets {
				if bytes.Contains(data, []byte(s)) {
					t.Errorf("blob %s holds %q in clear", o.Key, s)
				}
			}
		}
		// Nor does the database.
		var dataKey []byte
		var schema, recipe string
		if err := d.QueryRow(ctx, `SELECT data_key, schema_json, recipe FROM dataset_versions WHERE id = ?`, v.ID).Scan(&dataKey, &schema, &recipe); err != nil {
			t.Fatal(err)
		}
		if len(dataKey) == 0 {
			t.Error("no wrapped data key stored")
		}
		for _, s := range secrets[:6] {
			if strings.Contains(schema+recipe, s) {
				t.Errorf("database row holds %q", s)
			}
		}
		got, err := e.ds.Read(e.steward, v)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Columns, tab.Columns) {
			t.Errorf("columns = %v, want %v", got.Columns, tab.Columns)
		}
		if !slices.EqualFunc(got.Rows, tab.Rows, slices.Equal[[]string]) {
			t.Errorf("rows = %q, want %q", got.Rows, tab.Rows)
		}

		t.Run("another master key cannot read", func(t *testing.T) {
			other, _ := keys.New(keys.Random())
			ds2 := dataset.NewService(d, e.blobs, other, e.audit)
			if _, err := ds2.Read(e.steward, v); err == nil {
				t.Fatal("Read under another master key succeeded")
			} else if strings.Contains(err.Error(), "Dupont") {
				t.Fatalf("error holds content: %v", err)
			}
		})
		t.Run("tampered ciphertext is refused", func(t *testing.T) {
			rc, _ := e.blobs.Get(ctx, objs[0].Key)
			data, _ := io.ReadAll(rc)
			rc.Close()
			data[len(data)-1] ^= 1
			if _, err := e.blobs.Put(ctx, objs[0].Key, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.ds.Read(e.steward, v); err == nil {
				t.Fatal("Read of tampered content succeeded")
			}
		})
	})
}

func TestNonIdentifyingLevelsRefuseDirectIdentifiers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		tests := []struct {
			name    string
			level   dataset.Level
			roles   map[string]dataset.Role
			wantErr bool
		}{
			{"pseudonymized with a name", dataset.Pseudonymized, map[string]dataset.Role{"nom": dataset.RoleDirectIdentifier}, true},
			{"anonymized with a name", dataset.Anonymized, map[string]dataset.Role{"nom": dataset.RoleDirectIdentifier}, true},
			{"aggregate with a name", dataset.Aggregate, map[string]dataset.Role{"nom": dataset.RoleDirectIdentifier}, true},
			{"pseudonymized with quasi-identifiers", dataset.Pseudonymized, map[string]dataset.Role{"nom": dataset.RoleQuasiIdentifier}, false},
			{"pseudonymized with a pseudonymous patient id", dataset.Pseudonymized, map[string]dataset.Role{"ipp": dataset.RolePatientID}, false},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tab := table(t, "ipp,nom\nPS1,Dupont\n")
				if err := tab.SetRoles(tt.roles); err != nil {
					t.Fatal(err)
				}
				name := "ds" + string(rune('a'+i))
				_, _, err := e.ds.Create(e.steward, dataset.NewVersion{Project: "proj", Dataset: name, Table: tab, Level: tt.level})
				if !tt.wantErr {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `"nom"`) {
					t.Fatalf("Create = %v, want invalid naming column nom", err)
				}
				if strings.Contains(err.Error(), "Dupont") {
					t.Errorf("error shows a value: %v", err)
				}
				if _, err := e.ds.Get(context.Background(), "proj", name, 0); !errs.Is(err, errs.NotFound) {
					t.Errorf("refused version exists: %v", err)
				}
			})
		}
		// The two accepted versions differ by their roles, recorded in the
		// content; refused ones store nothing.
		if objs, _ := e.blobs.List(context.Background(), ""); len(objs) != 2 {
			t.Errorf("%d blobs stored, want 2", len(objs))
		}
	})
}

func TestCreateRejectsInvalidInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		good := func() *dataset.Table { return table(t, "a\n1\n") }
		tests := []struct {
			name string
			nv   dataset.NewVersion
			want errs.Code
		}{
			{"empty name", dataset.NewVersion{Project: "proj", Dataset: "", Table: good(), Level: dataset.Pseudonymized}, errs.Invalid},
			{"upper case", dataset.NewVersion{Project: "proj", Dataset: "Cohort", Table: good(), Level: dataset.Pseudonymized}, errs.Invalid},
			{"leading digit", dataset.NewVersion{Project: "proj", Dataset: "1cohort", Table: good(), Level: dataset.Pseudonymized}, errs.Invalid},
			{"space", dataset.NewVersion{Project: "proj", Dataset: "my cohort", Table: good(), Level: dataset.Pseudonymized}, errs.Invalid},
			{"path", dataset.NewVersion{Project: "proj", Dataset: "../cohort", Table: good(), Level: dataset.Pseudonymized}, errs.Invalid},
			{"slash", dataset.NewVersion{Project: "proj", Dataset: "a/b", Table: good(), Level: dataset.Pseudonymized}, errs.Invalid},
			{"too long", dataset.NewVersion{Project: "proj", Dataset: "a" + strings.Repeat("b", 63), Table: good(), Level: dataset.Pseudonymized}, errs.Invalid},
			{"empty level", dataset.NewVersion{Project: "proj", Dataset: "cohort", Table: good(), Level: ""}, errs.Invalid},
			{"unknown level", dataset.NewVersion{Project: "proj", Dataset: "cohort", Table: good(), Level: "public"}, errs.Invalid},
			{"level in capitals", dataset.NewVersion{Project: "proj", Dataset: "cohort", Table: good(), Level: "Pseudonymized"}, errs.Invalid},
			{"no columns", dataset.NewVersion{Project: "proj", Dataset: "cohort", Table: &dataset.Table{}, Level: dataset.Pseudonymized}, errs.Invalid},
			{"ragged table", dataset.NewVersion{Project: "proj", Dataset: "cohort", Table: &dataset.Table{Columns: cols("a", "b"), Rows: [][]string{{"1"}}}, Level: dataset.Pseudonymized}, errs.Invalid},
			{"viewer cannot write", dataset.NewVersion{Project: "proj", Dataset: "cohort", Table: good(), Level: dataset.Pseudonymized}, errs.Forbidden},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := e.steward
				if tt.name == "viewer cannot write" {
					ctx = e.viewer
				}
				if _, _, err := e.ds.Create(ctx, tt.nv); !errs.Is(err, tt.want) {
					t.Fatalf("Create = %v, want %s", err, tt.want)
				}
			})
		}
		var n int
		d.QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM datasets) + (SELECT COUNT(*) FROM dataset_versions)`).Scan(&n)
		if n != 0 {
			t.Errorf("%d dataset rows after refused creates, want 0", n)
		}
		if objs, _ := e.blobs.List(context.Background(), ""); len(objs) != 0 {
			t.Errorf("%d blobs after refused creates, want 0", len(objs))
		}
		if _, _, err := e.ds.Create(e.steward, dataset.NewVersion{Project: "nope", Dataset: "cohort", Table: good(), Level: dataset.Pseudonymized}); err == nil {
			t.Error("Create in an unknown project succeeded")
		}
		if _, _, err := e.ds.Create(e.steward, dataset.NewVersion{Project: "proj", Dataset: "a" + strings.Repeat("b", 62), Table: good(), Level: dataset.Pseudonymized}); err != nil {
			t.Errorf("63-character name: %v", err)
		}
	})
}

func TestLineage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		root, _, err := e.ds.Create(e.steward, dataset.NewVersion{Project: "proj", Dataset: "cohort", Table: identifying(t), Level: dataset.Identifying})
		if err != nil {
			t.Fatal(err)
		}
		mid, _, err := e.ds.Create(e.steward, dataset.NewVersion{Project: "proj", Dataset: "cohort_pseudo", Table: table(t, "ipp,age\nPS1,54\n"),
			Level: dataset.Pseudonymized, Parent: &root, Recipe: "pseudonymize"})
		if err != nil {
			t.Fatal(err)
		}
		leaf, _, err := e.ds.Create(e.scientist, dataset.NewVersion{Project: "proj", Dataset: "cohort_anon", Table: table(t, "age\n54\n"),
			Level: dataset.Anonymized, Parent: &mid, Recipe: "drop ipp"})
		if err != nil {
			t.Fatal(err)
		}
		if leaf.Parent != "cohort_pseudo@1" {
			t.Errorf("Create's Parent = %q", leaf.Parent)
		}
		stored, err := e.ds.ByID(context.Background(), leaf.ID)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			of   dataset.Version
			want []string
		}{
			{"leaf", stored, []string{"cohort_anon@1", "cohort_pseudo@1", "cohort@1"}},
			{"middle", mid, []string{"cohort_pseudo@1", "cohort@1"}},
			{"root", root, []string{"cohort@1"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				chain, err := e.ds.Lineage(context.Background(), tt.of)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, v := range chain {
					got = append(got, v.Ref())
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("Lineage = %q, want %q", got, tt.want)
				}
			})
		}
		if stored.Parent != "cohort_pseudo@1" || stored.Recipe != "drop ipp" || stored.ParentID == nil || *stored.ParentID != mid.ID {
			t.Errorf("stored leaf = %+v", stored)
		}
		list, err := e.ds.List(context.Background(), "proj")
		if err != nil || len(list) != 3 {
			t.Fatalf("List = %d, %v", len(list), err)
		}
	})
}

func TestReadNonIdentifying(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		v, _, err := e.ds.Create(e.scientist, dataset.NewVersion{Project: "proj", Dataset: "bio", Table: table(t, "x\n1\n\n"), Level: dataset.Anonymized})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			ctx  context.Context
			want errs.Code
		}{
			{"scientist", e.scientist, ""},
			{"steward", e.steward, ""},
			{"viewer", e.viewer, errs.Forbidden},
			{"nobody", context.Background(), errs.Unauthenticated},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := e.ds.Read(tc.ctx, v); errs.CodeOf(err) != tc.want {
					t.Fatalf("Read = %v, want %q", err, tc.want)
				}
			})
		}
		if n := countEvents(t, e.audit, "dataset.read_identifying"); n != 0 {
			t.Errorf("%d identifying-read events for an anonymized version", n)
		}
	})
}

// A one-column table with missing values must keep all its rows.
func TestOneColumnMissingValuesSurviveStorage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		tab := &dataset.Table{Columns: []dataset.Column{{Name: "ipp", Type: dataset.TypeString, Role: dataset.RolePatientID}}, Rows: [][]string{{"IPP1"}, {""}, {"IPP3"}}}
		for _, level := range []dataset.Level{dataset.Identifying, dataset.Pseudonymized} {
			t.Run(string(level), func(t *testing.T) {
				v, _, err := e.ds.Create(e.steward, dataset.NewVersion{Project: "proj", Dataset: "ids-" + string(level), Table: tab, Level: level})
				if err != nil {
					t.Fatal(err)
				}
				got, err := e.ds.Read(e.steward, v)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Rows) != v.Rows || !slices.EqualFunc(got.Rows, tab.Rows, slices.Equal[[]string]) {
					t.Fatalf("Read = %q (version says %d rows), want %q", got.Rows, v.Rows, tab.Rows)
				}
			})
		}
	})
}

// Concurrent imports of the same content must still give one version.
func TestCreateConcurrentSameContent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		const n = 8
		type result struct {
			v       dataset.Version
			created bool
			err     error
		}
		results := make(chan result, n)
		for range n {
			tab := table(t, "ipp,glycemie\nPS1,5.4\n")
			go func() {
				v, created, err := e.ds.Create(e.scientist, dataset.NewVersion{Project: "proj", Dataset: "bio", Table: tab, Level: dataset.Pseudonymized})
				results <- result{v, created, err}
			}()
		}
		created := 0
		for range n {
			r := <-results
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.v.Version != 1 {
				t.Errorf("got version %d, want 1", r.v.Version)
			}
			if r.created {
				created++
			}
		}
		if created != 1 {
			t.Errorf("%d calls report creating the version, want 1", created)
		}
		if vs, _ := e.ds.Versions(context.Background(), "proj", "bio"); len(vs) != 1 {
			t.Errorf("%d versions of identical content, want 1", len(vs))
		}
	})
}
