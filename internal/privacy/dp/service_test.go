package dp_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/keys"
	"github.com/hygie-health/hygie/internal/privacy/dp"
	"github.com/hygie-health/hygie/internal/privacy/dp/noise"
	"github.com/hygie-health/hygie/internal/project"
)

// env is project "proj" with an admin (project manager), a scientist and a
// viewer, and a pseudonymized dataset "cohort" of 200 patients.
type env struct {
	d                          *db.DB
	audit                      *audit.Log
	ds                         *dataset.Service
	svc                        *dp.Service
	v                          dataset.Version
	manager, scientist, viewer context.Context
}

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	ctx := audit.WithActor(context.Background(), "admin")
	a := audit.New(d)
	kr, err := keys.New(keys.Random())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{d: d, audit: a, ds: dataset.NewService(d, blob.NewMemory(), kr, a)}
	if _, err := project.NewService(d, a).Create(ctx, "proj", "", ""); err != nil {
		t.Fatal(err)
	}
	as := auth.NewService(d, a)
	user := func(name string, role auth.Role) context.Context {
		u, err := as.CreateUser(ctx, name, "", "", false)
		if err != nil {
			t.Fatal(err)
		}
		return auth.WithPrincipal(context.Background(), &auth.Principal{UserID: u.ID, Username: name, Roles: map[string][]auth.Role{"proj": {role}}})
	}
	e.manager = user("alice", auth.RoleAdmin)
	e.scientist = user("sam", auth.RoleScientist)
	e.viewer = user("victor", auth.RoleViewer)
	var csv strings.Builder
	csv.WriteString("patient_id,sexe,age\n")
	for i := range 200 {
		fmt.Fprintf(&csv, "P%03d,%s,%d\n", i, []string{"F", "M"}[i%2], 20+i%60)
	}
	tab, err := dataset.ReadCSV(strings.NewReader(csv.String()), "cohort.csv")
	if err != nil {
		t.Fatal(err)
	}
	tab.SetRoles(map[string]dataset.Role{"patient_id": dataset.RolePatientID, "sexe": dataset.RoleQuasiIdentifier, "age": dataset.RoleQuasiIdentifier})
	e.v, _, err = e.ds.Create(e.scientist, dataset.NewVersion{Project: "proj", Dataset: "cohort", Table: tab, Level: dataset.Pseudonymized})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = dp.NewService(d, e.ds, a)
	var seed atomic.Uint64
	e.svc.SetSource(func() noise.Source { return rand.NewPCG(seed.Add(1), 7) })
	return e
}

func count(eps string) dp.Query {
	return dp.Query{Kind: dp.KindCount, Epsilon: dp.MustDecimal(eps)}
}

func rows(t *testing.T, d *db.DB, q string) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBudgetAccess(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		if _, err := e.svc.SetBudget(e.scientist, "proj", "cohort", dp.DecimalInt(3), dp.Decimal{}); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("scientist sets a budget: %v", err)
		}
		if _, err := e.svc.Release(e.scientist, e.v, count("1")); !errs.Is(err, errs.Forbidden) || !strings.Contains(err.Error(), "no privacy budget") {
			t.Fatalf("release without budget: %v", err)
		}
		if _, err := e.svc.SetBudget(e.manager, "proj", "nope", dp.DecimalInt(3), dp.Decimal{}); !errs.Is(err, errs.NotFound) {
			t.Fatalf("budget of a missing dataset: %v", err)
		}
		for _, bad := range []string{"0", "-1", "1001", "0.0000001"} {
			if _, err := e.svc.SetBudget(e.manager, "proj", "cohort", dp.MustDecimal(bad), dp.Decimal{}); !errs.Is(err, errs.Invalid) {
				t.Errorf("budget ε = %s: %v", bad, err)
			}
		}
		b, err := e.svc.SetBudget(e.manager, "proj", "cohort", dp.DecimalInt(3), dp.MustDecimal("1e-5"))
		if err != nil {
			t.Fatal(err)
		}
		if b.Epsilon.String() != "3" || b.EpsilonRemaining.String() != "3" || b.Delta.String() != "0.00001" || b.UpdatedBy != "alice" {
			t.Fatalf("budget %+v", b)
		}
		if _, err := e.svc.GetBudget(e.viewer, "proj", "cohort"); !errs.Is(err, errs.Forbidden) {
			t.Errorf("viewer reads the budget: %v", err)
		}
		if _, err := e.svc.Release(e.viewer, e.v, count("1")); !errs.Is(err, errs.Forbidden) {
			t.Errorf("viewer releases: %v", err)
		}
		if got, err := e.svc.GetBudget(e.scientist, "proj", "cohort"); err != nil || got.Epsilon.String() != "3" {
			t.Errorf("scientist reads the budget: %+v %v", got, err)
		}
		if bs, err := e.svc.Budgets(e.scientist, "proj"); err != nil || len(bs) != 1 || bs[0].Dataset != "cohort" || bs[0].EpsilonRemaining.String() != "3" {
			t.Errorf("project budgets: %+v %v", bs, err)
		}
		if _, err := e.svc.Budgets(e.viewer, "proj"); !errs.Is(err, errs.Forbidden) {
			t.Errorf("viewer lists budgets: %v", err)
		}
		evs, _ := e.audit.List(context.Background(), audit.Filter{Action: "dp.budget.set"})
		if len(evs) != 1 || evs[0].Actor != "alice" || evs[0].Target != "dataset:cohort" || !strings.Contains(evs[0].Detail, `"epsilon":"3"`) {
			t.Errorf("budget audit: %+v", evs)
		}
	})
}

func TestReleaseSpendsAndRefuses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		if _, err := e.svc.SetBudget(e.manager, "proj", "cohort", MustDec("1.5"), dp.Decimal{}); err != nil {
			t.Fatal(err)
		}
		by, err := dp.ParseGroups([]string{"sexe", "age"}, []string{"sexe=F,M"}, []string{"age=0,40,65,120"})
		if err != nil {
			t.Fatal(err)
		}
		rel, err := e.svc.Release(e.scientist, e.v, dp.Query{Kind: dp.KindHistogram, Epsilon: dp.DecimalInt(1), By: by})
		if err != nil {
			t.Fatal(err)
		}
		if len(rel.Result.Cells) != 6 || rel.Budget.EpsilonSpent.String() != "1" || rel.Budget.EpsilonRemaining.String() != "0.5" || rel.Budget.Releases != 1 {
			t.Fatalf("release %+v, budget %+v", rel.Result, rel.Budget)
		}
		if rel.Dataset != "cohort@1" || rel.CreatedBy != "sam" || rel.ID == 0 {
			t.Errorf("release record %+v", rel)
		}
		// Over budget: refused with what remains, nothing spent or recorded.
		_, err = e.svc.Release(e.scientist, e.v, count("0.6"))
		if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "remaining ε = 0.5 of 1.5") || !strings.Contains(errs.MessageOf(err), "needs ε = 0.6") {
			t.Fatalf("over budget: %v", err)
		}
		b, _ := e.svc.GetBudget(e.scientist, "proj", "cohort")
		if b.EpsilonSpent.String() != "1" || b.Releases != 1 || rows(t, d, `SELECT COUNT(*) FROM dp_releases`) != 1 {
			t.Fatalf("refusal recorded something: %+v", b)
		}
		// Exactly what remains fits, in exact arithmetic: 5 × 0.1 = 0.5.
		for i := range 5 {
			if _, err := e.svc.Release(e.scientist, e.v, count("0.1")); err != nil {
				t.Fatalf("release %d of ε = 0.1: %v", i, err)
			}
		}
		b, _ = e.svc.GetBudget(e.scientist, "proj", "cohort")
		if b.EpsilonRemaining.Sign() != 0 || b.EpsilonSpent.String() != "1.5" || b.Releases != 6 {
			t.Fatalf("budget after 1 + 5 × 0.1: %+v", b)
		}
		if _, err := e.svc.Release(e.scientist, e.v, count("0.000001")); !errs.Is(err, errs.Conflict) {
			t.Fatalf("spent budget: %v", err)
		}
		// Gaussian queries need δ, which this budget does not have.
		if _, err := e.svc.SetBudget(e.manager, "proj", "cohort", dp.DecimalInt(3), dp.Decimal{}); err != nil {
			t.Fatal(err)
		}
		g := dp.Query{Kind: dp.KindCount, Epsilon: dp.DecimalInt(1), Noise: dp.Gaussian, Delta: MustDec("1e-6")}
		if _, err := e.svc.Release(e.scientist, e.v, g); !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "remaining δ = 0 of 0") {
			t.Fatalf("δ over budget: %v", err)
		}
		if _, err := e.svc.SetBudget(e.manager, "proj", "cohort", dp.DecimalInt(3), MustDec("1e-5")); err != nil {
			t.Fatal(err)
		}
		rel, err = e.svc.Release(e.scientist, e.v, g)
		if err != nil {
			t.Fatal(err)
		}
		if rel.Result.Mechanism != dp.MechDiscreteGaussian || rel.Budget.DeltaSpent.String() != "0.000001" || rel.Budget.EpsilonRemaining.String() != "0.5" {
			t.Fatalf("Gaussian release %+v, budget %+v", rel.Result, rel.Budget)
		}
		// The budget cannot go below what is spent.
		if _, err := e.svc.SetBudget(e.manager, "proj", "cohort", dp.DecimalInt(2), MustDec("1e-5")); !errs.Is(err, errs.Conflict) {
			t.Errorf("budget below spent: %v", err)
		}
		// Every release and refusal is audited, with kind, ε and δ and no
		// data values.
		evs, _ := e.audit.List(context.Background(), audit.Filter{Action: "dp.release"})
		var ok, denied int
		for _, ev := range evs {
			switch ev.Outcome {
			case audit.Success:
				ok++
			case audit.Denied:
				denied++
			}
			if ev.Target != "dataset:cohort@1" || ev.Actor != "sam" || !strings.Contains(ev.Detail, `"kind":`) || !strings.Contains(ev.Detail, `"epsilon":`) {
				t.Errorf("audit event %+v", ev)
			}
			for _, leak := range []string{"P0", `"F"`, "value", "cells"} {
				if strings.Contains(ev.Detail, leak) {
					t.Errorf("audit detail holds %q: %s", leak, ev.Detail)
				}
			}
		}
		if ok != 7 || denied != 3 {
			t.Errorf("%d releases and %d refusals audited, want 7 and 3", ok, denied)
		}
		if r, err := e.audit.Verify(context.Background()); err != nil || !r.OK {
			t.Errorf("audit chain: %+v %v", r, err)
		}
		list, err := e.svc.Releases(e.scientist, "proj", "cohort", 0)
		if err != nil || len(list) != 7 || list[0].ID != rel.ID || list[0].Query.Noise != dp.Gaussian || list[6].Result.Kind != dp.KindHistogram {
			t.Fatalf("releases: %d %v", len(list), err)
		}
	})
}

func MustDec(s string) dp.Decimal { return dp.MustDecimal(s) }

// barrier holds every read until n readers arrived, so that concurrent
// releases all pass the early budget check before any of them spends.
type barrier struct {
	dp.Reader
	wg *sync.WaitGroup
}

func (b barrier) Read(ctx context.Context, v dataset.Version) (*dataset.Table, error) {
	b.wg.Done()
	b.wg.Wait()
	return b.Reader.Read(ctx, v)
}

func TestConcurrentReleasesCannotOverspend(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		if _, err := e.svc.SetBudget(e.manager, "proj", "cohort", MustDec("1.5"), dp.Decimal{}); err != nil {
			t.Fatal(err)
		}
		const n = 4
		var wg sync.WaitGroup
		wg.Add(n)
		svc := dp.NewService(d, barrier{e.ds, &wg}, e.audit)
		errc := make(chan error, n)
		for range n {
			go func() {
				_, err := svc.Release(e.scientist, e.v, count("1"))
				errc <- err
			}()
		}
		var ok, refused int
		for range n {
			switch err := <-errc; {
			case err == nil:
				ok++
			case errs.Is(err, errs.Conflict):
				refused++
			default:
				t.Errorf("release: %v", err)
			}
		}
		b, _ := e.svc.GetBudget(e.scientist, "proj", "cohort")
		if ok != 1 || refused != n-1 || b.EpsilonSpent.String() != "1" || b.Releases != 1 || rows(t, d, `SELECT COUNT(*) FROM dp_releases`) != 1 {
			t.Fatalf("%d passed, %d refused; budget %+v", ok, refused, b)
		}
	})
}

func TestReleaseReadsIdentifyingOnlyForStewards(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		tab, _ := dataset.ReadCSV(strings.NewReader("ipp,nom,age\nI1,Dupont,40\n"), "raw.csv")
		tab.SetRoles(map[string]dataset.Role{"ipp": dataset.RolePatientID, "nom": dataset.RoleDirectIdentifier})
		steward := auth.WithPrincipal(context.Background(), &auth.Principal{Username: "sophie", Roles: map[string][]auth.Role{"proj": {auth.RoleSteward}}})
		raw, _, err := e.ds.Create(steward, dataset.NewVersion{Project: "proj", Dataset: "raw", Table: tab, Level: dataset.Identifying})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetBudget(e.manager, "proj", "raw", dp.DecimalInt(1), dp.Decimal{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Release(e.scientist, raw, count("0.5")); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("scientist on identifying data: %v", err)
		}
		if b, _ := e.svc.GetBudget(e.scientist, "proj", "raw"); b.Releases != 0 {
			t.Fatal("a refused read spent budget")
		}
		if _, err := e.svc.Release(steward, raw, count("0.5")); err != nil {
			t.Fatalf("steward: %v", err)
		}
	})
}
