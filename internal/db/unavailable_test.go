package db_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

func TestIsUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("boom"), false},
		{"connect error", &pgconn.ConnectError{}, true},
		{"admin shutdown", fmt.Errorf("query: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"connection failure class", &pgconn.PgError{Code: "08006"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"bad conn", fmt.Errorf("exec: %w", driver.ErrBadConn), true},
		{"conn closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"refused", fmt.Errorf("x: %w", refused), true},
		{"reset", syscall.ECONNRESET, true},
		{"lost mid-query", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), true},
		{"truncated upload", fmt.Errorf("reading the body: %w", io.ErrUnexpectedEOF), false},
		{"HTTP client (S3)", &url.Error{Op: "Get", URL: "http://minio", Err: refused}, false},
		{"a hygie error", errs.Invalidf("bad"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := db.IsUnavailable(c.err); got != c.want {
				t.Errorf("IsUnavailable(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

// TestUnavailableCode checks the errs mapping db registers: a database that
// cannot be reached is Unavailable with a caller-safe message, even wrapped
// in an internal *errs.Error, while other codes win.
func TestUnavailableCode(t *testing.T) {
	// A real connection attempt to a port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = db.Open(context.Background(), "postgres://hygie:secret@"+addr+"/hygie?sslmode=disable&connect_timeout=2", "")
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	for _, c := range []struct {
		name string
		err  error
		code errs.Code
		msg  string
	}{
		{"refused", err, errs.Unavailable, errs.UnavailableMessage},
		{"wrapped internal", errs.Wrap(&pgconn.ConnectError{}, errs.Internal, "listing"), errs.Unavailable, errs.UnavailableMessage},
		{"not found wins", errs.Wrap(driver.ErrBadConn, errs.NotFound, "run 3 not found"), errs.NotFound, "run 3 not found"},
		{"internal", errors.New("boom"), errs.Internal, "internal error"},
	} {
		if code, msg := errs.CodeOf(c.err), errs.MessageOf(c.err); code != c.code || msg != c.msg {
			t.Errorf("%s: CodeOf, MessageOf = %s, %q; want %s, %q", c.name, code, msg, c.code, c.msg)
		}
	}
	if msg := errs.MessageOf(err); msg != errs.UnavailableMessage {
		t.Errorf("the message shows details: %q", msg)
	}
}
