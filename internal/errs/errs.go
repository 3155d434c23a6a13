// Package errs defines hygie's one error type: a machine-readable code and a
// message safe to show to the caller. Everything that is not an *Error is
// reported to callers as an internal error; its details are only logged.
package errs

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Code classifies an error for callers; the HTTP layer maps it to a status
// and the CLI to an exit code, each in one place.
type Code string

// The error codes.
const (
	Invalid         Code = "invalid"
	NotFound        Code = "not_found"
	Conflict        Code = "conflict"
	Unauthenticated Code = "unauthenticated"
	Forbidden       Code = "forbidden"
	RateLimited     Code = "rate_limited" // too many attempts in a window: HTTP 429
	Unavailable     Code = "unavailable"  // a backing service (the database) is down: HTTP 503, retry later
	Internal        Code = "internal"
)

// Error is an error with a code and a message that may be shown to the caller.
// The message must never contain identifying values (names, NIR, addresses…).
type Error struct {
	Code    Code
	Message string
	Err     error // optional cause; logged, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error with a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an *Error that keeps err as its (hidden) cause.
func Wrap(err error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// Invalidf, NotFoundf, Conflictf, Forbiddenf, RateLimitedf and Unauthenticatedf are shorthands for E.
func Invalidf(format string, args ...any) *Error  { return E(Invalid, format, args...) }
func NotFoundf(format string, args ...any) *Error { return E(NotFound, format, args...) }
func Conflictf(format string, args ...any) *Error { return E(Conflict, format, args...) }
func Forbiddenf(format string, args ...any) *Error {
	return E(Forbidden, format, args...)
}
func RateLimitedf(format string, args ...any) *Error { return E(RateLimited, format, args...) }
func Unavailablef(format string, args ...any) *Error { return E(Unavailable, format, args...) }
func Unauthenticatedf(format string, args ...any) *Error {
	return E(Unauthenticated, format, args...)
}

// UnavailableMessage is the caller-safe message of an error that
// RegisterUnavailable's classifier recognises.
const UnavailableMessage = "database unavailable: retry in a moment"

// unavailable recognises the errors of a backing service that is down
// (connection refused, connection lost…). The database package registers it
// (db.IsUnavailable), since errs imports nothing of hygie's.
var unavailable atomic.Pointer[func(error) bool]

// RegisterUnavailable sets the function that tells whether an error means a
// backing service is unavailable; CodeOf then reports such errors, when they
// carry no other code than Internal, as Unavailable.
func RegisterUnavailable(f func(error) bool) { unavailable.Store(&f) }

func isUnavailable(err error) bool {
	f := unavailable.Load()
	return f != nil && (*f)(err)
}

// CodeOf returns the code of the first *Error in err's chain; otherwise
// Unavailable if err means a backing service is down, or Internal.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Code
	}
	if isUnavailable(err) {
		return Unavailable
	}
	return Internal
}

// MessageOf returns the caller-safe message of err: the message of the first
// *Error in its chain, UnavailableMessage when a backing service is down, or
// "internal error".
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	if isUnavailable(err) {
		return UnavailableMessage
	}
	return "internal error"
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return CodeOf(err) == code }
