package attest

import "errors"

// Refusal codes. The HTTP layer answers every *Error with 403 and its code.
const (
	CodeNoPeer           = "peer_unknown"
	CodeNotOnNode        = "pod_not_on_node"
	CodeCgroupMismatch   = "cgroup_mismatch"
	CodeIdentityMismatch = "identity_mismatch"
	CodeIPMismatch       = "ip_mismatch"
	CodeProcessChanged   = "process_changed"
	CodeNotAPod          = "peer_not_a_pod"
)

// Error is an attestation refusal. Reason is safe to log and to show the
// caller: it names pods, pids and IPs, never a token.
type Error struct {
	Code   string
	Reason string
	err    error // underlying cause, for errors.Is
}

func (e *Error) Error() string { return "attestation refused: " + e.Code + ": " + e.Reason }

// Unwrap exposes the cause (e.g. peer.ErrProcessChanged, cgroup.ErrAmbiguous).
func (e *Error) Unwrap() error { return e.err }

// CodeOf returns the refusal code of err, or "" if err is not an *Error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func refuse(code, reason string, cause error) *Error {
	return &Error{Code: code, Reason: reason, err: cause}
}
