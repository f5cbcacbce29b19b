package client

import (
	"errors"
	"fmt"
	"net/http"
)

// Error classes. Every error a Client returns wraps exactly one of them,
// so callers branch with errors.Is; the *Error behind it has the broker's
// code and request id for support.
var (
	ErrDenied          = errors.New("denied")          // 403: attestation, policy, or Vault
	ErrNotFound        = errors.New("not found")       // 404
	ErrConflict        = errors.New("conflict")        // 409: check-and-set version mismatch
	ErrBadRequest      = errors.New("bad request")     // 400, 405, 413, a bad path given to the client
	ErrUnauthenticated = errors.New("unauthenticated") // 401, or no usable token in the token file
	ErrUnavailable     = errors.New("unavailable")     // 429, 5xx, broker unreachable (after retries)
)

// Error is one failed call. It never holds a token or a secret value: the
// broker's messages do not, and the client adds only status and ids.
type Error struct {
	Kind      error  // one of the Err* classes
	Status    int    // HTTP status; 0 when the broker was not reached
	Code      string // the broker's error code, e.g. "vault_denied"
	Message   string
	RequestID string
	// RetryAfter is the broker's Retry-After, when it sent one.
	RetryAfter string
	cause      error
}

func (e *Error) Error() string {
	s := "secrets-broker: " + e.Kind.Error()
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Status != 0 {
		s += fmt.Sprintf(" (status %d", e.Status)
		if e.RequestID != "" {
			s += ", request_id " + e.RequestID
		}
		s += ")"
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Is matches the error class; Unwrap exposes the transport cause, if any.
func (e *Error) Is(target error) bool { return target == e.Kind }
func (e *Error) Unwrap() error        { return e.cause }

// kindOf maps an HTTP status to an error class.
func kindOf(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return ErrUnauthenticated
	case status == http.StatusForbidden:
		return ErrDenied
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusConflict:
		return ErrConflict
	case status == http.StatusTooManyRequests || status >= 500:
		return ErrUnavailable
	default:
		return ErrBadRequest
	}
}
