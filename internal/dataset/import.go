package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/errs"
)

// Source is a table to import: a file, a stream or a PostgreSQL query.
type Source struct {
	name   string
	format string
	path   string
	r      io.Reader
	dsn    string
	query  string
}

// Import formats.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
	// FormatParquet (above) is also an import format.
	formatSQL = "postgresql"
)

// File is a file to import. format is "csv", "jsonl" or "parquet"; ""
// picks it from the extension: .parquet, .jsonl or .ndjson, else CSV.
func File(path, format string) Source {
	return Source{name: filepath.Base(path), format: formatOf(path, format), path: path}
}

// Stream is content read once from r (standard input, an HTTP body), named
// name in messages. CSV and JSON Lines are read twice and Parquet at
// random, so a stream is first copied to a temporary file, sealed under a
// key that lives in memory only.
func Stream(name, format string, r io.Reader) Source {
	return Source{name: name, format: formatOf(name, format), r: r}
}

// Query is a SQL query run on a PostgreSQL server, dsn being a postgres://
// URL or key=value settings (a password may also come from PGPASSWORD or
// ~/.pgpass). It runs in a read-only transaction and its rows are streamed.
// Messages name the source "SQL query", never the DSN.
func Query(dsn, query string) Source {
	return Source{name: "SQL query", format: formatSQL, dsn: dsn, query: query}
}

func formatOf(name, format string) string {
	if format != "" {
		return strings.ToLower(format)
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".parquet", ".pq":
		return FormatParquet
	case ".jsonl", ".ndjson":
		return FormatJSONL
	}
	return FormatCSV
}

// Name names the source in messages.
func (s Source) Name() string { return s.name }

// Format is the source's format: csv, jsonl, parquet or postgresql.
func (s Source) Format() string { return s.format }

// DefaultNullValues are the cells CSV import reads as missing, after
// trimming spaces, when ImportOptions.NullValues is nil.
var DefaultNullValues = []string{"", "NA", "N/A", "NULL", "null", "NaN", "nan"}

// ImportOptions describes an import.
type ImportOptions struct {
	Project, Dataset string
	Level            Level
	// Roles gives columns their role (name → role); the others get "other".
	// Suggestions (SuggestRoles) are returned, never applied.
	Roles map[string]Role
	// Types declares column types (name → type), overriding inference; a
	// value that does not fit fails the import.
	Types map[string]Type
	// AcceptSuggested applies the suggested roles to the columns Roles does
	// not name: the importer's explicit confirmation of the suggestions.
	AcceptSuggested bool
	Parent          *Version
	Recipe          string

	// CSV: zero values mean "sniff" (see SniffCSV; the encoding and the
	// decimal mark are decided over the whole file).
	Separator byte   // ',', ';' or '\t'
	Encoding  string // "utf-8", "windows-1252" or "latin-1"
	Decimal   byte   // '.' or ','
	// NullValues are the cells read as missing (after trimming spaces);
	// nil means DefaultNullValues. A blank cell is always missing.
	NullValues []string

	// Progress, when not nil, is called as the import advances.
	Progress func(Progress)

	// exact skips the speculation on CSV column types (see csvimport.go).
	exact bool
}

// Progress reports how far an import is.
type Progress struct {
	// Stage is "read" (copying a stream to a temporary file), "scan"
	// (first pass over a CSV or JSON Lines file: types) or "import"
	// (reading, encoding and storing).
	Stage string
	Done  int64
	Total int64  // -1 when unknown
	Unit  string // "bytes" or "rows"
}

// ImportResult is an import's outcome.
type ImportResult struct {
	Version Version `json:"version"`
	Created bool    `json:"created"`
	// Dialect is the CSV dialect used (sniffed or given), nil for other
	// formats.
	Dialect *Dialect `json:"dialect,omitempty"`
	// Suggested roles for columns imported without one: from their names
	// (SuggestRoles) or recorded in a hygie Parquet file. Not applied.
	Suggested map[string]Role `json:"suggested_roles"`
}

// tableReader reads a table as frames.
type tableReader interface {
	Columns() []Column
	// Next returns the next batch of rows; io.EOF at the end.
	Next() (*Frame, error)
	Close()
}

// batchRows is the number of rows text importers read at a time.
const batchRows = 4096

func (o *ImportOptions) check() error {
	switch o.Separator {
	case 0, ',', ';', '\t', '|':
	default:
		return errs.Invalidf("separator %q: want ',', ';', tab or '|'", o.Separator)
	}
	enc, ok := normalizeEncoding(o.Encoding)
	if !ok {
		return errs.Invalidf("encoding %q: want utf-8, windows-1252 or latin-1", o.Encoding)
	}
	o.Encoding = enc
	switch o.Decimal {
	case 0, '.', ',':
	default:
		return errs.Invalidf("decimal mark %q: want '.' or ','", o.Decimal)
	}
	if o.Decimal != 0 && o.Decimal == o.Separator {
		return errs.Invalidf("the decimal mark cannot be the separator")
	}
	for _, name := range sortedKeys(o.Types) {
		if !ValidType(o.Types[name]) {
			return errs.Invalidf("column %q: unknown type %q (want integer, float, boolean, date, datetime, string or text)", name, o.Types[name])
		}
	}
	return nil
}

func (o *ImportOptions) progress(stage string, done, total int64, unit string) {
	if o.Progress != nil {
		o.Progress(Progress{Stage: stage, Done: done, Total: total, Unit: unit})
	}
}

// Import reads a table from src and stores it as a new version, streaming:
// memory stays bounded whatever the size of the input. Column types are
// inferred over the whole input (JSON Lines is read twice: once to infer,
// once to store; CSV once when the types inferred from its first rows hold
// for the whole file, else twice, see csvimport.go). Any error (a value
// that does not fit its column's type, a ragged row, bytes the encoding
// does not define) names the source, line and column, never the value, and
// no version is created. As with Create, identical content returns the
// existing version.
func (s *Service) Import(ctx context.Context, src Source, o ImportOptions) (ImportResult, error) {
	if err := s.checkNew(ctx, o.Project, o.Dataset, o.Level); err != nil {
		return ImportResult{}, err
	}
	if err := o.check(); err != nil {
		return ImportResult{}, err
	}
	switch src.format {
	case FormatCSV, FormatJSONL, FormatParquet, formatSQL:
	default:
		return ImportResult{}, errs.Invalidf("%s: format %q: want csv, jsonl or parquet", src.name, src.format)
	}
	var in *input
	if src.format != formatSQL {
		var err error
		if in, err = openInput(ctx, src, &o); err != nil {
			return ImportResult{}, err
		}
		defer in.close()
	}
	res, err := s.importOnce(ctx, src, in, o)
	if errors.Is(err, errSpeculation) {
		// The sample misled: read the whole file first this time.
		o.exact = true
		o.progress("scan", 0, in.size, "bytes")
		res, err = s.importOnce(ctx, src, in, o)
	}
	return res, err
}

func (s *Service) importOnce(ctx context.Context, src Source, in *input, o ImportOptions) (ImportResult, error) {
	tr, dialect, err := openSource(ctx, src, in, &o)
	if err != nil {
		return ImportResult{}, err
	}
	defer tr.Close()
	cols := slices.Clone(tr.Columns())
	suggested := map[string]Role{}
	for i := range cols {
		if r := cols[i].Role; r != "" && r != RoleOther {
			suggested[cols[i].Name] = r // recorded in the file: a suggestion
		}
		cols[i].Role = RoleOther
	}
	if err := setRoles(cols, o.Roles); err != nil {
		return ImportResult{}, err
	}
	for name, r := range SuggestRoles(namesOf(cols)) {
		if _, ok := suggested[name]; !ok {
			suggested[name] = r
		}
	}
	for name := range o.Roles {
		delete(suggested, name)
	}
	if o.AcceptSuggested {
		// The importer asked for the suggestions: they are confirmed.
		if err := setRoles(cols, suggested); err != nil {
			return ImportResult{}, err
		}
		suggested = map[string]Role{}
	}
	if err := checkColumns(cols); err != nil {
		return ImportResult{}, errs.Invalidf("%s: %s", src.name, errs.MessageOf(err))
	}
	if err := checkUnconfirmed(src.name, o.Level, suggested); err != nil {
		return ImportResult{}, err
	}
	if err := checkLevel(cols, o.Level); err != nil {
		return ImportResult{}, err
	}
	rows := int64(0)
	encode := func(fw *frameWriter) error {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			f, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := fw.Write(f); err != nil {
				return err
			}
			rows += int64(f.Rows())
		}
	}
	nv := NewVersion{Project: o.Project, Dataset: o.Dataset, Level: o.Level, Parent: o.Parent, Recipe: o.Recipe}
	v, created, err := s.store(ctx, nv, cols, encode, map[string]any{"import": src.format})
	if err != nil {
		return ImportResult{}, err
	}
	return ImportResult{Version: v, Created: created, Dialect: dialect, Suggested: suggested}, nil
}

// openSource opens src (read from in, unless a query) for reading as frames
// with the columns' final types. Closing the reader does not close in.
func openSource(ctx context.Context, src Source, in *input, o *ImportOptions) (tableReader, *Dialect, error) {
	for name := range o.Types {
		if name == "" {
			return nil, nil, errs.Invalidf("types: empty column name")
		}
	}
	switch src.format {
	case FormatCSV:
		t, err := scanCSV(ctx, in, o, !o.exact)
		if err != nil {
			return nil, nil, err
		}
		return t, &t.dialect, nil
	case FormatJSONL:
		t, err := scanJSONL(ctx, in, o)
		if err != nil {
			return nil, nil, err
		}
		return t, nil, nil
	case FormatParquet:
		ra, size, err := in.readerAt()
		if err != nil {
			return nil, nil, err
		}
		pr, err := openParquet(ra, size, src.name, nil)
		if err != nil {
			return nil, nil, err
		}
		tr, err := withTypes(&parquetTable{pr: pr, o: o}, o.Types, src.name)
		return tr, nil, err
	case formatSQL:
		tr, err := openSQL(ctx, src, o)
		if err != nil {
			return nil, nil, err
		}
		tr2, err := withTypes(tr, o.Types, src.name)
		return tr2, nil, err
	}
	return nil, nil, errs.Invalidf("%s: format %q: want csv, jsonl or parquet", src.name, src.format)
}

// input is a file or a spooled stream, readable many times.
type input struct {
	name  string
	path  string
	sp    *spool
	size  int64 // bytes, -1 if unknown
	close func()
}

func openInput(ctx context.Context, src Source, o *ImportOptions) (*input, error) {
	in := &input{name: src.name, path: src.path, close: func() {}}
	if src.r == nil {
		fi, err := os.Stat(src.path)
		if err != nil {
			return nil, errs.Invalidf("%s: %v", src.name, pathErr(err))
		}
		if fi.IsDir() {
			return nil, errs.Invalidf("%s: is a directory", src.name)
		}
		in.size = fi.Size()
		return in, nil
	}
	sp, err := newSpool(ctx, src.r, func(n int64) { o.progress("read", n, -1, "bytes") })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.name, err)
	}
	in.sp, in.close, in.size = sp, sp.Close, sp.plain
	o.progress("read", sp.plain, sp.plain, "bytes")
	return in, nil
}

func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// open returns a reader of the input from its start.
func (in *input) open() (io.ReadCloser, error) {
	if in.sp != nil {
		r, err := in.sp.Open()
		if err != nil {
			return nil, err
		}
		return io.NopCloser(r), nil
	}
	f, err := os.Open(in.path)
	if err != nil {
		return nil, errs.Invalidf("%s: %v", in.name, pathErr(err))
	}
	return f, nil
}

func (in *input) readerAt() (io.ReaderAt, int64, error) {
	if in.sp != nil {
		return in.sp.ReaderAt()
	}
	f, err := os.Open(in.path)
	if err != nil {
		return nil, 0, errs.Invalidf("%s: %v", in.name, pathErr(err))
	}
	prev := in.close
	in.close = func() { f.Close(); prev() }
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// parquetTable reads a Parquet input.
type parquetTable struct {
	pr   *parquetReader
	o    *ImportOptions
	rows int64
}

func (t *parquetTable) Columns() []Column { return t.pr.Columns() }

func (t *parquetTable) Next() (*Frame, error) {
	f, err := t.pr.Next()
	if err != nil {
		return nil, err
	}
	t.rows += int64(f.Rows())
	t.o.progress("import", t.rows, t.pr.NumRows(), "rows")
	return f, nil
}

func (t *parquetTable) Close() {}

// withTypes converts the columns of a typed source (Parquet, SQL) to the
// declared types.
func withTypes(tr tableReader, types map[string]Type, source string) (tableReader, error) {
	if len(types) == 0 {
		return tr, nil
	}
	cols := slices.Clone(tr.Columns())
	names := namesOf(cols)
	convert := false
	for _, name := range sortedKeys(types) {
		i := slices.Index(names, name)
		if i < 0 {
			tr.Close()
			return nil, errs.Invalidf("%s: types: unknown column %q (columns: %s)", source, name, joinNames(names))
		}
		if cols[i].Type != types[name] {
			cols[i].Type = types[name]
			convert = true
		}
	}
	if !convert {
		return tr, nil
	}
	return &convertingTable{tableReader: tr, cols: cols, source: source}, nil
}

type convertingTable struct {
	tableReader
	cols   []Column
	source string
	rows   int
}

func (t *convertingTable) Columns() []Column { return t.cols }

func (t *convertingTable) Next() (*Frame, error) {
	f, err := t.tableReader.Next()
	if err != nil {
		return nil, err
	}
	out := &Frame{Columns: t.cols, Vecs: make([]*Vec, len(f.Vecs))}
	for i, v := range f.Vecs {
		if v.Type == t.cols[i].Type {
			out.Vecs[i] = v
			continue
		}
		cv, row, ok := convertVec(v, t.cols[i].Type)
		if !ok {
			return nil, errs.Invalidf("%s: row %d, column %q: value does not fit the declared type %s", t.source, t.rows+row+1, t.cols[i].Name, t.cols[i].Type)
		}
		out.Vecs[i] = cv
	}
	t.rows += f.Rows()
	return out, nil
}

// convertVec converts v to type to, as text (Vec.String, then the text
// rules, a declared boolean also accepting 0 and 1). It returns the first
// row that does not fit.
func convertVec(v *Vec, to Type) (*Vec, int, bool) {
	out := NewVec(to, v.Len())
	if storageCompatible(v.Type, to) {
		out.S, out.Null = v.S, v.Null
		return out, 0, true
	}
	for i := range v.Len() {
		if v.IsNull(i) {
			out.AppendNull()
			continue
		}
		s := v.String(i)
		if to.storage() == 's' {
			out.AppendString(s)
			continue
		}
		if !appendText(out, []byte(s), '.') {
			return nil, i, false
		}
	}
	return out, 0, true
}

// checkUnconfirmed fails closed on a non-identifying import whose columns
// look like identifiers (by name or by the file's own metadata) but were
// given no role: stored as "other", an identifier would slip into a version
// scientists can read. The importer confirms each such column with an
// explicit role, even "other".
func checkUnconfirmed(source string, level Level, suggested map[string]Role) error {
	if level == Identifying {
		return nil
	}
	var names []string
	for name, r := range suggested {
		if r.Identifying() {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return errs.Invalidf("%s: column(s) %s look like identifiers: import them at the identifying level with their role, or confirm another role explicitly (for example role %s=other)",
		source, strings.Join(quoteAll(names), ", "), names[0])
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
