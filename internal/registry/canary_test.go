package registry_test

import (
	"context"
	"math"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

func TestCanary(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		for range 3 {
			e.register(t, "risk", e.run(t, "proj", nil, track.Finished))
		}
		e.promote(t, "risk", 1, "dev", "test", "integration", "production")
		e.promote(t, "risk", 2, "dev", "test", "integration")
		e.promote(t, "risk", 3, "dev")
		if _, err := e.reg.Canary(e.ctx, "risk"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Canary before any = %v, want not found", err)
		}
		viewer := auth.WithPrincipal(context.Background(), &auth.Principal{Username: "val", Roles: map[string][]auth.Role{"proj": {auth.RoleViewer}}})
		for _, tc := range []struct {
			name    string
			ctx     context.Context
			version int
			share   float64
			mode    string
			want    errs.Code
		}{
			{"not in integration", e.ctx, 3, 0.1, registry.ModeCanary, errs.Conflict},
			{"in production", e.ctx, 1, 0.1, registry.ModeCanary, errs.Conflict},
			{"zero share", e.ctx, 2, 0, registry.ModeCanary, errs.Invalid},
			{"share above half", e.ctx, 2, 0.6, registry.ModeCanary, errs.Invalid},
			{"NaN share", e.ctx, 2, math.NaN(), registry.ModeCanary, errs.Invalid},
			{"unknown mode", e.ctx, 2, 0.1, "blue-green", errs.Invalid},
			{"unknown version", e.ctx, 9, 0.1, registry.ModeCanary, errs.NotFound},
			{"viewer", viewer, 2, 0.1, registry.ModeCanary, errs.Forbidden},
		} {
			if _, err := e.reg.SetCanary(tc.ctx, "risk", tc.version, tc.share, tc.mode); !errs.Is(err, tc.want) {
				t.Errorf("%s: SetCanary = %v, want %s", tc.name, err, tc.want)
			}
		}
		if _, err := e.reg.SetCanary(e.ctx, "risk", 2, 0.1, registry.ModeCanary); err != nil {
			t.Fatal(err)
		}
		// Setting again replaces it.
		if _, err := e.reg.SetCanary(e.ctx, "risk", 2, 0.25, registry.ModeShadow); err != nil {
			t.Fatal(err)
		}
		c, err := e.reg.Canary(e.ctx, "risk")
		if err != nil || c.Version.Version != 2 || c.Share != 0.25 || c.Mode != registry.ModeShadow || c.SetBy != "sam" {
			t.Fatalf("Canary = %+v, %v", c, err)
		}
		if err := e.reg.ClearCanary(viewer, "risk"); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("viewer cleared the canary: %v", err)
		}
		if err := e.reg.ClearCanary(e.ctx, "risk"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.Canary(e.ctx, "risk"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Canary after clear = %v", err)
		}
		ev, err := e.audit.List(e.ctx, audit.Filter{Project: "proj"})
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]int{}
		for _, x := range ev {
			actions[x.Action+" "+x.Outcome]++
		}
		// Two changes and one clear; the seven refusals on a known version
		// and the viewer's clear audited as denied.
		if actions["model.canary.set success"] != 2 || actions["model.canary.clear success"] != 1 || actions["model.canary.set denied"] != 7 || actions["model.canary.clear denied"] != 1 {
			t.Fatalf("audited canary changes: %v", actions)
		}
	})
}
