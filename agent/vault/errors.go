package vault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// Sentinel errors; the HTTP layer maps each to one status in one place.
var (
	ErrDenied      = errors.New("vault denied the request")
	ErrNotFound    = errors.New("secret not found")
	ErrConflict    = errors.New("check-and-set version mismatch")
	ErrBadRequest  = errors.New("vault rejected the request")
	ErrUnavailable = errors.New("vault unavailable")
	ErrTimeout     = errors.New("vault timed out")
	ErrUpstream    = errors.New("vault error")
	ErrUnsupported = errors.New("operation not supported on this mount")
	// ErrLogin marks errors of the kubernetes-auth login itself, so a role
	// refusing the pod is told apart from a KV call being denied.
	ErrLogin = errors.New("vault login failed")
)

// Error is a classified Vault failure. Reason is Vault's own message, which
// never holds a token or a secret value (Vault does not echo them).
type Error struct {
	Kind   error
	Status int
	Reason string
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Kind }

// Kind names an error for metrics: denied, not_found, conflict, bad_request,
// unavailable, timeout, other.
func Kind(err error) string {
	switch {
	case errors.Is(err, ErrDenied):
		return "denied"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrUnsupported):
		return "bad_request"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	default:
		return "other"
	}
}

// classify turns a vault/api or transport error into an *Error.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		return fromStatus(re.StatusCode, strings.Join(re.Errors, "; "))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: ErrTimeout, Status: http.StatusGatewayTimeout}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Kind: ErrUnavailable, Reason: "request canceled"}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: ErrTimeout, Status: http.StatusGatewayTimeout}
	}
	// Connection refused, reset, DNS: Vault cannot be reached.
	return &Error{Kind: ErrUnavailable, Reason: transportReason(err)}
}

// transportReason keeps the error class but drops URLs with query strings.
func transportReason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Sprintf("%s: %v", op.Op, op.Err)
	}
	return "connection failed"
}

func fromStatus(status int, reason string) error {
	kind := ErrUpstream
	switch {
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		kind = ErrDenied
	case status == http.StatusNotFound:
		kind = ErrNotFound
	case status == http.StatusBadRequest && strings.Contains(reason, "did not match the current version"):
		kind = ErrConflict
	case status == http.StatusBadRequest || status == http.StatusMethodNotAllowed:
		kind = ErrBadRequest
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable ||
		status == http.StatusBadGateway:
		kind = ErrUnavailable // sealed, standby without forwarding, rate limited
	case status == http.StatusGatewayTimeout:
		kind = ErrTimeout
	}
	return &Error{Kind: kind, Status: status, Reason: reason}
}
