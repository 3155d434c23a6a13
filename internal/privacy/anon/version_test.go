package anon_test

import (
	"context"
	"fmt"
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
	"github.com/hygie-health/hygie/internal/privacy/anon"
	"github.com/hygie-health/hygie/internal/privacy/risk"
	"github.com/hygie-health/hygie/internal/project"
)

func TestAnonymizeVersion(t *testing.T) {
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
		// 24 patients: ages 20..43, sexe alternating, birth dates, a
		// sensitive diagnosis and a feature.
		var csv strings.Builder
		csv.WriteString("patient_id,nom,sexe,age,naissance,diag,poids\n")
		for i := range 24 {
			fmt.Fprintf(&csv, "P%02d,Nom%02d,%s,%d,19%02d-%02d-15,%s,%d\n", i, i, []string{"F", "M"}[i%2], 20+i, 60+i%3, 1+i%12, []string{"A", "B", "C"}[i%3], 60+i)
		}
		tab, err := dataset.ReadCSV(strings.NewReader(csv.String()), "c.csv")
		if err != nil {
			t.Fatal(err)
		}
		if err := tab.SetRoles(map[string]dataset.Role{"patient_id": dataset.RolePatientID, "nom": dataset.RoleDirectIdentifier,
			"sexe": dataset.RoleQuasiIdentifier, "age": dataset.RoleQuasiIdentifier, "naissance": dataset.RoleQuasiIdentifier,
			"diag": dataset.RoleSensitive, "poids": dataset.RoleFeature}); err != nil {
			t.Fatal(err)
		}
		raw, _, err := ds.Create(steward, dataset.NewVersion{Project: "proj", Dataset: "c", Table: tab, Level: dataset.Identifying})
		if err != nil {
			t.Fatal(err)
		}
		cfg := anon.VersionConfig{
			QuasiIdentifiers: []anon.VersionQI{{Column: "sexe"}, {Column: "age", Hierarchy: "interval:5,10,20"}},
			Sensitive:        []string{}, K: 4, Metric: "loss", Output: "c_anon",
		}
		for _, who := range []context.Context{scientist, viewer} {
			if _, err := anon.AnonymizeVersion(who, ds, raw, cfg); !errs.Is(err, errs.Forbidden) {
				t.Errorf("identifying source without the steward's permission: %v, want forbidden", err)
			}
		}
		rep, err := anon.AnonymizeVersion(steward, ds, raw, cfg)
		if err != nil {
			t.Fatal(err)
		}
		v := rep.Version
		if v.Dataset != "c_anon" || v.Level != dataset.Anonymized || v.Parent != raw.Ref() || !rep.Created || v.Rows != 24 {
			t.Errorf("new version %+v", v)
		}
		if !strings.Contains(v.Recipe, "anonymize: 4-anonymity") || !strings.Contains(v.Recipe, "column: age") || !strings.Contains(v.Recipe, "hierarchy: interval:5,10,20") {
			t.Errorf("recipe:\n%s", v.Recipe)
		}
		if strings.Join(rep.Dropped, ",") != "patient_id,nom" {
			t.Errorf("dropped %v, want patient_id and nom (identifying source)", rep.Dropped)
		}
		// With 12 F and 12 M and ages 20..43: age in intervals of 10 gives
		// classes of 5 (20-29 per sex), 5 (30-39) and 2 (40-43): k = 4 needs
		// age at 20-year intervals (or sexe suppressed).
		if rep.SmallestClass < 4 || rep.Suppressed != 0 || rep.Metric != anon.MetricLoss || rep.NodesChecked == 0 || rep.Seconds <= 0 {
			t.Errorf("report %+v", rep.Report)
		}
		if rep.RiskBefore.K != 1 || rep.RiskAfter.K < 4 {
			t.Errorf("risk before k %d, after k %d", rep.RiskBefore.K, rep.RiskAfter.K)
		}
		if rep.Levels["age"] < 1 {
			t.Errorf("levels %v", rep.Levels)
		}
		// The stored content is k-anonymous on its quasi-identifiers, and a
		// scientist may read it.
		after, err := risk.OfVersion(scientist, ds, v, risk.Options{QuasiIdentifiers: []string{"sexe", "age"}})
		if err != nil {
			t.Fatal(err)
		}
		if after.K < 4 || strings.Join(after.QuasiIdentifiers, ",") != "sexe,age" {
			t.Errorf("stored version: k %d on %v", after.K, after.QuasiIdentifiers)
		}
		lin, err := ds.Lineage(scientist, v)
		if err != nil || len(lin) != 2 || lin[1].Ref() != raw.Ref() {
			t.Errorf("lineage %v, %v", lin, err)
		}

		// A pseudonymized source: the scientist may anonymise it; the
		// default quasi-identifiers are the roles', with default
		// hierarchies (dates to month and year); the pseudonym stays.
		pv, _, err := ds.Create(steward, dataset.NewVersion{Project: "proj", Dataset: "c_pseudo", Frame: mustFrame(t, ds, steward, raw, "nom"), Level: dataset.Pseudonymized, Parent: &raw})
		if err != nil {
			t.Fatal(err)
		}
		rep, err = anon.AnonymizeVersion(scientist, ds, pv, anon.VersionConfig{K: 3, MaxSuppression: 0.1, L: 2})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Version.Dataset != "c_pseudo" || rep.Version.Version != 2 || len(rep.Dropped) != 0 || rep.SmallestClass < 3 {
			t.Errorf("pseudonymized source: %+v dropped %v smallest %d", rep.Version, rep.Dropped, rep.SmallestClass)
		}
		if strings.Join(rep.QuasiIdentifiers, ",") != "sexe,age,naissance" || strings.Join(rep.Sensitive, ",") != "diag" {
			t.Errorf("quasi-identifiers %v sensitive %v", rep.QuasiIdentifiers, rep.Sensitive)
		}
		if _, err := anon.AnonymizeVersion(viewer, ds, pv, anon.VersionConfig{K: 3}); !errs.Is(err, errs.Forbidden) {
			t.Errorf("viewer: %v, want forbidden", err)
		}

		// Uploaded hierarchy (ARX CSV) and configuration errors.
		var h strings.Builder
		for age := 20; age < 44; age++ {
			fmt.Fprintf(&h, "%d;%s;*\n", age, map[bool]string{true: "young", false: "old"}[age < 32])
		}
		rep, err = anon.AnonymizeVersion(scientist, ds, pv, anon.VersionConfig{K: 12, QuasiIdentifiers: []anon.VersionQI{{Column: "age", HierarchyCSV: h.String()}}, Output: "c_up"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Levels["age"] != 1 || rep.SmallestClass != 12 || !strings.Contains(rep.Version.Recipe, "uploaded (24 values, 3 levels)") {
			t.Errorf("uploaded hierarchy: levels %v smallest %d recipe %s", rep.Levels, rep.SmallestClass, rep.Version.Recipe)
		}
		for _, bad := range []anon.VersionConfig{
			{},
			{K: 2, QuasiIdentifiers: []anon.VersionQI{{Column: "nope"}}},
			{K: 2, QuasiIdentifiers: []anon.VersionQI{{Column: "patient_id"}}},
			{K: 2, QuasiIdentifiers: []anon.VersionQI{{Column: "age", Hierarchy: "bogus"}}},
			{K: 2, Metric: "bogus"},
			{K: 25},
		} {
			if _, err := anon.AnonymizeVersion(scientist, ds, pv, bad); !errs.Is(err, errs.Invalid) {
				t.Errorf("%+v: %v, want invalid", bad, err)
			}
		}
	})
}

// mustFrame reads v without the given columns.
func mustFrame(t *testing.T, ds *dataset.Service, ctx context.Context, v dataset.Version, drop string) *dataset.Frame {
	t.Helper()
	f, err := ds.ReadFrame(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	i := f.Index(drop)
	f.Columns = append(f.Columns[:i:i], f.Columns[i+1:]...)
	f.Vecs = append(f.Vecs[:i:i], f.Vecs[i+1:]...)
	return f
}
