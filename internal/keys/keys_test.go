package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadCreatesOnceAndWrapRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets", "master.key")
	kr, created, err := Load(path, true)
	if err != nil || !created {
		t.Fatalf("Load = %v, created=%v", err, created)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("master key mode %v", st.Mode().Perm())
	}
	kr2, created, err := Load(path, true)
	if err != nil || created {
		t.Fatalf("second Load = %v, created=%v", err, created)
	}
	secret := []byte("per-project pseudonym key")
	w := kr.Wrap(secret, []byte("project:1"))
	if bytes.Contains(w, secret) {
		t.Fatal("wrapped key contains the plaintext")
	}
	got, err := kr2.Unwrap(w, []byte("project:1"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unwrap = %q, %v", got, err)
	}
	if _, err := kr2.Unwrap(w, []byte("project:2")); err == nil {
		t.Fatal("Unwrap accepted another purpose")
	}
	w[len(w)-1] ^= 1
	if _, err := kr2.Unwrap(w, []byte("project:1")); err == nil {
		t.Fatal("Unwrap accepted a tampered ciphertext")
	}
	other, _ := New(Random())
	if _, err := other.Unwrap(kr.Wrap(secret, nil), nil); err == nil {
		t.Fatal("another master key opened the wrapped key")
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load(filepath.Join(dir, "missing"), false); err == nil {
		t.Fatal("missing key file accepted without create")
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("not hex"), 0o600)
	if _, _, err := Load(bad, true); err == nil {
		t.Fatal("malformed key accepted")
	}
}
