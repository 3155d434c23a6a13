package pseudo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/keys"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/privacy/vault"
)

func TestFormat(t *testing.T) {
	key := keys.Random()
	tests := []struct {
		name   string
		f      pseudo.Format
		length int
		valid  bool
	}{
		{"legacy", pseudo.LegacyFormat, 22, true},
		{"default with check", pseudo.DefaultFormat, 18, true},
		{"digits with check", pseudo.Format{Prefix: "N", Length: 20, Alphabet: "digits", Check: true}, 22, true},
		{"custom alphabet", pseudo.Format{Length: 40, Alphabet: "ACGT"}, 40, true},
		{"too short", pseudo.Format{Length: 8, Alphabet: "hex"}, 0, false},
		{"duplicate characters", pseudo.Format{Length: 80, Alphabet: "aab"}, 0, false},
		{"bad prefix", pseudo.Format{Prefix: "a b", Length: 20, Alphabet: "hex"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			if (err == nil) != tt.valid {
				t.Fatalf("Validate = %v, want valid %v", err, tt.valid)
			}
			if !tt.valid {
				return
			}
			p := tt.f.Make(key, "IPP001")
			if len([]rune(p)) != tt.length || !strings.HasPrefix(p, tt.f.Prefix) || p != tt.f.Make(key, "IPP001") || p == tt.f.Make(key, "IPP002") {
				t.Fatalf("Make = %q (len %d, want %d)", p, len(p), tt.length)
			}
			if !tt.f.Valid(p) {
				t.Errorf("Valid(%q) = false", p)
			}
			if tt.f.Check {
				// Any single changed character is caught by the check character.
				rs := []rune(p)
				for i := len([]rune(tt.f.Prefix)); i < len(rs); i++ {
					for _, c := range "0123456789ABCDEFGHJKMNPQRSTVWXYZ" {
						if c == rs[i] {
							continue
						}
						m := append([]rune(nil), rs...)
						m[i] = c
						if tt.f.Valid(string(m)) && strings.ContainsRune(string(rs), c) {
							t.Fatalf("mistyped %q accepted", string(m))
						}
					}
				}
			}
		})
	}
	if pseudo.LegacyFormat.Make(key, "x") != pseudo.Pseudonym(key, "x") {
		t.Error("Pseudonym is not the legacy format")
	}
}

func TestDateOffset(t *testing.T) {
	key := keys.Random()
	tests := []struct {
		name                   string
		max                    int
		allowZero, keepWeekday bool
	}{{"default", 365, false, false}, {"weekday", 365, false, true}, {"small", 1, false, false}, {"zero allowed", 3, true, false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[int]bool{}
			for i := range 500 {
				id := "IPP" + string(rune('A'+i%26)) + strings.Repeat("x", i/26)
				o := pseudo.DateOffset(key, id, tt.max, tt.allowZero, tt.keepWeekday)
				if o != pseudo.DateOffset(key, id, tt.max, tt.allowZero, tt.keepWeekday) {
					t.Fatal("offset not stable")
				}
				if o < -tt.max || o > tt.max || (o == 0 && !tt.allowZero) || (tt.keepWeekday && o%7 != 0) {
					t.Fatalf("offset %d out of policy", o)
				}
				seen[o] = true
			}
			if len(seen) < 2 {
				t.Errorf("offsets not spread: %v", seen)
			}
		})
	}
}

// reidentifier returns a context of a user with the reidentifier role on proj.
func (e *env) reidentifier(t *testing.T, name string) context.Context {
	t.Helper()
	u, err := auth.NewService(e.d, e.audit).CreateUser(audit.WithActor(context.Background(), "admin"), name, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	return auth.WithPrincipal(context.Background(), &auth.Principal{UserID: u.ID, Username: name, Roles: map[string][]auth.Role{"proj": {auth.RoleReidentifier}}})
}

const notesCSV = "ipp,nom,prenom,date_naissance,date_entree,date_sortie,age,compte_rendu\n" +
	"IPP001,Zorglubian,Jeanne,1950-01-17,2024-03-01,2024-03-11,96,Patiente Zorglubian vue le 01/03/2024 pour douleur.\n" +
	"IPP002,Martin,Paul,1962-03-02,2024-05-06,2024-05-08,61,RAS\n" +
	"IPP001,Zorglubian,Jeanne,1950-01-17,2024-06-01,2024-06-02,96,\n"

func (e *env) importNotes(t *testing.T, project, name string) dataset.Version {
	t.Helper()
	res, err := e.ds.Import(e.steward, dataset.Stream(name+".csv", "csv", strings.NewReader(notesCSV)),
		dataset.ImportOptions{Project: project, Dataset: name, Level: dataset.Identifying, Roles: map[string]dataset.Role{
			"ipp": dataset.RolePatientID, "nom": dataset.RoleDirectIdentifier, "prenom": dataset.RoleDirectIdentifier,
			"date_naissance": dataset.RoleQuasiIdentifier, "date_entree": dataset.RoleDate, "date_sortie": dataset.RoleDate,
			"age": dataset.RoleQuasiIdentifier, "compte_rendu": dataset.RoleText}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Version
}

func TestPseudonymizeWithSpec(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		src := e.importNotes(t, "proj", "notes")
		spec, err := pseudo.ParseSpec([]byte("domain: research\ndates: shift\nkeep_weekday: true\ntext: mask\nage_cap: 89\n"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.ps.PseudonymizeWith(e.steward, src, spec)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.ds.ReadFrame(e.steward, res.Version)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := e.ds.ReadFrame(e.steward, src)
		days := func(f *dataset.Frame, col string, r int) int64 { v, _ := f.Col(col); return v.I[r] }
		ids := column(t, out, "ipp")
		notes := column(t, out, "compte_rendu")
		checks := []struct {
			name string
			ok   bool
		}{
			{"pseudonyms in the domain format", pseudo.DefaultFormat.Valid(ids[0]) && ids[0] == ids[2] && ids[0] != ids[1]},
			{"names dropped", !strings.Contains(strings.Join(out.Names(), ","), "nom")},
			{"dates shifted", days(out, "date_entree", 0) != days(in, "date_entree", 0)},
			{"intervals kept", days(out, "date_sortie", 0)-days(out, "date_entree", 0) == 10 && days(out, "date_entree", 2)-days(out, "date_entree", 0) == days(in, "date_entree", 2)-days(in, "date_entree", 0)},
			{"one offset per patient", days(out, "date_naissance", 0)-days(in, "date_naissance", 0) == days(out, "date_entree", 2)-days(in, "date_entree", 2)},
			{"weekday kept", (days(out, "date_entree", 1)-days(in, "date_entree", 1))%7 == 0},
			{"age top-coded", strings.Join(column(t, out, "age"), ",") == "90,61,90"},
			{"identity masked in text though the model does not know it", !strings.Contains(notes[0], "Zorglubian") && strings.Contains(notes[0], "[NOM]")},
			{"date in text shifted with the patient's offset", !strings.Contains(notes[0], "01/03/2024") && strings.Contains(notes[0], dataset.DateFromDays(days(out, "date_entree", 0)).Format("02/01/2006"))},
			{"result lists", len(res.Shifted) == 3 && len(res.TopCoded) == 1 && len(res.Deidentified) == 1 && res.VaultEntries == 2},
		}
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) {
				if !c.ok {
					t.Errorf("failed: %v %v", out.ToTable().Rows, res)
				}
			})
		}

		t.Run("stable across extracts, unlinkable across domains and projects", func(t *testing.T) {
			again := e.importNotes(t, "proj", "notes2")
			r2, err := e.ps.PseudonymizeWith(e.steward, again, spec)
			if err != nil {
				t.Fatal(err)
			}
			o2, _ := e.ds.ReadFrame(e.steward, r2.Version)
			if column(t, o2, "ipp")[0] != ids[0] {
				t.Error("another extract got another pseudonym")
			}
			def, err := e.ps.PseudonymizeWith(e.steward, again, pseudo.Spec{Domain: "other-domain", OutputName: "notes_other"})
			if err != nil {
				t.Fatal(err)
			}
			o3, _ := e.ds.ReadFrame(e.steward, def.Version)
			osrc := e.importNotes(t, "other", "notes")
			r4, err := e.ps.PseudonymizeWith(e.steward, osrc, spec)
			if err != nil {
				t.Fatal(err)
			}
			o4, _ := e.ds.ReadFrame(e.steward, r4.Version)
			if column(t, o3, "ipp")[0] == ids[0] || column(t, o4, "ipp")[0] == ids[0] {
				t.Error("domains or projects are linkable")
			}
		})

		t.Run("a domain keeps its format", func(t *testing.T) {
			other := spec
			other.Format = &pseudo.Format{Length: 30, Alphabet: "hex"}
			if _, err := e.ps.PseudonymizeWith(e.steward, src, other); !errs.Is(err, errs.Conflict) {
				t.Errorf("format change = %v, want conflict", err)
			}
		})

		t.Run("vault", func(t *testing.T) {
			v := e.ps.Vault()
			v.HourlyLimit = 3
			rita := e.reidentifier(t, "rita")
			reason := "contact patient for incidental finding"
			tests := []struct {
				name string
				ctx  context.Context
				req  vault.Request
				want errs.Code
			}{
				{"steward is not a reidentifier", e.steward, vault.Request{Project: "proj", Pseudonym: ids[0], Reason: reason}, errs.Forbidden},
				{"scientist", e.scientist, vault.Request{Project: "proj", Pseudonym: ids[0], Reason: reason}, errs.Forbidden},
				{"no reason", rita, vault.Request{Project: "proj", Pseudonym: ids[0], Reason: "  "}, errs.Invalid},
				{"short reason", rita, vault.Request{Project: "proj", Pseudonym: ids[0], Reason: "why"}, errs.Invalid},
				{"unknown pseudonym", rita, vault.Request{Project: "proj", Pseudonym: "PNOPE", Reason: reason}, errs.NotFound},
				{"another project's vault", rita, vault.Request{Project: "other", Pseudonym: ids[0], Reason: reason}, errs.Forbidden},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if _, err := v.Reidentify(tt.ctx, tt.req); !errs.Is(err, tt.want) {
						t.Fatalf("Reidentify = %v, want %s", err, tt.want)
					}
				})
			}
			op, err := v.Reidentify(rita, vault.Request{Project: "proj", Pseudonym: ids[0], Reason: reason})
			if err != nil || op.Original != "IPP001" || op.Domain != "research" {
				t.Fatalf("Reidentify = %+v, %v", op, err)
			}
			evs, _ := e.audit.List(context.Background(), audit.Filter{Action: "vault.reidentify", Limit: 100})
			var ok int
			for _, ev := range evs {
				if strings.Contains(ev.Detail+ev.Target+ev.Reason, "IPP001") {
					t.Errorf("audit event shows the original: %+v", ev)
				}
				if ev.Outcome == audit.Success && ev.Reason == reason && ev.Actor == "rita" {
					ok++
				}
			}
			if ok != 1 {
				t.Errorf("%d audited openings with the reason, want 1: %+v", ok, evs)
			}
			// rita used 2 of 3 (unknown pseudonym, success): one more, then refused.
			if _, err := v.Reidentify(rita, vault.Request{Project: "proj", Pseudonym: ids[1], Reason: reason}); err != nil {
				t.Fatal(err)
			}
			_, err = v.Reidentify(rita, vault.Request{Project: "proj", Pseudonym: ids[1], Reason: reason})
			if !errs.Is(err, errs.RateLimited) || !strings.Contains(errs.MessageOf(err), "limit") {
				t.Fatalf("over the limit = %v, want rate_limited", err)
			}
			v.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
			defer v.SetClock(time.Now)
			if _, err := v.Reidentify(rita, vault.Request{Project: "proj", Pseudonym: ids[1], Reason: reason}); err != nil {
				t.Fatalf("next hour: %v", err)
			}
		})

		t.Run("master key rotation keeps pseudonyms", func(t *testing.T) {
			next, _ := keys.New(keys.Random())
			admin := auth.WithPrincipal(context.Background(), &auth.Principal{UserID: 1, Username: "root", Admin: true})
			if _, err := vault.RotateMaster(e.steward, d, e.audit, e.keys, next); !errs.Is(err, errs.Forbidden) {
				t.Fatalf("steward rotation = %v, want forbidden", err)
			}
			rep, err := vault.RotateMaster(admin, d, e.audit, e.keys, next)
			if err != nil || rep.Secrets < 3 || rep.DataKeys == 0 {
				t.Fatalf("RotateMaster = %+v, %v", rep, err)
			}
			ds2 := dataset.NewService(d, e.blobs, next, e.audit)
			ps2 := pseudo.NewService(d, next, ds2, e.audit)
			// A Version carries its wrapped data key: read it again.
			src, err := ds2.Get(context.Background(), "proj", "notes", 1)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ps2.PseudonymizeWith(e.steward, src, spec)
			if err != nil {
				t.Fatal(err)
			}
			o, _ := ds2.ReadFrame(e.steward, r.Version)
			if column(t, o, "ipp")[0] != ids[0] || r.Version.ID != res.Version.ID {
				t.Error("pseudonyms changed with the master key")
			}
			rita2 := auth.WithPrincipal(context.Background(), &auth.Principal{UserID: 99, Username: "rita2", Roles: map[string][]auth.Role{"proj": {auth.RoleReidentifier}}})
			if op, err := ps2.Vault().Reidentify(rita2, vault.Request{Project: "proj", Pseudonym: ids[0], Reason: "audit of the rotation"}); err != nil || op.Original != "IPP001" {
				t.Errorf("vault after rotation = %+v, %v", op, err)
			}
			if _, err := e.ps.PseudonymizeWith(e.steward, src, spec); err == nil {
				t.Error("the old master key still opens the domain key")
			}
			if _, err := e.ds.ReadFrame(e.steward, src); err == nil {
				t.Error("the old master key still opens the identifying version")
			}
		})
	})
}

func TestPseudonymizeWithFailsClosed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		tests := []struct {
			name  string
			table *dataset.Table
			spec  pseudo.Spec
			want  []string
		}{
			{"dates to shift without patient", &dataset.Table{Columns: []dataset.Column{{Name: "d", Type: dataset.TypeDate, Role: dataset.RoleDate}}, Rows: [][]string{{"2024-01-01"}}},
				pseudo.Spec{Dates: "shift"}, []string{"patient_id"}},
			{"blank patient id", &dataset.Table{Columns: []dataset.Column{{Name: "ipp", Type: dataset.TypeString, Role: dataset.RolePatientID}, {Name: "d", Type: dataset.TypeDate, Role: dataset.RoleDate}},
				Rows: [][]string{{"IPP9", "2024-01-01"}, {"  ", "2024-01-01"}}}, pseudo.Spec{Dates: "shift"}, []string{"row 2", `column "ipp"`}},
			{"age as text", &dataset.Table{Columns: []dataset.Column{{Name: "ipp", Type: dataset.TypeString, Role: dataset.RolePatientID}, {Name: "age", Type: dataset.TypeString, Role: dataset.RoleQuasiIdentifier}},
				Rows: [][]string{{"IPP9", "92 ans"}}}, pseudo.Spec{}, []string{`column "age"`, "not numeric"}},
			{"text too long", &dataset.Table{Columns: []dataset.Column{{Name: "ipp", Type: dataset.TypeString, Role: dataset.RolePatientID}, {Name: "cr", Type: dataset.TypeString, Role: dataset.RoleText}},
				Rows: [][]string{{"IPP9", "ok"}, {"IPP8", strings.Repeat("Dupont ", 200000)}}}, pseudo.Spec{Text: "mask"}, []string{"row 2", `column "cr"`}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				name := "src" + string(rune('a'+i))
				src, _, err := e.ds.Create(e.steward, dataset.NewVersion{Project: "proj", Dataset: name, Table: tt.table, Level: dataset.Identifying})
				if err != nil {
					t.Fatal(err)
				}
				_, err = e.ps.PseudonymizeWith(e.steward, src, tt.spec)
				if !errs.Is(err, errs.Invalid) {
					t.Fatalf("= %v, want invalid", err)
				}
				for _, w := range tt.want {
					if !strings.Contains(errs.MessageOf(err), w) {
						t.Errorf("%q does not name %q", errs.MessageOf(err), w)
					}
				}
				if strings.Contains(err.Error(), "IPP") || strings.Contains(err.Error(), "92 ans") || strings.Contains(err.Error(), "Dupont") {
					t.Errorf("error shows a value: %v", err)
				}
				if _, err := e.ds.Get(context.Background(), "proj", name+"_pseudo", 0); !errs.Is(err, errs.NotFound) {
					t.Errorf("a version was created: %v", err)
				}
			})
		}
		for _, bad := range []string{"dates: sometimes\n", "nope: 1\n", "format: {length: 4, alphabet: hex}\n", "domain: Bad Name\n", `{"text": "shout"}`} {
			if _, err := pseudo.ParseSpec([]byte(bad)); !errs.Is(err, errs.Invalid) {
				t.Errorf("ParseSpec(%q) = %v, want invalid", bad, err)
			}
		}
	})
}
