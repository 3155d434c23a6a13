package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
)

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	cases := []struct {
		name, ctype, body, want string
	}{
		{"ok", "application/json", `{"name":"a","n":1}`, ""},
		{"charset", "application/json; charset=utf-8", `{"name":"a"}`, ""},
		{"wrong type", "text/plain", `{}`, "Content-Type"},
		{"no type", "", `{}`, "Content-Type"},
		{"syntax", "application/json", `{"name":`, "malformed JSON"},
		{"type mismatch", "application/json", `{"n":"x"}`, `field "n" must be int`},
		{"unknown field", "application/json", `{"nom":"a"}`, "unknown field"},
		{"trailing", "application/json", `{} {}`, "trailing data"},
		{"empty", "application/json", ``, "malformed JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			var b body
			err := DecodeJSON(r, &b)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeJSON = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestStatusMapping(t *testing.T) {
	for code, status := range map[errs.Code]int{
		errs.Invalid: 400, errs.Unauthenticated: 401, errs.Forbidden: 403, errs.NotFound: 404, errs.Conflict: 409, errs.Internal: 500, "other": 500,
	} {
		if got := Status(code); got != status {
			t.Errorf("Status(%s) = %d, want %d", code, got, status)
		}
	}
	if errs.MessageOf(errs.E(errs.Internal, "secret detail")) != "internal error" {
		t.Error("internal error message leaks")
	}
}

func TestRouteDeclarationsAreChecked(t *testing.T) {
	s := New(Options{})
	for name, rt := range map[string]Route{
		"project scope without project": {Method: "GET", Pattern: "/x", Scope: Project, Perm: "p", Handler: func(http.ResponseWriter, *http.Request) error { return nil }},
		"instance scope without perm":   {Method: "GET", Pattern: "/y", Scope: Instance, Handler: func(http.ResponseWriter, *http.Request) error { return nil }},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("undeclared policy accepted")
				}
			}()
			s.Add(rt)
		})
	}
}
