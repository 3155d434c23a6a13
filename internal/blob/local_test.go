package blob

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/errs"
)

// assertNoTempFiles checks that no temporary file of Local remains.
func assertNoTempFiles(t *testing.T, l *Local) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(l.Dir(), reservedSegment))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("temporary file left behind: %s", e.Name())
	}
}

func newTestLocal(t *testing.T) *Local {
	t.Helper()
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLocalFailedPutLeavesNoTempFile(t *testing.T) {
	l := newTestLocal(t)
	if _, err := l.Put(t.Context(), "a/b", &failingReader{n: 5000}); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	assertNoTempFiles(t, l)
	if got := mustList(t, l, ""); len(got) != 0 {
		t.Errorf("List after failed Put = %v", got)
	}
}

func TestLocalLayoutAndPermissions(t *testing.T) {
	l := newTestLocal(t)
	mustPut(t, l, "models/m1/weights.bin", []byte("w"))
	b, err := os.ReadFile(filepath.Join(l.Dir(), "models", "m1", "weights.bin"))
	if err != nil || string(b) != "w" {
		t.Fatalf("object file: %q, %v", b, err)
	}
	for name, want := range map[string]fs.FileMode{
		"models":                dirPerm,
		"models/m1":             dirPerm,
		"models/m1/weights.bin": filePerm,
		reservedSegment:         dirPerm,
	} {
		fi, err := os.Stat(filepath.Join(l.Dir(), filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		// The umask may remove bits, never add them.
		if extra := fi.Mode().Perm() &^ want; extra != 0 {
			t.Errorf("%s: mode %v, want at most %v", name, fi.Mode().Perm(), want)
		}
	}
}

func TestLocalTempFilesHiddenAndCleaned(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, l, "k", []byte("x"))
	// Leftovers of a crash: one old, one recent (maybe a Put in progress).
	tmp := filepath.Join(dir, reservedSegment)
	old, recent := filepath.Join(tmp, "put-old"), filepath.Join(tmp, "put-recent")
	for _, p := range []string{old, recent} {
		if err := os.WriteFile(p, []byte("partial"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-tmpMaxAge - time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if got := keys(mustList(t, l, "")); !slices.Equal(got, []string{"k"}) {
		t.Errorf("List shows temporary files: %q", got)
	}
	l.Close()

	l, err = NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("old temporary file not removed by NewLocal: %v", err)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("recent temporary file removed by NewLocal: %v", err)
	}
	// Even with its directory removed behind its back, Put recreates it.
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	mustPut(t, l, "k2", []byte("y"))
}

func TestLocalPrefixConflicts(t *testing.T) {
	l := newTestLocal(t)
	mustPut(t, l, "a", []byte("file"))
	if _, err := l.Put(t.Context(), "a/b", strings.NewReader("x")); !errs.Is(err, errs.Conflict) {
		t.Errorf("Put under a key: %v, want conflict", err)
	}
	mustPut(t, l, "x/y", []byte("file"))
	if _, err := l.Put(t.Context(), "x", strings.NewReader("x")); !errs.Is(err, errs.Conflict) {
		t.Errorf("Put over a prefix: %v, want conflict", err)
	}
	// The prefix directory is not an object.
	if _, err := l.Stat(t.Context(), "x"); !errs.Is(err, errs.NotFound) {
		t.Errorf("Stat of a directory: %v, want not found", err)
	}
	if err := l.Delete(t.Context(), "x"); err != nil {
		t.Errorf("Delete of a directory: %v, want nil", err)
	}
	if got := mustGet(t, l, "x/y"); string(got) != "file" {
		t.Errorf("x/y = %q after Delete(x)", got)
	}
	assertNoTempFiles(t, l)
}

func TestLocalSymlinkCannotEscape(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := newTestLocal(t)
	if err := os.Symlink(outside, filepath.Join(l.Dir(), "escape")); err != nil {
		t.Skip("no symlinks:", err)
	}
	if rc, err := l.Get(t.Context(), "escape/secret"); err == nil {
		rc.Close()
		t.Error("Get followed a symlink out of the store")
	}
	if _, err := l.Put(t.Context(), "escape/new", strings.NewReader("x")); err == nil {
		t.Error("Put followed a symlink out of the store")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("Put wrote outside the store")
	}
}

func TestLocalPing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	assertNoTempFiles(t, l)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := l.Ping(t.Context()); err == nil {
		t.Error("Ping succeeded with the directory removed")
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := l.Ping(t.Context()); err == nil {
		t.Error("Ping succeeded with the directory replaced")
	}
}

func TestNewLocalErrors(t *testing.T) {
	if _, err := NewLocal(""); !errs.Is(err, errs.Invalid) {
		t.Errorf("NewLocal(\"\") = %v, want invalid", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLocal(file); err == nil {
		t.Error("NewLocal on a file succeeded")
	}
}

func TestLocalPutContent(t *testing.T) {
	ctx := t.Context()
	l := newTestLocal(t)
	key, size, err := PutContent(ctx, l, strings.NewReader("weights"))
	if err != nil || size != 7 || !contentKeyRE.MatchString(key) {
		t.Fatalf("PutContent = %q, %d, %v", key, size, err)
	}
	file := filepath.Join(l.Dir(), filepath.FromSlash(key))
	before, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	key2, _, err := PutContent(ctx, l, strings.NewReader("weights"))
	if err != nil || key2 != key {
		t.Fatalf("second PutContent = %q, %v", key2, err)
	}
	after, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("second PutContent rewrote the file")
	}
	if _, _, err := PutContent(ctx, l, &failingReader{n: 100}); err == nil {
		t.Error("PutContent with a failing reader succeeded")
	}
	// A content key whose path is taken is a conflict, not a silent loss.
	blocked, _, _ := strings.Cut(key, "/")
	l2 := newTestLocal(t)
	mustPut(t, l2, blocked, []byte("a file where a directory should be"))
	if _, _, err := PutContent(ctx, l2, strings.NewReader("weights")); !errs.Is(err, errs.Conflict) {
		t.Errorf("PutContent under a file: %v, want conflict", err)
	}
	assertNoTempFiles(t, l)
	assertNoTempFiles(t, l2)
}
