package mlflowapi

import (
	"fmt"
	"testing"
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
