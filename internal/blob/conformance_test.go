package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
)

// The conformance suite: every Store implementation must pass testStore.

func TestMemory(t *testing.T) { testStore(t, NewMemory()) }

func TestLocal(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	testStore(t, l)
	assertNoTempFiles(t, l)
}

func TestS3(t *testing.T) {
	t.Run("bucket", func(t *testing.T) { testStore(t, newTestS3(t, "")) })
	t.Run("prefix", func(t *testing.T) { testStore(t, newTestS3(t, "some/prefix")) })
}

// testStore runs the conformance suite against s. The subtests share s, so
// each works under its own key prefix.
func testStore(t *testing.T, s Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, s Store)
	}{
		{"round trip", func(t *testing.T, ctx context.Context, s Store) {
			for _, key := range []string{"rt/a", "rt/dir/sub/file.bin", "rt/empty", "rt/ünïcødé 名前 (1).txt", "rt/.hidden"} {
				content := []byte("content of " + key)
				if key == "rt/empty" {
					content = nil
				}
				info := mustPut(t, s, key, content)
				if info.Key != key || info.Size != int64(len(content)) || info.ModTime.IsZero() {
					t.Errorf("Put(%q) = %+v, want key, size %d and a time", key, info, len(content))
				}
				if got := mustGet(t, s, key); !bytes.Equal(got, content) {
					t.Errorf("Get(%q) = %q, want %q", key, got, content)
				}
			}
		}},
		{"overwrite", func(t *testing.T, ctx context.Context, s Store) {
			mustPut(t, s, "ow/k", []byte("first version, longer"))
			mustPut(t, s, "ow/k", []byte("second"))
			if got := mustGet(t, s, "ow/k"); string(got) != "second" {
				t.Errorf("Get after overwrite = %q, want %q", got, "second")
			}
			if info := mustStat(t, s, "ow/k"); info.Size != 6 {
				t.Errorf("Stat after overwrite: size %d, want 6", info.Size)
			}
			if infos := mustList(t, s, "ow/"); len(infos) != 1 {
				t.Errorf("List after overwrite = %v, want one object", infos)
			}
		}},
		{"stat", func(t *testing.T, ctx context.Context, s Store) {
			put := mustPut(t, s, "stat/k", []byte("12345"))
			info := mustStat(t, s, "stat/k")
			if info.Key != "stat/k" || info.Size != 5 || info.ModTime.IsZero() {
				t.Errorf("Stat = %+v, want key stat/k, size 5 and a time", info)
			}
			if d := info.ModTime.Sub(put.ModTime); d < -2e9 || d > 2e9 {
				t.Errorf("Stat time %v far from Put time %v", info.ModTime, put.ModTime)
			}
		}},
		{"list", func(t *testing.T, ctx context.Context, s Store) {
			// "a-c" < "a/b" < "ab" bytewise, unlike a directory walk's order.
			for _, key := range []string{"list/b", "list/ab", "list/a/b", "list/a-c", "list/a/c/d", "listx/y"} {
				mustPut(t, s, key, []byte(key))
			}
			for _, tc := range []struct {
				prefix string
				want   []string
			}{
				{"list/", []string{"list/a-c", "list/a/b", "list/a/c/d", "list/ab", "list/b"}},
				{"list/a", []string{"list/a-c", "list/a/b", "list/a/c/d", "list/ab"}},
				{"list/a/", []string{"list/a/b", "list/a/c/d"}},
				{"list/a/c", []string{"list/a/c/d"}},
				{"list/a/c/d", []string{"list/a/c/d"}},
				{"list", []string{"list/a-c", "list/a/b", "list/a/c/d", "list/ab", "list/b", "listx/y"}},
				{"list/z", nil},
				{"nothing/here/", nil},
				{"list/b/", nil}, // b is an object, not a prefix
			} {
				infos := mustList(t, s, tc.prefix)
				if got := keys(infos); !slices.Equal(got, tc.want) {
					t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
				}
				for _, info := range infos {
					if info.Size != int64(len(info.Key)) || info.ModTime.IsZero() {
						t.Errorf("List(%q): %+v, want size %d and a time", tc.prefix, info, len(info.Key))
					}
				}
			}
			all := keys(mustList(t, s, ""))
			if !slices.IsSorted(all) {
				t.Errorf("List(\"\") not sorted: %q", all)
			}
			if !slices.Contains(all, "list/a/c/d") || !slices.Contains(all, "listx/y") {
				t.Errorf("List(\"\") = %q, missing keys", all)
			}
		}},
		{"delete", func(t *testing.T, ctx context.Context, s Store) {
			mustPut(t, s, "del/k", []byte("x"))
			mustPut(t, s, "del/keep", []byte("y"))
			if err := s.Delete(ctx, "del/k"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := s.Stat(ctx, "del/k"); !errs.Is(err, errs.NotFound) {
				t.Errorf("Stat after Delete: %v, want not found", err)
			}
			if got := keys(mustList(t, s, "del/")); !slices.Equal(got, []string{"del/keep"}) {
				t.Errorf("List after Delete = %q", got)
			}
			for _, key := range []string{"del/k", "del/never", "del/never/deeper", "del/keep/under"} {
				if err := s.Delete(ctx, key); err != nil {
					t.Errorf("Delete(%q) of a missing key: %v, want nil", key, err)
				}
			}
			mustPut(t, s, "del/k", []byte("again")) // a deleted key can be reused
			if got := mustGet(t, s, "del/k"); string(got) != "again" {
				t.Errorf("Get after re-Put = %q", got)
			}
		}},
		{"not found", func(t *testing.T, ctx context.Context, s Store) {
			mustPut(t, s, "nf/file", []byte("x"))
			for _, key := range []string{"nf/missing", "nf/file/under", "nf", "nowhere/at/all"} {
				if rc, err := s.Get(ctx, key); !errs.Is(err, errs.NotFound) {
					if rc != nil {
						rc.Close()
					}
					t.Errorf("Get(%q) error = %v, want not found", key, err)
				}
				if _, err := s.Stat(ctx, key); !errs.Is(err, errs.NotFound) {
					t.Errorf("Stat(%q) error = %v, want not found", key, err)
				}
			}
		}},
		{"invalid keys", func(t *testing.T, ctx context.Context, s Store) {
			before := keys(mustList(t, s, ""))
			for _, key := range invalidKeys {
				if _, err := s.Put(ctx, key, strings.NewReader("x")); !errs.Is(err, errs.Invalid) {
					t.Errorf("Put(%q) error = %v, want invalid", key, err)
				}
				if rc, err := s.Get(ctx, key); !errs.Is(err, errs.Invalid) {
					if rc != nil {
						rc.Close()
					}
					t.Errorf("Get(%q) error = %v, want invalid", key, err)
				}
				if _, err := s.Stat(ctx, key); !errs.Is(err, errs.Invalid) {
					t.Errorf("Stat(%q) error = %v, want invalid", key, err)
				}
				if err := s.Delete(ctx, key); !errs.Is(err, errs.Invalid) {
					t.Errorf("Delete(%q) error = %v, want invalid", key, err)
				}
			}
			for _, prefix := range []string{"/abs", "a//b", "../x", "a/../b", "a\\b", "a\x00", ".hygie-tmp/"} {
				if _, err := s.List(ctx, prefix); !errs.Is(err, errs.Invalid) {
					t.Errorf("List(%q) error = %v, want invalid", prefix, err)
				}
			}
			if after := keys(mustList(t, s, "")); !slices.Equal(after, before) {
				t.Errorf("invalid Puts wrote something: before %q, after %q", before, after)
			}
		}},
		{"failed put leaves nothing", func(t *testing.T, ctx context.Context, s Store) {
			for _, r := range []io.Reader{
				&failingReader{n: 1000},
				&failingReader{n: 3 << 20},  // after several buffers' worth
				&failingReader{n: 17 << 20}, // after an S3 multipart part
			} {
				_, err := s.Put(ctx, "fail/new", r)
				if !errors.Is(err, errBoom) {
					t.Errorf("Put with a failing reader: error %v, want %v", err, errBoom)
				}
				if _, err := s.Stat(ctx, "fail/new"); !errs.Is(err, errs.NotFound) {
					t.Errorf("Stat after failed Put: %v, want not found", err)
				}
			}
			mustPut(t, s, "fail/old", []byte("old content"))
			if _, err := s.Put(ctx, "fail/old", &failingReader{n: 100}); !errors.Is(err, errBoom) {
				t.Errorf("Put over an object with a failing reader: error %v, want %v", err, errBoom)
			}
			if got := mustGet(t, s, "fail/old"); string(got) != "old content" {
				t.Errorf("after a failed overwrite Get = %q, want the old content", got)
			}
			if got := keys(mustList(t, s, "fail/")); !slices.Equal(got, []string{"fail/old"}) {
				t.Errorf("List after failed Puts = %q", got)
			}
		}},
		{"canceled context", func(t *testing.T, ctx context.Context, s Store) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := s.Put(cctx, "cancel/k", strings.NewReader("x")); err == nil {
				t.Error("Put with a canceled context succeeded")
			}
			if _, err := s.Stat(ctx, "cancel/k"); !errs.Is(err, errs.NotFound) {
				t.Errorf("Stat after canceled Put: %v, want not found", err)
			}
		}},
		{"put content", func(t *testing.T, ctx context.Context, s Store) {
			content := []byte("a model, a dataset: any content")
			sum := sha256.Sum256(content)
			want := "sha256/" + hex.EncodeToString(sum[:1]) + "/" + hex.EncodeToString(sum[:])
			cs := &countingStore{Store: s}
			key, size, err := PutContent(ctx, cs, bytes.NewReader(content))
			if err != nil {
				t.Fatalf("PutContent: %v", err)
			}
			if key != want || size != int64(len(content)) {
				t.Errorf("PutContent = %q, %d; want %q, %d", key, size, want, len(content))
			}
			if !contentKeyRE.MatchString(key) {
				t.Errorf("PutContent key %q does not match %v", key, contentKeyRE)
			}
			if got := mustGet(t, s, key); !bytes.Equal(got, content) {
				t.Errorf("Get(%q) = %q", key, got)
			}
			key2, size2, err := PutContent(ctx, cs, strings.NewReader(string(content)))
			if err != nil || key2 != key || size2 != size {
				t.Errorf("second PutContent = %q, %d, %v; want %q, %d", key2, size2, err, key, size)
			}
			if cs.puts != 1 {
				t.Errorf("PutContent twice wrote %d times, want once", cs.puts)
			}
			emptyKey, n, err := PutContent(ctx, s, strings.NewReader(""))
			if err != nil || n != 0 || emptyKey != "sha256/e3/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
				t.Errorf("PutContent(empty) = %q, %d, %v", emptyKey, n, err)
			}
			if _, _, err := PutContent(ctx, s, &failingReader{n: 10}); !errors.Is(err, errBoom) {
				t.Errorf("PutContent with a failing reader: %v, want %v", err, errBoom)
			}
		}},
		{"large object", func(t *testing.T, ctx context.Context, s Store) {
			content := make([]byte, 5<<20+123)
			rng := rand.NewChaCha8([32]byte{1})
			rng.Read(content)
			// Known size (bytes.Reader) and unknown size (a plain io.Reader).
			for key, r := range map[string]io.Reader{
				"large/known":   bytes.NewReader(content),
				"large/unknown": struct{ io.Reader }{bytes.NewReader(content)},
			} {
				info, err := s.Put(ctx, key, r)
				if err != nil {
					t.Fatalf("Put(%q): %v", key, err)
				}
				if info.Size != int64(len(content)) {
					t.Errorf("Put(%q) size %d, want %d", key, info.Size, len(content))
				}
				if got := mustGet(t, s, key); !bytes.Equal(got, content) {
					t.Errorf("Get(%q): %d bytes differ from the %d put", key, len(got), len(content))
				}
				if st := mustStat(t, s, key); st.Size != int64(len(content)) {
					t.Errorf("Stat(%q) size %d, want %d", key, st.Size, len(content))
				}
			}
			key, size, err := PutContent(ctx, s, bytes.NewReader(content))
			sum := sha256.Sum256(content)
			if err != nil || size != int64(len(content)) || !strings.HasSuffix(key, hex.EncodeToString(sum[:])) {
				t.Errorf("PutContent(large) = %q, %d, %v", key, size, err)
			}
		}},
		{"concurrent", func(t *testing.T, ctx context.Context, s Store) {
			// Readers racing with writers see one whole version, never a mix.
			const writers, size = 6, 64 << 10
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					if _, err := s.Put(ctx, "conc/k", bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, size))); err != nil {
						t.Errorf("Put: %v", err)
					}
				})
				wg.Go(func() {
					rc, err := s.Get(ctx, "conc/k")
					if errs.Is(err, errs.NotFound) {
						return // not written yet
					}
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					defer rc.Close()
					got, err := io.ReadAll(rc)
					if err != nil {
						t.Errorf("read: %v", err)
						return
					}
					if len(got) != size || bytes.Count(got, got[:1]) != size {
						t.Errorf("Get saw a partial or mixed object: %d bytes", len(got))
					}
				})
			}
			wg.Wait()
		}},
		{"ping", func(t *testing.T, ctx context.Context, s Store) {
			if err := s.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, t.Context(), s) })
	}
}

// invalidKeys are rejected by ValidateKey; each names the rule it breaks.
var invalidKeys = []string{
	"",
	"/abs",
	"/",
	"a/",
	"a//b",
	"..",
	"../x",
	"a/../b",
	"a/..",
	".",
	"./a",
	"a/./b",
	"a\\b",
	"..\\x",
	"a\x00b",
	"a\nb",
	"a\tb",
	"\x7f",
	"a\u0085b",     // C1 control (NEL)
	"a\xffb",       // not UTF-8
	".hygie-tmp/x", // Local's temporary directory
	".hygie-tmp",   // idem
	strings.Repeat("a", 256),
	strings.Repeat("a/", 512) + "a",
}

var contentKeyRE = regexp.MustCompile(`^sha256/([0-9a-f]{2})/([0-9a-f]{64})$`)

var errBoom = errors.New("boom: the reader failed")

var xs [4096]byte

// failingReader yields n bytes then fails.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errBoom
	}
	n := min(len(p), f.n)
	for i := 0; i < n; {
		i += copy(p[i:n], xs[:])
	}
	f.n -= n
	return n, nil
}

// countingStore counts Puts, to check PutContent does not rewrite.
type countingStore struct {
	Store
	mu   sync.Mutex
	puts int
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	c.mu.Lock()
	c.puts++
	c.mu.Unlock()
	return c.Store.Put(ctx, key, r)
}

func mustPut(t *testing.T, s Store, key string, content []byte) Info {
	t.Helper()
	info, err := s.Put(t.Context(), key, bytes.NewReader(content))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return info
}

func mustGet(t *testing.T, s Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b
}

func mustStat(t *testing.T, s Store, key string) Info {
	t.Helper()
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	return info
}

func mustList(t *testing.T, s Store, prefix string) []Info {
	t.Helper()
	infos, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return infos
}

func keys(infos []Info) []string {
	var out []string
	for _, i := range infos {
		out = append(out, i.Key)
	}
	return out
}

func TestValidateKey(t *testing.T) {
	for _, key := range []string{"a", "a/b/c", "sha256/ab/" + strings.Repeat("ab", 32), ".hidden", "a/.hygie-tmp", "...", "a..b/c", "ünï/名前", "with space", strings.Repeat("a", 255), strings.Repeat("a/", 511) + "a"} {
		if err := ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", key, err)
		}
	}
	for _, key := range invalidKeys {
		err := ValidateKey(key)
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("ValidateKey(%q) = %v, want an invalid error", key, err)
			continue
		}
		if msg := errs.MessageOf(err); !strings.HasPrefix(msg, fmt.Sprintf("blob key %q: ", key)) {
			t.Errorf("ValidateKey(%q) message %q does not name the key", key, msg)
		}
	}
	for _, prefix := range []string{"", "a", "a/", "a/b", "a/.", "a/..", ".", "..", ".hygie", ".hygie-tmp"} {
		if err := validatePrefix(prefix); err != nil {
			t.Errorf("validatePrefix(%q) = %v, want nil", prefix, err)
		}
	}
}
