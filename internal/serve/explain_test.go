package serve_test

import (
	"context"
	"math"
	"testing"

	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/explain"
	"github.com/hygie-health/hygie/internal/serve"
)

// TestExplain: with parameters.explain, each row comes with its TreeSHAP
// contributions, which add up with the base value to the prediction's
// log-odds; a linear model's come as coefficient × value.
func TestExplain(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), serve.Options{})
	m, tab := adultModel(t)
	e.register(t, "adult", m)
	e.promote(t, "adult", 1, allEnvs...)
	req := adultRequest(tab, 0, 5)
	req.Parameters = map[string]any{"explain": true}
	resp, err := e.svc.Infer(context.Background(), "adult", 0, req)
	if err != nil {
		t.Fatal(err)
	}
	ex, ok := resp.Parameters["explanations"].([]explain.Explanation)
	if !ok || len(ex) != 5 {
		t.Fatalf("explanations: %#v", resp.Parameters["explanations"])
	}
	for i, x := range ex {
		sum := x.Base
		for _, c := range x.Contributions {
			sum += c
		}
		p := 1 / (1 + math.Exp(-sum))
		if len(x.Contributions) != len(m.Inputs) || math.Abs(p-resp.Outputs[0].Data[i]) > 1e-9 || x.Method != explain.MethodTreeSHAP {
			t.Fatalf("row %d: base+Σ = %v (p %v), prediction %v, %d contributions", i, sum, p, resp.Outputs[0].Data[i], len(x.Contributions))
		}
	}
	// Without the parameter there is no explanation.
	plain, _ := e.svc.Infer(context.Background(), "adult", 0, adultRequest(tab, 0, 1))
	if _, ok := plain.Parameters["explanations"]; ok {
		t.Error("explanations without asking")
	}
}
