// Package logfield names every structured log and audit field in one place,
// so the audit schema stays stable and greppable.
package logfield

const (
	Component      = "component"
	RequestID      = "request_id"
	Transport      = "transport"
	PeerPID        = "peer_pid"
	PeerUID        = "peer_uid"
	RemoteIP       = "remote_ip"
	Namespace      = "namespace"
	ServiceAccount = "serviceaccount"
	Pod            = "pod"
	PodUID         = "pod_uid"
	Node           = "node"
	VaultRole      = "vault_role"
	AuthMount      = "auth_mount"
	Op             = "op"
	Route          = "route"
	Mount          = "mount"
	Path           = "path"
	Status         = "status"
	Outcome        = "outcome"
	Code           = "code"
	Accessor       = "vault_accessor"
	VaultRequestID = "vault_request_id"
	DurationMS     = "duration_ms"
	File           = "file"
	Error          = "error"
	Mode           = "mode"
	Addr           = "addr"
)
