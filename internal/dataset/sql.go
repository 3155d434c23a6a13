package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hygie-health/hygie/internal/errs"
)

// Import from a PostgreSQL query (a clinical data warehouse): the query runs
// in a read-only transaction, its rows are streamed in the text format and
// read with the text rules. Column types come from the result's types:
//
//	smallint, integer, bigint, oid → integer
//	real, double precision, numeric → float (numeric loses digits beyond a
//	                                  float64's; NaN is missing)
//	boolean → boolean    date → date
//	timestamp, timestamptz → datetime (UTC; the session runs in UTC)
//	anything else → string (its PostgreSQL text form)

// PostgreSQL type OIDs.
const (
	oidBool        = 16
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidOID         = 26
	oidFloat4      = 700
	oidFloat8      = 701
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
)

func typeOfOID(oid uint32) Type {
	switch oid {
	case oidInt2, oidInt4, oidInt8, oidOID:
		return TypeInteger
	case oidFloat4, oidFloat8, oidNumeric:
		return TypeFloat
	case oidBool:
		return TypeBoolean
	case oidDate:
		return TypeDate
	case oidTimestamp, oidTimestamptz:
		return TypeDatetime
	}
	return TypeString
}

type sqlTable struct {
	o     *ImportOptions
	conn  *pgx.Conn
	tx    pgx.Tx
	rows  pgx.Rows
	cols  []Column
	read  int64
	done  bool
	close func()
}

func openSQL(ctx context.Context, src Source, o *ImportOptions) (*sqlTable, error) {
	if src.query == "" {
		return nil, errs.Invalidf("SQL query: empty query")
	}
	cfg, err := pgx.ParseConfig(src.dsn)
	if err != nil {
		// The parse error may repeat the connection string, password included.
		return nil, errs.Invalidf("SQL query: the connection string does not parse (want postgres://user@host:port/database?options or key=value settings)")
	}
	cfg.RuntimeParams["DateStyle"] = "ISO, YMD"
	cfg.RuntimeParams["TimeZone"] = "UTC"
	cfg.RuntimeParams["IntervalStyle"] = "iso_8601"
	cfg.RuntimeParams["application_name"] = "hygie import"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, connectErr(cfg, err)
	}
	t := &sqlTable{o: o, conn: conn}
	t.close = func() { conn.Close(context.WithoutCancel(ctx)) }
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		t.close()
		return nil, sqlErr(err)
	}
	t.tx = tx
	rows, err := tx.Query(ctx, src.query, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		t.Close()
		return nil, sqlErr(err)
	}
	t.rows = rows
	fds := rows.FieldDescriptions()
	if len(fds) == 0 {
		// An error while executing surfaces here, before any row.
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Close()
			return nil, sqlErr(err)
		}
		t.Close()
		return nil, errs.Invalidf("SQL query: returns no columns (want a SELECT)")
	}
	for _, fd := range fds {
		if !utf8.ValidString(fd.Name) {
			t.Close()
			return nil, errs.Invalidf("SQL query: a column name is not valid UTF-8")
		}
		t.cols = append(t.cols, Column{Name: fd.Name, Type: typeOfOID(fd.DataTypeOID), Role: RoleOther})
	}
	return t, nil
}

// connectErr reports a failed connection without the connection string.
func connectErr(cfg *pgx.ConnConfig, err error) error {
	where := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return errs.Invalidf("SQL query: cannot connect to PostgreSQL at %s (database %q): %s", where, cfg.Database, pe.Message)
	}
	inner := err
	for {
		u := errors.Unwrap(inner)
		if u == nil {
			break
		}
		inner = u
	}
	return errs.Invalidf("SQL query: cannot connect to PostgreSQL at %s (database %q): %v", where, cfg.Database, inner)
}

// quoted matches what PostgreSQL quotes in its messages.
var quoted = regexp.MustCompile(`"[^"]*"`)

// sqlErr reports a server error: its message, code and position, never its
// detail (which may quote rows); the messages of data errors (SQLSTATE
// classes 22 and 23) quote values, which are masked.
func sqlErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		text := pe.Message
		if strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23") {
			text = quoted.ReplaceAllString(text, `"…"`)
		}
		msg := fmt.Sprintf("SQL query: %s (SQLSTATE %s", text, pe.Code)
		if pe.Position > 0 {
			msg += fmt.Sprintf(", at character %d", pe.Position)
		}
		msg += ")"
		if pe.Hint != "" {
			msg += "; hint: " + pe.Hint
		}
		return errs.Invalidf("%s", msg)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("SQL query: %w", err)
}

func (t *sqlTable) Columns() []Column { return t.cols }

func (t *sqlTable) Close() {
	if t.rows != nil {
		t.rows.Close()
	}
	if t.tx != nil {
		t.tx.Rollback(context.Background())
	}
	t.close()
}

func (t *sqlTable) Next() (*Frame, error) {
	if t.done {
		return nil, io.EOF
	}
	f := emptyFrame(t.cols, batchRows)
	strs := make([]*strCol, len(t.cols))
	for c, col := range t.cols {
		if col.Type.storage() == 's' {
			strs[c] = &strCol{}
		}
	}
	n := 0
	for n < batchRows {
		if !t.rows.Next() {
			if err := t.rows.Err(); err != nil {
				return nil, sqlErr(err)
			}
			t.done = true
			break
		}
		for c, raw := range t.rows.RawValues() {
			if sc := strs[c]; sc != nil {
				if raw == nil {
					sc.ends = append(sc.ends, -1)
					continue
				}
				if !utf8.Valid(raw) {
					return nil, errs.Invalidf("SQL query: row %d, column %q: text is not valid UTF-8", t.read+int64(n)+1, t.cols[c].Name)
				}
				sc.arena = append(sc.arena, raw...)
				sc.ends = append(sc.ends, len(sc.arena))
				continue
			}
			v := f.Vecs[c]
			if raw == nil {
				v.AppendNull()
				continue
			}
			if !appendSQLText(v, raw) {
				return nil, errs.Invalidf("SQL query: row %d, column %q: value is not a valid %s", t.read+int64(n)+1, t.cols[c].Name, v.Type)
			}
		}
		n++
	}
	for c, sc := range strs {
		if sc == nil {
			continue
		}
		all := string(sc.arena)
		start := 0
		for _, e := range sc.ends {
			if e < 0 {
				f.Vecs[c].AppendNull()
				continue
			}
			f.Vecs[c].AppendString(all[start:e])
			start = e
		}
	}
	t.read += int64(n)
	t.o.progress("import", t.read, -1, "rows")
	if n == 0 {
		return nil, io.EOF
	}
	return f, nil
}

// appendSQLText reads a value in PostgreSQL's text format.
func appendSQLText(v *Vec, raw []byte) bool {
	switch v.Type {
	case TypeBoolean:
		switch string(raw) {
		case "t":
			v.AppendInt(1)
			return true
		case "f":
			v.AppendInt(0)
			return true
		}
		return false
	case TypeFloat:
		switch string(raw) {
		case "NaN":
			v.AppendNull()
			return true
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return false
		}
		v.AppendFloat(f)
		return true
	case TypeInteger:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return false
		}
		v.AppendInt(n)
		return true
	case TypeDatetime:
		// "2024-03-01 12:30:00.5+00" in UTC, or without the zone.
		us, ok := parseDatetime(raw)
		if !ok {
			return false
		}
		v.AppendInt(us)
		return true
	}
	return appendText(v, raw, '.')
}
