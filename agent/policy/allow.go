package policy

import (
	"slices"
	"strings"
)

// Allows reports whether the entry's allow-list permits op on fullPath
// ("mount/path..."). Without an allow-list every op and path is allowed
// (Vault still decides). A path with an empty, "." or ".." segment is never
// allowed, so a caller that forgot to normalise cannot walk out of a prefix.
func (e Entry) Allows(op, fullPath string) bool {
	if !cleanPath(fullPath) {
		return false
	}
	if e.Allow == nil {
		return true
	}
	for _, r := range e.Allow {
		if !slices.Contains(r.Ops, op) {
			continue
		}
		for _, p := range r.Paths {
			if matches(p, op, fullPath) {
				return true
			}
		}
	}
	return false
}

// matches applies one allow-list path. "kv/a/" matches everything under
// kv/a, and listing kv/a itself (which only reveals names under it), but
// not a secret named kv/a. "kv/a" matches kv/a and everything under it, on
// segment boundaries only: never kv/ab.
func matches(prefix, op, path string) bool {
	if dir, ok := strings.CutSuffix(prefix, "/"); ok {
		return strings.HasPrefix(path, prefix) || (op == "list" && path == dir)
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
