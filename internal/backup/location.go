package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/errs"
)

// location is where a backup is kept: a directory, or a key prefix in an
// S3-compatible object store. Both hold the same files under the same
// slash-separated paths; only the manifest tells a complete backup from an
// interrupted one, so it is written last.
type location interface {
	String() string
	// prepare checks that nothing is stored there yet (a directory is
	// created if missing).
	prepare(ctx context.Context) error
	// scratch returns a local directory where the database snapshot is
	// written before adopt makes it part of the backup.
	scratch() (dir string, cleanup func(), err error)
	// adopt makes the file at local (in the scratch directory) the backup's
	// file path, and returns its checksum.
	adopt(ctx context.Context, path, local string) (File, error)
	// put writes the content of r as the backup's file path.
	put(ctx context.Context, path string, r io.Reader) (File, error)
	open(ctx context.Context, path string) (io.ReadCloser, error)
	// list returns every file of the backup, the manifest included, with
	// its size (no checksum), sorted by path.
	list(ctx context.Context) ([]File, error)
	// localFile returns the file of path on the local disk, or "" if the
	// backup is not on the local disk.
	localFile(path string) string
}

// openLocation opens a backup location: a directory path, or
// s3://bucket/prefix reached with cfg.
func openLocation(ctx context.Context, where string, cfg blob.S3Config) (location, error) {
	if where == "" {
		return nil, errs.Invalidf("backup location: empty; want a directory or s3://bucket/prefix")
	}
	scheme, _, ok := strings.Cut(where, "://")
	if !ok {
		return dirLocation(where), nil
	}
	if !strings.EqualFold(scheme, "s3") {
		return nil, errs.Invalidf("backup location %q: unknown scheme %q; want a directory or s3://bucket/prefix", where, scheme)
	}
	if cfg.Endpoint == "" {
		return nil, errs.Invalidf("backup location %s: setting s3_endpoint (HYGIE_S3_ENDPOINT) is required for s3:// (the artifact store's S3 settings are used)", where)
	}
	s, err := blob.Open(ctx, where, cfg)
	if err != nil {
		return nil, fmt.Errorf("backup location %s: %w", where, err)
	}
	return storeLocation{name: strings.TrimRight(where, "/"), store: s}, nil
}

// dirLocation is a backup in a local directory (mode 0700: a backup holds
// the master key; files 0600).
type dirLocation string

func (d dirLocation) String() string { return string(d) }

func (d dirLocation) prepare(ctx context.Context) error {
	dir := string(d)
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o700)
	case err != nil:
		return fmt.Errorf("backup directory: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("backup directory %s is not empty: back up into a new directory", dir)
	}
	return os.Chmod(dir, 0o700)
}

func (d dirLocation) scratch() (string, func(), error) { return string(d), func() {}, nil }

func (d dirLocation) adopt(ctx context.Context, path, local string) (File, error) {
	if want := d.localFile(path); local != want {
		return File{}, fmt.Errorf("backup: %s is not in the backup directory", local)
	}
	f, err := os.Open(local)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	return hashed(path, f, io.Discard)
}

func (d dirLocation) put(ctx context.Context, path string, r io.Reader) (File, error) {
	var out File
	err := writeFile(d.localFile(path), func(w io.Writer) error {
		var err error
		out, err = hashed(path, r, w)
		return err
	})
	return out, err
}

func (d dirLocation) open(ctx context.Context, path string) (io.ReadCloser, error) {
	f, err := os.Open(d.localFile(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.NotFoundf("%s is missing", path)
	}
	return f, err
}

func (d dirLocation) list(ctx context.Context) ([]File, error) {
	dir := string(d)
	var files []File
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !e.Type().IsRegular() {
			return fmt.Errorf("backup: %s is not a regular file", rel)
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		files = append(files, File{Path: rel, Size: info.Size()})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, err
}

func (d dirLocation) localFile(path string) string {
	return filepath.Join(string(d), filepath.FromSlash(path))
}

// storeLocation is a backup under a prefix of an object store. S3 PUTs are
// atomic, and the manifest is put last: a backup whose upload was
// interrupted has no manifest, and Verify refuses it.
type storeLocation struct {
	name  string
	store blob.Store
}

func (s storeLocation) String() string { return s.name }

func (s storeLocation) prepare(ctx context.Context) error {
	infos, err := s.store.List(ctx, "")
	if err != nil {
		return fmt.Errorf("backup location %s: %w", s.name, err)
	}
	if len(infos) > 0 {
		return fmt.Errorf("backup location %s is not empty (%d objects): back up under a new prefix", s.name, len(infos))
	}
	return nil
}

func (s storeLocation) scratch() (string, func(), error) {
	dir, err := os.MkdirTemp("", "hygie-backup-*") // mode 0700
	if err != nil {
		return "", nil, fmt.Errorf("backup: temporary directory for the database snapshot: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

func (s storeLocation) adopt(ctx context.Context, path, local string) (File, error) {
	f, err := os.Open(local)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	return s.put(ctx, path, f)
}

func (s storeLocation) put(ctx context.Context, path string, r io.Reader) (File, error) {
	h := sha256.New()
	info, err := s.store.Put(ctx, path, io.TeeReader(r, h))
	if err != nil {
		return File{}, fmt.Errorf("backup: upload %s: %w", path, err)
	}
	return File{Path: path, Size: info.Size, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func (s storeLocation) open(ctx context.Context, path string) (io.ReadCloser, error) {
	r, err := s.store.Get(ctx, path)
	if errs.Is(err, errs.NotFound) {
		return nil, errs.NotFoundf("%s is missing", path)
	}
	return r, err
}

func (s storeLocation) list(ctx context.Context) ([]File, error) {
	infos, err := s.store.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("backup location %s: %w", s.name, err)
	}
	files := make([]File, len(infos))
	for i, in := range infos {
		files[i] = File{Path: in.Key, Size: in.Size}
	}
	return files, nil
}

func (s storeLocation) localFile(string) string { return "" }

// hashed copies r to w and describes what was copied as the file path.
func hashed(path string, r io.Reader, w io.Writer) (File, error) {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), r)
	if err != nil {
		return File{}, err
	}
	return File{Path: path, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// checked reads a file of a backup and fails at its end unless what was
// read has the size and SHA-256 of want: a file changed after Verify is
// never restored (an object store Put fails when its reader does, and
// keeps nothing).
type checked struct {
	r    io.Reader
	want File
	h    hash.Hash
	n    int64
}

func newChecked(r io.Reader, want File) *checked {
	return &checked{r: r, want: want, h: sha256.New()}
}

func (c *checked) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if err == io.EOF && (c.n != c.want.Size || hex.EncodeToString(c.h.Sum(nil)) != c.want.SHA256) {
		return n, errs.Invalidf("backup file %s changed since it was verified: it no longer matches its checksum in the manifest", c.want.Path)
	}
	return n, err
}
