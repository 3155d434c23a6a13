// Package errs defines hygie's one error type: a machine-readable code and a
// message safe to show to the caller. Everything that is not an *Error is
// reported to callers as an internal error; its details are only logged.
package errs

import (
	"errors"
	"fmt"
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
func Unauthenticatedf(format string, args ...any) *Error {
	return E(Unauthenticated, format, args...)
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns the caller-safe message of err: the message of the first
// *Error in its chain, or "internal error".
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "internal error"
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return CodeOf(err) == code }
