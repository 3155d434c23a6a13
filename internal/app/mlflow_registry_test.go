package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/demo"
)

// TestMLflowRegistry registers a model the way MLflow clients do, over
// plain HTTP following model_registry.proto, and moves it through stages,
// which run hygie's gates.
func TestMLflowRegistry(t *testing.T) {
	a, res := openDemo(t, sqliteConfig(t))
	ts := httptest.NewServer(a.Server)
	defer ts.Close()
	ctx := context.Background()
	_, marcTok, _ := a.Auth.CreateToken(ctx, "marc", "mlflow", auth.KindAPI, time.Hour, "")
	_, claireTok, _ := a.Auth.CreateToken(ctx, "claire", "mlflow", auth.KindAPI, time.Hour, "")
	marc := mlflowClient{t: t, base: ts.URL + "/api/2.0/mlflow/", token: marcTok}
	claire := mlflowClient{t: t, base: ts.URL + "/api/2.0/mlflow/", token: claireTok}
	run := fmt.Sprint(res.RunID)

	claire.fails("POST", "registered-models/create", map[string]any{"name": "readmission-mlflow"}, http.StatusForbidden, "PERMISSION_DENIED")
	out := marc.ok("POST", "registered-models/create", map[string]any{"name": "readmission-mlflow", "description": "from an MLflow client",
		"tags": []map[string]string{{"key": "hygie.project", "value": demo.Project}}})
	if rm := out["registered_model"].(map[string]any); rm["name"] != "readmission-mlflow" {
		t.Fatalf("create: %v", out)
	}
	marc.fails("POST", "registered-models/create", map[string]any{"name": "readmission-mlflow"}, http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS")
	marc.fails("POST", "model-versions/create", map[string]any{"name": "readmission-mlflow", "source": "runs:/" + run + "/nope", "run_id": run}, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
	out = marc.ok("POST", "model-versions/create", map[string]any{"name": "readmission-mlflow", "source": "runs:/" + run + "/model", "run_id": run})
	mv := out["model_version"].(map[string]any)
	if mv["version"] != "1" || mv["current_stage"] != "None" || mv["status"] != "READY" || mv["run_id"] != run {
		t.Fatalf("model version: %v", mv)
	}
	got := marc.ok("GET", "model-versions/get?name=readmission-mlflow&version=1", nil)["model_version"].(map[string]any)
	if got["version"] != "1" {
		t.Fatalf("get version: %v", got)
	}
	found := marc.ok("POST", "registered-models/search", map[string]any{"filter": "name LIKE 'readmission%'"})["registered_models"].([]any)
	if len(found) != 1 {
		t.Fatalf("search models: %v", found)
	}
	versions := claire.ok("POST", "model-versions/search", map[string]any{"filter": "run_id = '" + run + "'"})["model_versions"].([]any)
	if len(versions) != 2 { // the demo's and this one, from the same run
		t.Fatalf("search versions by run: %v", versions)
	}
	// Staging runs the demo policy's dev and test gates: no clinical case
	// is written for this model, so the transition stops in dev.
	st, body := marc.do("POST", "model-versions/transition-stage", map[string]any{"name": "readmission-mlflow", "version": "1", "stage": "Staging"})
	if st != http.StatusBadRequest || body["error_code"] != "INVALID_STATE" || !strings.Contains(fmt.Sprint(body["message"]), "clinical test cases") {
		t.Fatalf("transition refused: %d %v", st, body)
	}
	latest := marc.ok("POST", "registered-models/get-latest-versions", map[string]any{"name": "readmission-mlflow"})["model_versions"].([]any)
	if len(latest) != 1 || latest[0].(map[string]any)["current_stage"] != "None" {
		t.Fatalf("latest versions: %v", latest)
	}
	if v, _ := a.Registry.Version(ctx, "readmission-mlflow", 1); v.Environment != "dev" {
		t.Fatalf("the version is in %s, want dev (the dev gates passed)", v.Environment)
	}
	marc.fails("POST", "model-versions/transition-stage", map[string]any{"name": "readmission-mlflow", "version": "1", "stage": "Archived"}, http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	marc.fails("POST", "registered-models/search", map[string]any{"filter": "tags.x = 'y'"}, http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
}
