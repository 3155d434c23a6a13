package web

import (
	"fmt"
	"github.com/hygie-health/hygie/internal/plot"
	"html/template"
	"strconv"
	"time"

	"github.com/hygie-health/hygie/internal/evaluate"
)

// funcs are the template helpers. Times are shown in UTC and say so: audit
// readers compare them across servers.
var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02")
	},
	"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"num":    formatNumber,
	"count":  count,
	"badge":  badgeClass,
	"short":  func(s string, n int) string { return shorten(s, n) },
	"plural": func(n int, one, many string) string { return map[bool]string{true: one, false: many}[n == 1] },
	// Links to a dataset version's page (version 0: the latest), and to the
	// version a "name@version" reference names.
	"datasetURL": datasetURL,
	"refURL":     refURL,
	// f64 reads an evaluate.Num (NaN: null) as a float for num.
	"f64": func(n evaluate.Num) float64 { return float64(n) },
	"add": func(a, b int) int { return a + b },
	// value shows a model input: a number compactly, a category as is.
	"value": anyValue,
	// fixed3 shows a number (or the number a pointer holds) with three
	// decimals, as model cards do.
	"fixed3": fixed3,
}

// fixed3 formats a float64 or *float64 with three decimals ("—" for nil).
func fixed3(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', 3, 64)
	case *float64:
		if x != nil {
			return strconv.FormatFloat(*x, 'f', 3, 64)
		}
	}
	return "—"
}

// formatNumber and shorten are internal/plot's, which the charts use too.
func formatNumber(v float64) string { return plot.FormatNumber(v) }

// anyValue shows a number with formatNumber and anything else as text.
func anyValue(v any) string {
	switch x := v.(type) {
	case float64:
		return formatNumber(x)
	case float32:
		return formatNumber(float64(x))
	case int:
		return formatNumber(float64(x))
	case int64:
		return formatNumber(float64(x))
	case string:
		return x
	case nil:
		return "—"
	}
	return fmt.Sprint(v)
}

// count prints an integer count with grouped thousands.
func count(n any) string {
	switch v := n.(type) {
	case int:
		return plot.FormatNumber(float64(v))
	case int64:
		return plot.FormatNumber(float64(v))
	}
	return fmt.Sprint(n)
}

// badgeClass maps a status-like word (privacy level, environment, run
// status, audit outcome) to a badge colour. The word itself is always
// printed too: colour is never the only signal.
func badgeClass(s string) string {
	switch s {
	case "identifying", "denied", "failed", "killed", "broken", "cancelled":
		return "badge badge-danger"
	case "pseudonymized", "failure", "running", "test", "integration", "override", "rollback":
		return "badge badge-warn"
	case "anonymized", "success", "finished", "succeeded", "production", "ok":
		return "badge badge-ok"
	case "aggregate", "dev", "queued":
		return "badge badge-info"
	}
	return "badge"
}

func shorten(s string, n int) string { return plot.Shorten(s, n) }
