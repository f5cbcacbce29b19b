package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/secrets-broker/secrets-broker/agent/vault"
)

// uiMountsPrefix is the one sys/ path KV clients need (the vault CLI and
// SDKs read it to pick KV v1 or v2); it reveals only mount type/options.
const uiMountsPrefix = "sys/internal/ui/mounts/"

// opMounts names the mount-type lookup in audit and metrics.
const opMounts = "mounts"

// passthroughMethods are the methods Vault's HTTP API gives a meaning to
// (LIST is Vault's own); anything else is refused before authentication so
// that the allow-list never has to guess what an unknown method does.
const passthroughMethods = "GET, PUT, POST, PATCH, DELETE, LIST"

// vaultRequest is a validated /v1/... request line.
type vaultRequest struct {
	Path      string // below /v1/, as forwarded (a trailing slash kept for lists)
	Clean     string // Path without the trailing slash: audit and allow-list form
	Op        string
	Namespace string // X-Vault-Namespace without slashes; "" for the root namespace
}

// parseVaultRequest validates the path after /v1/ with the same rules as
// /api/v1 (no dot segments, also percent-encoded, no empty segments, no
// encoded slashes) and refuses auth/*, sys/* (but the UI mounts lookup),
// cubbyhole/ and identity/. Segments are compared case-insensitively, so
// "AUTH/token/create" and "Sys/wrapping/unwrap" are refused too; one
// trailing slash is allowed because Vault clients list "folder/".
func parseVaultRequest(r *http.Request) (vaultRequest, *apiError) {
	if !strings.Contains(", "+passthroughMethods+",", ", "+r.Method+",") {
		return vaultRequest{}, errMethod(passthroughMethods)
	}
	if strings.Contains(strings.ToLower(r.URL.EscapedPath()), "%2f") {
		return vaultRequest{}, errBadPath("encoded slash in path")
	}
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	clean := strings.TrimSuffix(p, "/")
	// Refused families answer first, however the rest of the path looks:
	// "auth//kubernetes/login" is an auth request, not a path puzzle.
	if err := refusedRoute(r.Method, clean); err != nil {
		return vaultRequest{}, err
	}
	if err := checkPath(clean); err != nil {
		return vaultRequest{}, err
	}
	ns, err := vaultNamespace(r)
	if err != nil {
		return vaultRequest{}, err
	}
	if r.Header.Get("X-Vault-Wrap-TTL") != "" {
		// A wrapped answer carries a Vault token (wrap_info.token), and
		// sys/wrapping/unwrap is refused here anyway.
		return vaultRequest{}, errBadRequest("wrapping_refused", "response wrapping is not available through the broker")
	}
	op, err := vaultOp(r, clean)
	if err != nil {
		return vaultRequest{}, err
	}
	return vaultRequest{Path: p, Clean: clean, Op: op, Namespace: ns}, nil
}

func refusedRoute(method, clean string) *apiError {
	first := strings.ToLower(firstSegment(clean))
	switch {
	case first == "auth":
		return refused("auth/ endpoints are not available through the broker")
	case first == "sys" && !(method == http.MethodGet && strings.HasPrefix(clean, uiMountsPrefix)):
		return refused("sys/ endpoints are not available through the broker (only GET sys/internal/ui/mounts/...)")
	case first == "cubbyhole" || first == "identity":
		return refused(first + "/ is per-token state the broker's shared sessions must not expose")
	}
	return nil
}

// vaultNamespace validates X-Vault-Namespace like a path; "root" is the
// root namespace.
func vaultNamespace(r *http.Request) (string, *apiError) {
	ns := strings.Trim(r.Header.Get("X-Vault-Namespace"), "/")
	if ns == "" || ns == "root" {
		return "", nil
	}
	if err := checkPath(ns); err != nil {
		return "", errBadRequest("bad_namespace", "X-Vault-Namespace: "+err.Message)
	}
	return ns, nil
}

func refused(msg string) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "route_refused", Message: msg}
}

// vaultOp names the operation of a raw Vault request for the allow-list,
// audit and metrics. "list" is parsed as Vault parses it (strconv.ParseBool,
// so "1" and "t" list too); a value Vault would reject is refused here.
func vaultOp(r *http.Request, clean string) (string, *apiError) {
	list := r.Method == "LIST"
	if v := r.URL.Query().Get("list"); v != "" && r.Method == http.MethodGet {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", errBadRequest("bad_query", "list must be a boolean")
		}
		list = b
	}
	switch {
	case strings.HasPrefix(clean, uiMountsPrefix):
		return opMounts, nil
	case list:
		return OpList, nil
	case r.Method == http.MethodGet:
		return OpRead, nil
	case r.Method == http.MethodPatch:
		return OpPatch, nil
	case r.Method == http.MethodDelete:
		return OpDelete, nil
	default:
		return OpWrite, nil
	}
}

// checkVaultAllowList maps a raw Vault path to the broker's logical form
// (KV v2 "kv/data/a" → "kv/a") and applies the allow-list. Only KV mounts
// are served: MountKind refuses anything else (transit, pki, a namespace
// in the path), so the allow-list never has to reason about other engines.
// A namespace is prefixed to the logical path, so an allow-list written for
// the root namespace does not silently cover namespaced paths.
func (s *Server) checkVaultAllowList(ctx context.Context, call vault.Call, x *exchange, req vaultRequest) error {
	if req.Op == opMounts {
		return nil
	}
	mount, rest, _ := strings.Cut(req.Clean, "/")
	kind, _, err := s.cfg.KV.MountKind(ctx, mount, call)
	if err != nil {
		return err
	}
	prefix := ""
	if req.Namespace != "" {
		prefix = req.Namespace + "/"
	}
	if kind == vault.KVv1 {
		return allow(x, req.Op, prefix+req.Clean)
	}
	op, logical, aerr := kvV2Logical(req.Op, mount, rest)
	if aerr != nil {
		return aerr
	}
	return allow(x, op, prefix+logical)
}

// kvV2Logical maps a KV v2 section to the broker's operation names.
func kvV2Logical(op, mount, rest string) (string, string, *apiError) {
	section, sub, _ := strings.Cut(rest, "/")
	logical := mount
	if sub != "" {
		logical += "/" + sub
	}
	switch section {
	case "data":
	case "metadata":
		switch op {
		case OpRead:
			op = OpVersions
		case OpPatch:
			op = OpWrite
		}
	case "delete", "undelete", "destroy":
		op = OpDelete
	case "subkeys":
		op = OpRead
	default:
		return "", "", refused("KV v2 path section " + strconv.Quote(trunc(section, 32)) + " is not available through the broker")
	}
	return op, logical, nil
}

func firstSegment(p string) string {
	seg, _, _ := strings.Cut(p, "/")
	return seg
}
