package mlflowapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	_ "github.com/hygie-health/hygie/internal/db" // registers the unavailable classifier
	"github.com/hygie-health/hygie/internal/errs"
)

func TestParseFilter(t *testing.T) {
	ok := map[string]string{
		"":                          "[]",
		"metrics.auc > 0.8":         "[{metric auc > 0.8}]",
		"metric.`val loss` <= 1e-3": "[{metric val loss <= 1e-3}]",
		"params.depth = '6' AND tags.stage != \"dev\"": "[{param depth = 6} {tag stage != dev}]",
		"attributes.status = 'finished'":               "[{attribute status = finished}]",
		"attributes.run_name = 'x'":                    "[{attribute run_name = x}]",
	}
	for in, want := range ok {
		c, err := ParseFilter(in)
		if got := fmt.Sprint(c); err != nil || (got != want && !(want == "[]" && c == nil)) {
			t.Errorf("ParseFilter(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"metrics.auc > high", "params.depth = 6", "attributes.status = 'DONE'", "attributes.start_time > 0", "auc > 1", "metrics.auc LIKE '%'"} {
		if _, err := ParseFilter(in); err == nil {
			t.Errorf("ParseFilter(%q) accepted", in)
		}
	}
}

// TestToErrorUnavailable checks that a database that cannot be reached is
// MLflow's TEMPORARILY_UNAVAILABLE (503, with Retry-After), not a 500.
func TestToErrorUnavailable(t *testing.T) {
	cause := errs.Wrap(&pgconn.ConnectError{}, errs.Internal, "searching runs")
	if e := toError(cause); e.status != http.StatusServiceUnavailable || e.Code != "TEMPORARILY_UNAVAILABLE" || e.Message != errs.UnavailableMessage {
		t.Errorf("toError = %+v", e)
	}
	rec := httptest.NewRecorder()
	writeError(rec, cause)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"TEMPORARILY_UNAVAILABLE"`) {
		t.Errorf("writeError: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if e := toError(errors.New("boom")); e.status != http.StatusInternalServerError {
		t.Errorf("a plain error = %+v", e)
	}
}
