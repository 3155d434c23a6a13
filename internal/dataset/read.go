package dataset

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/keys"
)

// authorizeRead applies the rules of every read of a version's content:
// identifying versions need the steward's permission, and every read of
// one is audited, allowed or not; other versions need dataset.read.
func (s *Service) authorizeRead(ctx context.Context, v Version, detail map[string]any) error {
	if v.Level == Identifying {
		err := auth.Require(ctx, v.Project, auth.PermIdentifyingData)
		outcome := audit.Success
		if err != nil {
			outcome = audit.Denied
		}
		ev := audit.Event{Action: "dataset.read_identifying", Project: v.Project, Target: "dataset:" + v.Ref(), Outcome: outcome}
		if detail != nil {
			ev.Detail = audit.MarshalDetail(detail)
		}
		if aerr := s.audit.Append(ctx, ev); aerr != nil {
			return aerr
		}
		return err
	}
	return auth.Require(ctx, v.Project, auth.PermDatasetRead)
}

// content is an opened version content: random access to its Parquet bytes.
type content struct {
	r     io.ReaderAt
	size  int64
	close func()
}

// openContent opens v's stored content (decrypted) for random access. The
// caller has authorized the read.
func (s *Service) openContent(ctx context.Context, v Version) (*content, error) {
	if v.Format != FormatParquet {
		return nil, fmt.Errorf("dataset %s is stored as %q, which this version of hygie does not read", v.Ref(), v.Format)
	}
	rc, err := s.blobs.Get(ctx, v.blobKey)
	if err != nil {
		return nil, fmt.Errorf("dataset %s content: %w", v.Ref(), err)
	}
	c := &content{close: func() { rc.Close() }}
	if f, ok := rc.(*os.File); ok {
		fi, err := f.Stat()
		if err != nil {
			c.close()
			return nil, fmt.Errorf("dataset %s content: %w", v.Ref(), err)
		}
		c.r, c.size = f, fi.Size()
	} else {
		// Not seekable (S3, memory): copy to a temporary file, sealed under
		// a key that lives in memory only.
		sp, err := newSpool(ctx, rc, nil)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("dataset %s content: %w", v.Ref(), err)
		}
		c.close = sp.Close
		if c.r, c.size, err = sp.ReaderAt(); err != nil {
			sp.Close()
			return nil, err
		}
	}
	if v.Encrypted {
		dk, err := s.dataKey(v)
		if err != nil {
			c.close()
			return nil, err
		}
		sr, err := newSealedReaderAt(c.r, c.size, dk, sealLabelContent)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("dataset %s: %w", v.Ref(), err)
		}
		c.r, c.size = sr, sr.Size()
	}
	return c, nil
}

func (s *Service) dataKey(v Version) ([]byte, error) {
	dk, err := s.keys.Unwrap(v.dataKey, []byte("dataset-version:"+v.Digest))
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", v.Ref(), err)
	}
	return dk, nil
}

// Scan reads a version's content in batches (a Parquet row group each, at
// most about 130,000 rows) and calls fn with each, in order; fn must not keep
// the frame past its return unless it is done with Scan. columns, when not
// nil, selects columns by name (in the file's order): Parquet reads only
// those. The access rules are Read's.
func (s *Service) Scan(ctx context.Context, v Version, columns []string, fn func(*Frame) error) error {
	if err := s.authorizeRead(ctx, v, nil); err != nil {
		return err
	}
	return s.scan(ctx, v, columns, fn)
}

func (s *Service) scan(ctx context.Context, v Version, columns []string, fn func(*Frame) error) error {
	c, err := s.openContent(ctx, v)
	if err != nil {
		return err
	}
	defer c.close()
	pr, err := openParquet(c.r, c.size, v.Ref(), columns)
	if err != nil {
		return s.contentErr(v, err)
	}
	// The roles and types recorded with the version are authoritative.
	for i, col := range pr.cols {
		for _, vc := range v.Columns {
			if vc.Name == col.Name && storageCompatible(vc.Type, col.Type) {
				pr.cols[i] = vc
			}
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := pr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.contentErr(v, err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
}

// contentErr reports stored content that does not read as an internal error:
// it is not the caller's fault.
func (s *Service) contentErr(v Version, err error) error {
	if errors.Is(err, errSealed) {
		return fmt.Errorf("dataset %s: %w", v.Ref(), errSealed)
	}
	return fmt.Errorf("dataset %s: stored content does not read: %s", v.Ref(), errs.MessageOf(err))
}

// ReadFrame loads a version's content. Identifying versions need the
// steward's permission, and every read of one is audited, allowed or not.
func (s *Service) ReadFrame(ctx context.Context, v Version) (*Frame, error) {
	if err := s.authorizeRead(ctx, v, nil); err != nil {
		return nil, err
	}
	out := emptyFrame(slices.Clone(v.Columns), v.Rows)
	err := s.scan(ctx, v, nil, func(f *Frame) error {
		out.Append(f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out.Rows() != v.Rows {
		return nil, fmt.Errorf("dataset %s: stored content has %d rows, the version %d", v.Ref(), out.Rows(), v.Rows)
	}
	return out, nil
}

// Read loads a version's content as text (see Frame.Table); the access
// rules are ReadFrame's.
func (s *Service) Read(ctx context.Context, v Version) (*Table, error) {
	f, err := s.ReadFrame(ctx, v)
	if err != nil {
		return nil, err
	}
	return f.ToTable(), nil
}

// Export formats.
const (
	ExportCSV     = "csv"
	ExportParquet = "parquet"
	ExportJSONL   = "jsonl"
)

// Export writes a version's content to w as CSV (comma-separated, UTF-8, a
// header row, missing values empty, values as Vec.String formats them),
// Parquet (the stored file itself) or JSON Lines (one object per row, keys
// in column order, missing values null, dates and datetimes as strings),
// streaming. The access rules are Read's; nothing is written when access is
// refused.
func (s *Service) Export(ctx context.Context, v Version, format string, w io.Writer) error {
	switch format {
	case ExportCSV, ExportParquet, ExportJSONL:
	default:
		return errs.Invalidf("export format %q: want csv, parquet or jsonl", format)
	}
	if err := s.authorizeRead(ctx, v, map[string]any{"export": format}); err != nil {
		return err
	}
	switch format {
	case ExportParquet:
		return s.exportParquet(ctx, v, w)
	case ExportJSONL:
		bw := bufio.NewWriterSize(w, 64<<10)
		err := s.scan(ctx, v, nil, func(f *Frame) error { return writeJSONL(bw, f) })
		if err != nil {
			return err
		}
		return bw.Flush()
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(namesOf(v.Columns)); err != nil {
		return err
	}
	err := s.scan(ctx, v, nil, func(f *Frame) error { return writeCSVRows(cw, bw, f) })
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

func namesOf(cols []Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

func writeCSVRows(cw *csv.Writer, w io.Writer, f *Frame) error {
	rec := make([]string, len(f.Vecs))
	for r := range f.Rows() {
		for c, v := range f.Vecs {
			rec[c] = v.String(r)
		}
		// encoding/csv writes a record of one empty field as an empty
		// line, which readers skip: quote it so the row is not lost.
		if len(rec) == 1 && rec[0] == "" {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			if _, err := io.WriteString(w, "\"\"\n"); err != nil {
				return err
			}
			continue
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	return nil
}

func writeJSONL(w *bufio.Writer, f *Frame) error {
	names := make([][]byte, len(f.Columns))
	for i, c := range f.Columns {
		names[i] = appendJSONString(nil, c.Name)
	}
	var b []byte
	for r := range f.Rows() {
		b = append(b[:0], '{')
		for c, v := range f.Vecs {
			if c > 0 {
				b = append(b, ',')
			}
			b = append(b, names[c]...)
			b = append(b, ':')
			b = appendJSONValue(b, v, r)
		}
		b = append(b, '}', '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func appendJSONValue(b []byte, v *Vec, i int) []byte {
	if v.IsNull(i) {
		return append(b, "null"...)
	}
	switch v.Type {
	case TypeInteger:
		return strconv.AppendInt(b, v.I[i], 10)
	case TypeFloat:
		x := v.F[i]
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case TypeBoolean:
		return strconv.AppendBool(b, v.I[i] != 0)
	case TypeDate:
		return appendJSONString(b, DateFromDays(v.I[i]).Format(time.DateOnly))
	}
	return appendJSONString(b, v.String(i))
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func (s *Service) exportParquet(ctx context.Context, v Version, w io.Writer) error {
	if v.Format != FormatParquet {
		return fmt.Errorf("dataset %s is stored as %q, which this version of hygie does not read", v.Ref(), v.Format)
	}
	rc, err := s.blobs.Get(ctx, v.blobKey)
	if err != nil {
		return fmt.Errorf("dataset %s content: %w", v.Ref(), err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if v.Encrypted {
		dk, err := s.dataKey(v)
		if err != nil {
			return err
		}
		if r, err = newSealReader(rc, dk, sealLabelContent); err != nil {
			return fmt.Errorf("dataset %s: %w", v.Ref(), err)
		}
	}
	if _, err := io.Copy(w, r); err != nil {
		if errors.Is(err, errSealed) {
			return fmt.Errorf("dataset %s: %w", v.Ref(), err)
		}
		return err
	}
	return nil
}

// spool is a temporary copy of a stream, sealed under a random key that
// lives in memory only, so that nothing readable is left on disk (the file
// is also removed as soon as it is created, where the system allows).
type spool struct {
	f       *os.File
	key     []byte
	size    int64  // sealed size
	plain   int64  // bytes spooled
	cleanup func() // removes the file, when creating it could not
}

// newSpool copies r to a new spool, calling progress (if not nil) with the
// bytes copied so far.
func newSpool(ctx context.Context, r io.Reader, progress func(int64)) (*spool, error) {
	f, err := os.CreateTemp("", "hygie-spool-*")
	if err != nil {
		return nil, fmt.Errorf("temporary file: %w", err)
	}
	removed := os.Remove(f.Name()) == nil
	sp := &spool{f: f, key: keys.Random()}
	fail := func(err error) (*spool, error) {
		f.Close()
		if !removed {
			os.Remove(f.Name())
		}
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	sw, err := newSealWriter(bw, sp.key, sealLabelSpool)
	if err != nil {
		return fail(err)
	}
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := sw.Write(buf[:k]); err != nil {
				return fail(fmt.Errorf("temporary file: %w", err))
			}
			n += int64(k)
			if progress != nil {
				progress(n)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fail(rerr)
		}
	}
	if err := sw.Close(); err != nil {
		return fail(fmt.Errorf("temporary file: %w", err))
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("temporary file: %w", err))
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	sp.size, sp.plain = fi.Size(), n
	if !removed {
		name := f.Name()
		sp.cleanup = func() { os.Remove(name) }
	}
	return sp, nil
}

// Open returns a reader of the spooled bytes from the start.
func (sp *spool) Open() (io.Reader, error) {
	return newSealReader(io.NewSectionReader(sp.f, 0, sp.size), sp.key, sealLabelSpool)
}

// ReaderAt gives random access to the spooled bytes, and their size.
func (sp *spool) ReaderAt() (io.ReaderAt, int64, error) {
	r, err := newSealedReaderAt(sp.f, sp.size, sp.key, sealLabelSpool)
	if err != nil {
		return nil, 0, err
	}
	return r, r.Size(), nil
}

// Close removes the spool.
func (sp *spool) Close() {
	sp.f.Close()
	if sp.cleanup != nil {
		sp.cleanup()
	}
}
