// Package blob stores hygie's artifacts and dataset files as opaque objects
// named by slash-separated keys, behind one small interface with three
// implementations: a local directory (the default, for a single hospital
// server), any S3-compatible object store (MinIO, Ceph, AWS) and memory (for
// tests). All three pass the same conformance suite, so the rest of hygie
// never knows which one it runs on.
//
// Keys are validated identically by every implementation (see ValidateKey) so
// that a store can be moved from a directory to S3 and back without renaming
// anything. PutContent stores content under its SHA-256, which makes every
// stored file immutable and its provenance checkable.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
)

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Store is a flat namespace of objects named by keys (see ValidateKey).
// Implementations are safe for concurrent use.
type Store interface {
	// Put stores the content of r under key, atomically replacing any
	// previous object: readers see the old or the new content, never a part,
	// and if reading r fails the previous object (or its absence) remains.
	Put(ctx context.Context, key string, r io.Reader) (Info, error)
	// Get opens the object; the caller closes it. A missing key is an
	// errs.NotFound error.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes the object. A missing key is an errs.NotFound error.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns the objects whose key starts with prefix (a plain string
	// prefix: "a/b" matches "a/b/c" and "a/bc"), sorted by key. An empty
	// prefix lists everything.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes the object; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Ping reports whether the store is reachable and usable; /readyz uses it.
	Ping(ctx context.Context) error
}

const (
	// MaxKeyLen is the longest key in bytes (the S3 limit).
	MaxKeyLen = 1024
	// maxSegmentLen is the longest path segment in bytes (the usual file
	// name limit), so every key is also a valid file path for Local.
	maxSegmentLen = 255
	// reservedSegment is the top-level directory where Local keeps its
	// temporary files; no key may start with it.
	reservedSegment = ".hygie-tmp"
)

// ValidateKey reports whether key is a valid object key: a relative,
// slash-separated path of non-empty segments, none of them "." or "..",
// without backslashes or control characters, in valid UTF-8, at most
// MaxKeyLen bytes (255 per segment), not under the reserved top-level
// directory ".hygie-tmp". The error is an errs.Invalid error.
func ValidateKey(key string) error { return validate("blob key", key, false) }

// validatePrefix checks a List prefix: empty, or a key whose last segment may
// be partial (empty after a trailing slash, or the start of a name, such as
// "." or ".hygie"), under the same rules as keys otherwise.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return validate("blob prefix", prefix, true)
}

func validate(what, key string, partialLast bool) error {
	if key == "" {
		return errs.Invalidf("%s %q: empty", what, key)
	}
	if len(key) > MaxKeyLen {
		return errs.Invalidf("%s %q: longer than %d bytes", what, key, MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return errs.Invalidf("%s %q: not valid UTF-8", what, key)
	}
	for _, r := range key {
		switch {
		case r == 0:
			return errs.Invalidf("%s %q: contains a NUL character", what, key)
		case unicode.IsControl(r):
			return errs.Invalidf("%s %q: contains a control character", what, key)
		case r == '\\':
			return errs.Invalidf("%s %q: contains a backslash (use / to separate segments)", what, key)
		}
	}
	if key[0] == '/' {
		return errs.Invalidf("%s %q: absolute path (leading /)", what, key)
	}
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case len(seg) > maxSegmentLen:
			return errs.Invalidf("%s %q: path segment longer than %d bytes", what, key, maxSegmentLen)
		case partialLast && last:
			// The start of a segment: anything goes.
		case seg == "":
			return errs.Invalidf("%s %q: empty path segment (leading, trailing or double /)", what, key)
		case seg == "." || seg == "..":
			return errs.Invalidf("%s %q: %q path segment", what, key, seg)
		case i == 0 && seg == reservedSegment:
			return errs.Invalidf("%s %q: %s/ is reserved", what, key, reservedSegment)
		}
	}
	return nil
}

// ContentKey returns the key under which PutContent stores content whose
// SHA-256 is sum: sha256/<first 2 hex digits>/<64 hex digits>.
func ContentKey(sum [sha256.Size]byte) string {
	h := hex.EncodeToString(sum[:])
	return "sha256/" + h[:2] + "/" + h
}

// PutContent stores the content of r under its content address (see
// ContentKey) and returns that key and the content size. If the key already
// exists, nothing is written: equal keys mean equal content. The content is
// spooled to a temporary file while hashing (os.CreateTemp; for Local, in
// the store's own directory), so the stored bytes are exactly the hashed
// ones.
func PutContent(ctx context.Context, s Store, r io.Reader) (key string, size int64, err error) {
	if cp, ok := s.(contentPutter); ok {
		return cp.putContent(ctx, r)
	}
	f, err := os.CreateTemp("", "hygie-blob-*")
	if err != nil {
		return "", 0, fmt.Errorf("blob spool: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err != nil {
		return "", 0, fmt.Errorf("blob spool: %w", err)
	}
	key = ContentKey([sha256.Size]byte(h.Sum(nil)))
	if _, err := s.Stat(ctx, key); err == nil {
		return key, size, nil
	} else if !errs.Is(err, errs.NotFound) {
		return "", 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, fmt.Errorf("blob spool: %w", err)
	}
	if _, err := s.Put(ctx, key, f); err != nil {
		return "", 0, err
	}
	return key, size, nil
}

// contentPutter is a Store that implements PutContent better than spooling
// to the system's temporary directory.
type contentPutter interface {
	putContent(ctx context.Context, r io.Reader) (key string, size int64, err error)
}

// S3Config says how to reach an S3-compatible service.
type S3Config struct {
	// Endpoint is host:port; an http:// or https:// prefix is accepted and
	// then decides TLS instead of UseSSL.
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	UseSSL    bool
}

// setting names the configuration setting Open's location comes from, for
// error messages.
const setting = "setting artifacts (HYGIE_ARTIFACTS)"

// Open opens the store a location names:
//
//   - a directory path, or file:///absolute/path: Local;
//   - s3://bucket or s3://bucket/key/prefix: S3 with cfg (the bucket is
//     created if missing);
//   - mem://: Memory (tests and demos; nothing survives the process).
//
// An empty location is an error: the caller resolves the default
// (<data>/blobs) since only it knows the data directory.
func Open(ctx context.Context, location string, cfg S3Config) (Store, error) {
	if location == "" {
		return nil, errs.Invalidf("%s: empty location; use a directory, file:///path, s3://bucket/prefix or mem://", setting)
	}
	scheme, _, ok := strings.Cut(location, "://")
	if !ok || !isScheme(scheme) {
		return NewLocal(location)
	}
	u, err := url.Parse(location)
	if err != nil {
		return nil, errs.Invalidf("%s: not a valid URL", setting)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errs.Invalidf("%s: user info, query and fragment are not allowed in the location (credentials go in the s3_* settings)", setting)
	}
	switch strings.ToLower(scheme) {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, errs.Invalidf("%s: file:// URL with a host; want file:///absolute/path", setting)
		}
		if u.Path == "" {
			return nil, errs.Invalidf("%s: file:// URL without a path; want file:///absolute/path", setting)
		}
		return NewLocal(u.Path)
	case "s3":
		if u.Host == "" {
			return nil, errs.Invalidf("%s: s3:// URL without a bucket; want s3://bucket/prefix", setting)
		}
		if cfg.Endpoint == "" {
			return nil, errs.Invalidf("setting s3_endpoint (HYGIE_S3_ENDPOINT): required when artifacts is s3://")
		}
		return NewS3(ctx, u.Host, strings.Trim(u.Path, "/"), cfg)
	case "mem":
		if u.Host != "" || strings.Trim(u.Path, "/") != "" {
			return nil, errs.Invalidf("%s: mem:// takes no bucket or path", setting)
		}
		return NewMemory(), nil
	default:
		return nil, errs.Invalidf("%s: unknown scheme %q; want a directory, file:///path, s3://bucket/prefix or mem://", setting, scheme)
	}
}

// isScheme reports whether s is a URL scheme (RFC 3986 section 3.1). A
// Windows drive letter ("C:\dir") never reaches here: it has no "://".
func isScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// ctxReader makes a read of a slow or endless reader stop when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// notFound is the error Get and Stat return for a missing key.
func notFound(key string) error {
	return errs.NotFoundf("blob %q not found", key)
}
