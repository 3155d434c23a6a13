package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hygie-health/hygie/internal/errs"
)

// Local is a Store in a directory: the object "a/b" is the file <dir>/a/b.
//
// Put writes a temporary file under <dir>/.hygie-tmp, fsyncs it, renames it
// over the target and fsyncs the target's directory (and those of any
// directories it created), so after a crash a key
// holds either its old or its new content, never a part. Temporary files
// left by a crash are removed by NewLocal once a day old. All access goes
// through an os.Root, so no key, symlink or race can reach outside dir.
//
// Unlike S3 and Memory, a key cannot also be a prefix directory of another
// key ("a" and "a/b"): such a Put is an errs.Conflict error. Content
// addressed keys (PutContent) never collide this way. Empty directories left
// by Delete are kept.
type Local struct {
	dir  string // absolute
	root *os.Root
}

var _ Store = (*Local)(nil)

const (
	dirPerm  = 0o750
	filePerm = 0o640
	// tmpMaxAge is the age after which NewLocal deletes a temporary file:
	// far longer than any upload, so only crash leftovers go.
	tmpMaxAge = 24 * time.Hour
)

// NewLocal opens (creating it if needed) the directory store at dir.
func NewLocal(dir string) (*Local, error) {
	if strings.TrimSpace(dir) == "" {
		return nil, errs.Invalidf("blob directory: empty path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	l := &Local{dir: abs, root: root}
	if err := root.Mkdir(reservedSegment, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		root.Close()
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	l.removeTemp(time.Now().Add(-tmpMaxAge))
	return l, nil
}

// Dir returns the absolute directory of the store.
func (l *Local) Dir() string { return l.dir }

// Close releases the directory handle; the store is unusable afterwards.
func (l *Local) Close() error { return l.root.Close() }

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	t, err := l.spool(ctx, r, io.Discard)
	if err != nil {
		return Info{}, fmt.Errorf("blob put %q: %w", key, err)
	}
	defer l.root.Remove(t.name) // fails harmlessly once renamed
	return l.commit(key, t)
}

// putContent is PutContent for Local: it spools into the store's own
// temporary directory and renames from there, instead of copying the
// content twice through the system's temporary directory.
func (l *Local) putContent(ctx context.Context, r io.Reader) (string, int64, error) {
	h := sha256.New()
	t, err := l.spool(ctx, r, h)
	if err != nil {
		return "", 0, fmt.Errorf("blob spool: %w", err)
	}
	defer l.root.Remove(t.name)
	key := ContentKey([sha256.Size]byte(h.Sum(nil)))
	if _, err := l.Stat(ctx, key); err == nil {
		return key, t.size, nil
	} else if !errs.Is(err, errs.NotFound) {
		return "", 0, err
	}
	if _, err := l.commit(key, t); err != nil {
		return "", 0, err
	}
	return key, t.size, nil
}

// tempFile is a complete, fsynced and closed temporary file.
type tempFile struct {
	name    string // relative to the root
	size    int64
	modTime time.Time
}

// spool copies r to a new temporary file, and to w, and makes it durable.
// On error it removes the file.
func (l *Local) spool(ctx context.Context, r io.Reader, w io.Writer) (t tempFile, err error) {
	f, err := l.createTemp()
	if err != nil {
		return tempFile{}, err
	}
	name := path.Join(reservedSegment, filepath.Base(f.Name()))
	defer func() {
		if err != nil {
			f.Close()
			l.root.Remove(name)
		}
	}()
	t.name = name
	if t.size, err = io.Copy(io.MultiWriter(f, w), ctxReader{ctx, r}); err != nil {
		return tempFile{}, err
	}
	if err := f.Sync(); err != nil {
		return tempFile{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return tempFile{}, err
	}
	t.modTime = fi.ModTime()
	return t, f.Close()
}

// commit renames the temporary file t to key and makes the rename durable.
func (l *Local) commit(key string, t tempFile) (Info, error) {
	dir := path.Dir(key)
	if err := l.mkdirs(key, dir); err != nil {
		return Info{}, err
	}
	if fi, err := l.root.Lstat(key); err == nil && fi.IsDir() {
		return Info{}, errs.Conflictf("blob key %q: is a prefix of other keys, which a directory store cannot hold", key)
	}
	if err := l.root.Rename(t.name, key); err != nil {
		return Info{}, fmt.Errorf("blob put %q: %w", key, err)
	}
	if err := l.syncDir(dir); err != nil {
		return Info{}, fmt.Errorf("blob put %q: %w", key, err)
	}
	return Info{Key: key, Size: t.size, ModTime: t.modTime}, nil
}

// mkdirs creates the directory dir of key and makes the new entries durable.
func (l *Local) mkdirs(key, dir string) error {
	if dir == "." {
		return nil
	}
	if fi, err := l.root.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if err := l.root.MkdirAll(dir, dirPerm); err != nil {
		for d := dir; d != "."; d = path.Dir(d) {
			if fi, err := l.root.Lstat(d); err == nil && !fi.IsDir() {
				return errs.Conflictf("blob key %q: %q is a key, which a directory store cannot also use as a prefix", key, d)
			}
		}
		return fmt.Errorf("blob put %q: %w", key, err)
	}
	for d := dir; d != "."; {
		d = path.Dir(d)
		if err := l.syncDir(d); err != nil {
			return fmt.Errorf("blob put %q: %w", key, err)
		}
	}
	return nil
}

// createTemp creates a new empty file in the temporary directory.
func (l *Local) createTemp() (*os.File, error) {
	for try := 0; ; try++ {
		name := path.Join(reservedSegment, "put-"+rand.Text())
		f, err := l.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
		switch {
		case err == nil:
			return f, nil
		case try < 3 && errors.Is(err, fs.ErrNotExist):
			// Someone removed the temporary directory: recreate it.
			if err := l.root.Mkdir(reservedSegment, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, err
			}
		case try < 3 && errors.Is(err, fs.ErrExist):
			// A name collision, however unlikely: draw again.
		default:
			return nil, err
		}
	}
}

// syncDir fsyncs a directory so that the entries created or renamed in it
// survive a crash.
func (l *Local) syncDir(dir string) error {
	d, err := l.root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeTemp removes temporary files older than before: leftovers of a
// crash in the middle of a Put. Errors are ignored; it is only housekeeping.
func (l *Local) removeTemp(before time.Time) {
	entries, err := fs.ReadDir(l.root.FS(), reservedSegment)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(before) {
			l.root.Remove(path.Join(reservedSegment, e.Name()))
		}
	}
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := l.root.Open(key)
	if err != nil {
		return nil, l.mapErr(key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, l.mapErr(key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notFound(key)
	}
	return f, nil
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	fi, err := l.root.Stat(key)
	if err != nil {
		return Info{}, l.mapErr(key, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, notFound(key)
	}
	return Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// mapErr turns "no such file" (also when a prefix of key is a file) into
// errs.NotFound.
func (l *Local) mapErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return notFound(key)
	}
	return fmt.Errorf("blob %q: %w", key, err)
}

// List implements Store.
func (l *Local) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	// Walk only the deepest directory the prefix names, and only into
	// subdirectories that can hold matching keys.
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
	}
	var out []Info
	err := fs.WalkDir(l.root.FS(), start, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if name == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll // nothing under the prefix
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if name == "." {
				return nil
			}
			if name == reservedSegment || !strings.HasPrefix(name+"/", prefix) && !strings.HasPrefix(prefix, name+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(name, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			return err
		}
		out = append(out, Info{Key: name, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("blob list %q: %w", prefix, err)
	}
	// A walk visits "a/b" before "a-c"; keys sort bytewise.
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := l.root.Lstat(key)
	if err != nil {
		if errs.Is(l.mapErr(key, err), errs.NotFound) {
			return nil
		}
		return fmt.Errorf("blob delete %q: %w", key, err)
	}
	if fi.IsDir() {
		return nil // a prefix of other keys, not a key
	}
	if err := l.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob delete %q: %w", key, err)
	}
	if err := l.syncDir(path.Dir(key)); err != nil {
		return fmt.Errorf("blob delete %q: %w", key, err)
	}
	return nil
}

// Ping implements Store: the directory must still be the one opened, and
// writable (a disk remounted read-only or full fails here).
func (l *Local) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Stat(l.dir)
	if err != nil {
		return fmt.Errorf("blob directory: %w", err)
	}
	rfi, err := l.root.Stat(".")
	if err != nil {
		return fmt.Errorf("blob directory: %w", err)
	}
	if !os.SameFile(fi, rfi) {
		return fmt.Errorf("blob directory %s was replaced since it was opened", l.dir)
	}
	f, err := l.createTemp()
	if err != nil {
		return fmt.Errorf("blob directory not writable: %w", err)
	}
	name := path.Join(reservedSegment, filepath.Base(f.Name()))
	_, werr := f.Write([]byte("ping"))
	cerr := f.Close()
	l.root.Remove(name)
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("blob directory not writable: %w", err)
	}
	return nil
}
