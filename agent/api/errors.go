package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/secrets-broker/secrets-broker/agent/authn"
	"github.com/secrets-broker/secrets-broker/agent/vault"
	"github.com/secrets-broker/secrets-broker/node/attest"
)

// apiError is what a caller sees: an honest status, a stable code and a
// message that never holds a token, a secret value or Vault's address.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter int // seconds; 0 = no header
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errBadPath(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "bad_path", Message: msg}
}

func errBadRequest(code, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: msg}
}

func errUnknownRoute() *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "unknown_route", Message: "no such route; see /api/v1/{read,write,list,delete,versions}/{mount}/{path}"}
}

func errMethod(allowed string) *apiError {
	return &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "allowed: " + allowed}
}

// toAPIError maps every sentinel the request path can return to one
// status and code; this is the only place that decides.
func toAPIError(err error) *apiError {
	var ae *apiError
	var att *attest.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &att):
		return &apiError{Status: http.StatusForbidden, Code: att.Code, Message: "caller attestation failed: " + att.Reason}
	case errors.Is(err, authn.ErrNotPodBound):
		return &apiError{Status: http.StatusUnauthorized, Code: "token_not_pod_bound", Message: "token is not bound to a pod; mount a projected ServiceAccount token"}
	case errors.Is(err, authn.ErrUnauthenticated):
		return &apiError{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "token rejected: invalid, expired or wrong audience"}
	case errors.Is(err, authn.ErrUnavailable):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "apiserver_unavailable", Message: "cannot verify the token right now", RetryAfter: 2}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusGatewayTimeout, Code: "timeout", Message: "request timed out", RetryAfter: 1}
	}
	return vaultError(err)
}

func vaultError(err error) *apiError {
	var ve *vault.Error
	reason := ""
	if errors.As(err, &ve) {
		reason = ve.Reason
	}
	login := errors.Is(err, vault.ErrLogin)
	switch {
	case login && errors.Is(err, vault.ErrDenied):
		return &apiError{Status: http.StatusForbidden, Code: "vault_login_denied", Message: "vault's kubernetes auth refused this pod for its role: " + reason}
	case errors.Is(err, vault.ErrDenied):
		return &apiError{Status: http.StatusForbidden, Code: "vault_denied", Message: "vault policy denies this operation"}
	case errors.Is(err, vault.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no secret at this path"}
	case errors.Is(err, vault.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "cas_conflict", Message: "check-and-set version does not match the current version"}
	case errors.Is(err, vault.ErrUnsupported):
		return &apiError{Status: http.StatusBadRequest, Code: "unsupported_on_mount", Message: reason}
	case errors.Is(err, vault.ErrBadRequest):
		return &apiError{Status: http.StatusBadRequest, Code: "vault_bad_request", Message: reason}
	case errors.Is(err, vault.ErrUnavailable):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "vault_unavailable", Message: "vault is unavailable or sealed", RetryAfter: 2}
	case errors.Is(err, vault.ErrTimeout):
		return &apiError{Status: http.StatusGatewayTimeout, Code: "vault_timeout", Message: "vault did not answer in time", RetryAfter: 2}
	case errors.Is(err, vault.ErrUpstream):
		return &apiError{Status: http.StatusBadGateway, Code: "vault_error", Message: "vault returned an unexpected error", RetryAfter: 2}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, e *apiError, requestID string) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.RequestID = e.Code, e.Message, requestID
	writeJSON(w, e.Status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
