package risk_test

import (
	"context"
	"math"
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
	"github.com/hygie-health/hygie/internal/privacy/risk"
	"github.com/hygie-health/hygie/internal/project"
)

const small = `patient_id,nom,sexe,annee,diag
P1,Durand,F,1980,A
P2,Martin,F,1980,B
P3,Petit,F,1980,A
P4,Leroy,M,1980,A
P5,Moreau,M,1990,B
P6,Simon,M,1990,B
`

func TestOfVersion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := audit.WithActor(context.Background(), "admin")
		a := audit.New(d)
		kr, err := keys.New(keys.Random())
		if err != nil {
			t.Fatal(err)
		}
		ds := dataset.NewService(d, blob.NewMemory(), kr, a)
		if _, err := project.NewService(d, a).Create(ctx, "proj", "", ""); err != nil {
			t.Fatal(err)
		}
		as := func(name string, role auth.Role) context.Context {
			return auth.WithPrincipal(audit.WithActor(context.Background(), name), &auth.Principal{Username: name, Roles: map[string][]auth.Role{"proj": {role}}})
		}
		steward, scientist, viewer := as("sam", auth.RoleSteward), as("alice", auth.RoleScientist), as("victor", auth.RoleViewer)
		create := func(level dataset.Level, text string, roles map[string]dataset.Role) dataset.Version {
			tab, err := dataset.ReadCSV(strings.NewReader(text), "small.csv")
			if err != nil {
				t.Fatal(err)
			}
			if err := tab.SetRoles(roles); err != nil {
				t.Fatal(err)
			}
			v, _, err := ds.Create(steward, dataset.NewVersion{Project: "proj", Dataset: "small_" + string(level), Table: tab, Level: level})
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		roles := map[string]dataset.Role{"patient_id": dataset.RolePatientID, "nom": dataset.RoleDirectIdentifier,
			"sexe": dataset.RoleQuasiIdentifier, "annee": dataset.RoleQuasiIdentifier, "diag": dataset.RoleSensitive}
		raw := create(dataset.Identifying, small, roles)
		delete(roles, "nom")
		var pseudoText strings.Builder
		for i, line := range strings.Split(strings.TrimSpace(small), "\n") {
			f := strings.Split(line, ",")
			if i == 0 {
				pseudoText.WriteString("patient_id,sexe,annee,diag\n")
				continue
			}
			pseudoText.WriteString(strings.Join([]string{f[0], f[2], f[3], f[4]}, ",") + "\n")
		}
		pv := create(dataset.Pseudonymized, pseudoText.String(), roles)

		// Classes on (sexe, annee): (F,1980)×3, (M,1980)×1, (M,1990)×2.
		rep, err := risk.OfVersion(scientist, ds, pv, risk.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(rep.QuasiIdentifiers, ","); got != "sexe,annee" {
			t.Errorf("quasi-identifiers %s, want sexe,annee (from the roles)", got)
		}
		near := func(what string, got, want float64) {
			t.Helper()
			if math.Abs(got-want) > 1e-12 {
				t.Errorf("%s = %v, want %v", what, got, want)
			}
		}
		if rep.Rows != 6 || rep.Classes != 3 || rep.K != 1 {
			t.Errorf("rows %d classes %d k %d, want 6, 3, 1", rep.Rows, rep.Classes, rep.K)
		}
		near("prosecutor highest", rep.Prosecutor.Highest, 1)
		near("prosecutor average", rep.Prosecutor.Average, 0.5)
		near("records at risk", rep.Prosecutor.RecordsAtRisk, 1)
		near("average class size", rep.AverageClass, 2)
		near("sample uniqueness", rep.Uniqueness.Sample, 1.0/6)
		if rep.Uniqueness.SampleUniques != 1 {
			t.Errorf("sample uniques %d, want 1", rep.Uniqueness.SampleUniques)
		}
		if len(rep.SizeHistogram) != 3 {
			t.Errorf("class sizes %+v, want sizes 1, 2, 3", rep.SizeHistogram)
		}
		if len(rep.Inference.Attributes) != 1 || rep.Inference.Attributes[0].Column != "diag" || rep.Inference.Attributes[0].DistinctL != 1 {
			t.Errorf("inference %+v, want diag with distinct l 1", rep.Inference.Attributes)
		}
		if rep.SinglingOut.Pass {
			t.Error("singling out passes with a unique record")
		}

		// Overridden quasi-identifiers: sexe alone gives classes 3 and 3.
		rep, err = risk.OfVersion(scientist, ds, pv, risk.Options{QuasiIdentifiers: []string{"sexe"}, Sensitive: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.K != 3 || rep.Classes != 2 {
			t.Errorf("on sexe: k %d classes %d, want 3, 2", rep.K, rep.Classes)
		}
		near("prosecutor highest on sexe", rep.Prosecutor.Highest, 1.0/3)

		if _, err := risk.OfVersion(scientist, ds, pv, risk.Options{QuasiIdentifiers: []string{"nope"}}); !errs.Is(err, errs.Invalid) {
			t.Errorf("unknown column: %v, want invalid", err)
		}
		if _, err := risk.OfVersion(viewer, ds, pv, risk.Options{}); !errs.Is(err, errs.Forbidden) {
			t.Errorf("viewer: %v, want forbidden", err)
		}
		if _, err := risk.OfVersion(scientist, ds, raw, risk.Options{}); !errs.Is(err, errs.Forbidden) {
			t.Errorf("scientist on identifying: %v, want forbidden", err)
		}
		if rep, err := risk.OfVersion(steward, ds, raw, risk.Options{}); err != nil || rep.K != 1 {
			t.Errorf("steward on identifying: %v, %v", rep, err)
		}
	})
}
