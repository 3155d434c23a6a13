package web_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/train"
)

// TestCanaryAndRetrainForms: the version page shows the model's canary;
// those holding model.promote set one on a version in integration (share
// and mode checked) and end it; a viewer sees neither form. The retrain
// button is offered to run writers; on a run that 'hygie train --dataset'
// did not make it says why and changes nothing.
func TestCanaryAndRetrainForms(t *testing.T) {
	e := newEnv(t)
	g := e.seedGovernance()
	ada := e.as("ada")
	v2 := e.registerRisk(g.reg, g.model, 0.75)
	for _, env := range []string{"dev", "test", "integration"} {
		if _, err := g.reg.PromoteOverride(ada, g.model, v2.Version, env, "fixture"); err != nil {
			t.Fatal(err)
		}
	}
	v2Page := fmt.Sprintf("/projects/sepsis/models/%s/versions/%d", g.model, v2.Version)
	alice, victor := e.session("alice"), e.session("victor")
	check(t, "no canary", e.get(v2Page, alice), 200, []string{`id="canary-status"`, "No canary", `id="canary-form"`, `id="retrain-form"`}, []string{`id="canary-clear-form"`})
	check(t, "viewer", e.get(v2Page, victor), 200, []string{"No canary"}, []string{`id="canary-form"`, `id="retrain-form"`})
	check(t, "v1 not in integration", e.get(g.base, alice), 200, nil, []string{`id="canary-form"`})

	check(t, "share not a number", e.do("POST", v2Page+"/canary", url.Values{"share": {"ten percent"}, "mode": {"canary"}}, alice, ""), 400,
		[]string{`data-form="canary"`, "want a number", `value="ten percent"`}, nil)
	check(t, "share too large", e.do("POST", v2Page+"/canary", url.Values{"share": {"0.9"}, "mode": {"canary"}}, alice, ""), 400, []string{"at most 0.5"}, nil)
	check(t, "unknown mode", e.do("POST", v2Page+"/canary", url.Values{"share": {"0.1"}, "mode": {"mirror"}}, alice, ""), 400, []string{"canary mode", "mirror", "want canary or shadow"}, nil)
	check(t, "viewer sets", e.do("POST", v2Page+"/canary", url.Values{"share": {"0.1"}, "mode": {"canary"}}, victor, ""), 403, nil, nil)
	check(t, "v1 as canary", e.do("POST", g.base+"/canary", url.Values{"share": {"0.1"}, "mode": {"canary"}}, alice, ""), 409, []string{"must be in integration"}, nil)
	if _, err := g.reg.Canary(ada, g.model); err == nil {
		t.Fatal("a refused form set a canary")
	}

	r := e.do("POST", v2Page+"/canary", url.Values{"share": {"0.2"}, "mode": {"shadow"}}, alice, "")
	if r.StatusCode != 303 || r.Header.Get("Location") != v2Page+"?done=canary" {
		t.Fatalf("set: %d to %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	check(t, "canary set", e.get(v2Page+"?done=canary", alice), 200, []string{`id="flash"`, `data-version="2"`, `data-mode="shadow"`, "This version", "20 %", `id="canary-clear-form"`}, nil)
	check(t, "from v1", e.get(g.base, victor), 200, []string{`id="canary-version"`, v2Page, "20 %"}, []string{`id="canary-clear-form"`})
	if c, err := g.reg.Canary(ada, g.model); err != nil || c.Version.Version != 2 || c.Share != 0.2 || c.Mode != "shadow" || c.SetBy != "alice" {
		t.Fatalf("canary %+v %v", c, err)
	}
	check(t, "viewer clears", e.do("POST", v2Page+"/canary/clear", nil, victor, ""), 403, nil, nil)
	r = e.do("POST", v2Page+"/canary/clear", nil, alice, "")
	if r.StatusCode != 303 || r.Header.Get("Location") != v2Page+"?done=cleared" {
		t.Fatalf("clear: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	check(t, "cleared", e.get(v2Page+"?done=cleared", alice), 200, []string{"The canary was ended", "No canary"}, nil)

	e.monitor.SetSources(monitor.Sources{Registry: g.reg, Runs: e.runs, Datasets: e.datasets,
		Train: func(context.Context, train.Spec, string) (jobs.Job, train.Spec, error) {
			t.Fatal("a refused retraining submitted a job")
			return jobs.Job{}, train.Spec{}, nil
		}})
	var before int
	e.db.QueryRow(e.as("admin"), `SELECT COUNT(*) FROM dataset_versions`).Scan(&before)
	check(t, "retrain a run without its dataset", e.do("POST", v2Page+"/retrain", nil, alice, ""), 400,
		[]string{`data-form="retrain"`, "was not made by"}, nil)
	check(t, "viewer retrains", e.do("POST", v2Page+"/retrain", nil, victor, ""), 403, nil, nil)
	var after int
	e.db.QueryRow(e.as("admin"), `SELECT COUNT(*) FROM dataset_versions`).Scan(&after)
	if after != before {
		t.Errorf("%d dataset versions after refused retrainings, %d before", after, before)
	}
}
