package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/secrets-broker/secrets-broker/agent/vault"
)

// uiMountsPrefix is the one sys/ path KV clients need (the vault CLI and
// SDKs read it to pick KV v1 or v2); it reveals only mount type/options.
const uiMountsPrefix = "sys/internal/ui/mounts/"

// vaultPath validates the path after /v1/ with the same rules as /api/v1
// and refuses auth/* and sys/* (but the UI mounts lookup). Mount names are
// compared case-insensitively so "AUTH/token/create" is refused too.
func vaultPath(r *http.Request) (string, *apiError) {
	if strings.Contains(strings.ToLower(r.URL.EscapedPath()), "%2f") {
		return "", errBadPath("encoded slash in path")
	}
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	trimmed := strings.TrimSuffix(p, "/") // Vault clients list "folder/"
	if err := checkPath(trimmed); err != nil {
		return "", err
	}
	first := strings.ToLower(firstSegment(trimmed))
	switch {
	case first == "auth":
		return "", refused("auth/ endpoints are not available through the broker")
	case first == "sys" && !(strings.HasPrefix(trimmed, uiMountsPrefix) && r.Method == http.MethodGet):
		return "", refused("sys/ endpoints are not available through the broker")
	case first == "cubbyhole" || first == "identity":
		return "", refused(first + "/ is per-token state the broker's shared sessions must not expose")
	}
	return p, nil
}

func refused(msg string) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "route_refused", Message: msg}
}

// vaultOp names the operation of a raw Vault request for audit and metrics.
func vaultOp(r *http.Request, p string) string {
	list := r.Method == "LIST" || r.URL.Query().Get("list") == "true"
	switch {
	case strings.HasPrefix(p, uiMountsPrefix):
		return "mounts"
	case list:
		return OpList
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return OpRead
	case r.Method == http.MethodPatch:
		return OpPatch
	case r.Method == http.MethodDelete:
		return OpDelete
	default:
		return OpWrite
	}
}

// checkVaultAllowList maps a raw Vault path to the broker's logical form
// (KV v2 "kv/data/a" → read "kv/a") and applies the allow-list. Unknown
// KV v2 sections are refused: the allow-list cannot reason about them.
func (s *Server) checkVaultAllowList(ctx context.Context, call vault.Call, x *exchange, r *http.Request, p string) error {
	if strings.HasPrefix(p, uiMountsPrefix) {
		return nil
	}
	p = strings.TrimSuffix(p, "/")
	mount, rest, _ := strings.Cut(p, "/")
	op := vaultOp(r, p)
	kind, _, err := s.cfg.KV.MountKind(ctx, mount, call)
	if err != nil {
		return err
	}
	if kind == vault.KVv1 {
		return allow(x, op, p)
	}
	section, sub, _ := strings.Cut(rest, "/")
	logical := mount
	if sub != "" {
		logical += "/" + sub
	}
	switch section {
	case "data":
	case "metadata":
		if op == OpRead {
			op = OpVersions
		}
		if op == OpPatch {
			op = OpWrite
		}
	case "delete", "undelete", "destroy":
		op = OpDelete
	case "subkeys":
		op = OpRead
	default:
		return refused("KV v2 path section " + section + " is not available through the broker")
	}
	return allow(x, op, logical)
}
