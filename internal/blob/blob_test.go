package blob

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		location string
		cfg      S3Config
		want     string // the Store's type, or "" for an error
		code     errs.Code
		msg      string // in the error message
	}{
		{"empty", "", S3Config{}, "", errs.Invalid, "HYGIE_ARTIFACTS"},
		{"plain path", filepath.Join(dir, "plain"), S3Config{}, "*blob.Local", "", ""},
		{"relative path", "rel-blobs", S3Config{}, "*blob.Local", "", ""},
		{"file URL", "file://" + filepath.ToSlash(filepath.Join(dir, "url")), S3Config{}, "*blob.Local", "", ""},
		{"file URL with host", "file://host/x", S3Config{}, "", errs.Invalid, "HYGIE_ARTIFACTS"},
		{"memory", "mem://", S3Config{}, "*blob.Memory", "", ""},
		{"memory with path", "mem://x/y", S3Config{}, "", errs.Invalid, "mem://"},
		{"unknown scheme", "ftp://host/x", S3Config{}, "", errs.Invalid, `setting artifacts (HYGIE_ARTIFACTS): unknown scheme "ftp"`},
		{"s3 without bucket", "s3://", S3Config{Endpoint: "localhost:9"}, "", errs.Invalid, "bucket"},
		{"s3 without endpoint", "s3://bucket/prefix", S3Config{}, "", errs.Invalid, "HYGIE_S3_ENDPOINT"},
		{"s3 with credentials", "s3://key:hunter2@bucket", S3Config{Endpoint: "localhost:9"}, "", errs.Invalid, "s3_"},
		{"s3 bad bucket", "s3://Not_A_Bucket", S3Config{Endpoint: "localhost:9"}, "", errs.Invalid, "bucket"},
		{"s3 bad prefix", "s3://bucket/a/../b", S3Config{Endpoint: "localhost:9"}, "", errs.Invalid, "prefix"},
	}
	t.Chdir(dir)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.location, tc.cfg)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Open(%q) = %T, want an error", tc.location, s)
				}
				if !errs.Is(err, tc.code) || !strings.Contains(errs.MessageOf(err), tc.msg) {
					t.Errorf("Open(%q) error %q (%s), want %s containing %q", tc.location, errs.MessageOf(err), errs.CodeOf(err), tc.code, tc.msg)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("Open error shows a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.location, err)
			}
			if got := typeName(s); got != tc.want {
				t.Errorf("Open(%q) = %s, want %s", tc.location, got, tc.want)
			}
			if l, ok := s.(*Local); ok {
				defer l.Close()
				if !filepath.IsAbs(l.Dir()) {
					t.Errorf("Local dir %q not absolute", l.Dir())
				}
			}
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}

func typeName(s Store) string {
	switch s.(type) {
	case *Local:
		return "*blob.Local"
	case *Memory:
		return "*blob.Memory"
	case *S3:
		return "*blob.S3"
	}
	return "?"
}

func TestContentKey(t *testing.T) {
	var sum [32]byte
	sum[0], sum[31] = 0xab, 0x01
	want := "sha256/ab/ab" + strings.Repeat("00", 30) + "01"
	if got := ContentKey(sum); got != want {
		t.Errorf("ContentKey = %q, want %q", got, want)
	}
	if err := ValidateKey(want); err != nil {
		t.Error(err)
	}
}

// FuzzValidateKey checks that every accepted key is a clean, relative,
// printable path (safe as a file name under a directory), and that a Memory
// and a Local store agree on it.
func FuzzValidateKey(f *testing.F) {
	for _, k := range invalidKeys {
		f.Add(k)
	}
	for _, k := range []string{"a", "a/b", ".a/..b/c.", "sha256/00/ff", "ünï/名前", "a b/c"} {
		f.Add(k)
	}
	l, err := NewLocal(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })
	m := NewMemory()
	f.Fuzz(func(t *testing.T, key string) {
		err := ValidateKey(key)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("ValidateKey(%q) = %v, not an invalid error", key, err)
			}
			if _, perr := m.Put(t.Context(), key, strings.NewReader("x")); !errs.Is(perr, errs.Invalid) {
				t.Fatalf("Memory.Put accepted invalid key %q", key)
			}
			return
		}
		if path.Clean(key) != key || path.IsAbs(key) || strings.HasPrefix(key, "../") || key == ".." || key == "." {
			t.Fatalf("ValidateKey accepted unclean or escaping %q", key)
		}
		if !filepath.IsLocal(filepath.FromSlash(key)) && !strings.ContainsAny(key, ":") {
			t.Fatalf("ValidateKey accepted non-local %q", key)
		}
		if !utf8.ValidString(key) || len(key) > MaxKeyLen || strings.ContainsAny(key, "\\") {
			t.Fatalf("ValidateKey accepted %q", key)
		}
		for _, r := range key {
			if unicode.IsControl(r) {
				t.Fatalf("ValidateKey accepted control character in %q", key)
			}
		}
		if validatePrefix(key) != nil {
			t.Fatalf("valid key %q is not a valid prefix", key)
		}
		// Every valid key works on a directory store (unless it collides
		// with an earlier key as a file/directory prefix).
		if _, err := l.Put(t.Context(), key, strings.NewReader(key)); err != nil && !errs.Is(err, errs.Conflict) {
			t.Fatalf("Local.Put(%q): %v", key, err)
		} else if err == nil {
			if err := l.Delete(t.Context(), key); err != nil {
				t.Fatalf("Local.Delete(%q): %v", key, err)
			}
		}
	})
}
