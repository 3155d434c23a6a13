package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
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

// formatNumber shows a metric or feature value compactly: integers in
// full, other everyday magnitudes with 4 significant digits, the rest in
// exponent form.
func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == math.Trunc(v) && a < 1e15:
		return groupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	case a >= 1e-3 && a < 1e6:
		decimals := max(0, 3-int(math.Floor(math.Log10(a))))
		s := strconv.FormatFloat(v, 'f', decimals, 64)
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return groupThousands(s)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// groupThousands inserts thin spaces between groups of three digits, the
// French and SI way ("12 345"), which reads the same in English.
func groupThousands(s string) string {
	sign, frac := "", ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i:]
	}
	if len(s) <= 4 {
		return sign + s + frac
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	return sign + b.String() + frac
}

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
		return groupThousands(strconv.Itoa(v))
	case int64:
		return groupThousands(strconv.FormatInt(v, 10))
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

func shorten(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
