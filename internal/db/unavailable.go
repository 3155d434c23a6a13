package db

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hygie-health/hygie/internal/errs"
)

func init() { errs.RegisterUnavailable(IsUnavailable) }

// IsUnavailable reports whether err means the database cannot be reached
// right now (server stopped or restarting, connection refused or lost, too
// many connections), as opposed to a bad query or a bug: callers may retry
// later. errs.CodeOf reports such errors as errs.Unavailable (HTTP 503).
//
// Errors of HTTP clients (*url.Error: the S3 store, webhooks…) are not the
// database's and are never classified here.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01–57P03: admin/crash
		// shutdown, cannot connect now; 53300: too many connections.
		switch {
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300":
			return true
		}
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	// pgx reports a connection closed under a query as "failed to receive
	// message: unexpected EOF".
	// Other unexpected EOFs (a truncated upload) are not the database's.
	return errors.Is(err, io.ErrUnexpectedEOF) && strings.Contains(err.Error(), "receive message")
}
