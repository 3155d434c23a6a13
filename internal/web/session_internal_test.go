package web

import (
	"net/url"
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/projects/sepsis", "/projects/sepsis"},
		{"/admin/audit?action=session.%2A&before=40", "/admin/audit?action=session.%2A&before=40"},
		{"//evil.example", "/"},
		{"//evil.example/path", "/"},
		{`/\evil.example`, "/"},
		{`/projects\..\\evil`, "/"},
		{"https://evil.example/", "/"},
		{"http:/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"}, // stays encoded: harmless
		{"/login", "/"},
		{"/login?next=/login", "/"},
		{"/logout", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzSafeNext checks that whatever a link carries, sign-in only ever
// redirects to a path on this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "//evil", `/\evil`, "/a?b=c#d", "https://x", "/%2F%2Fevil", "/\x00", "/login"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q) = %q: neither the input nor /", next, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, `/\`) || strings.ContainsAny(got, "\\\r\n\t") {
			t.Fatalf("safeNext(%q) = %q: not a local path", next, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
			t.Fatalf("safeNext(%q) = %q: parses as %+v, %v", next, got, u, err)
		}
	})
}

func TestFormatNumber(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{71, "71"},
		{12345, "12\u202f345"},
		{-1234567, "-1\u202f234\u202f567"},
		{0.84123, "0.8412"},
		{0.8, "0.8"},
		{3.1, "3.1"},
		{123.456, "123.5"},
		{0.00012, "0.00012"},
		{2.5e9 + 0.5, "2.5e+09"},
	} {
		if got := formatNumber(tc.in); got != tc.want {
			t.Errorf("formatNumber(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
