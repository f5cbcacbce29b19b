package api

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Operation names, as used in routes, policy allow-lists, metrics and audit.
const (
	OpRead     = "read"
	OpWrite    = "write"
	OpPatch    = "patch"
	OpList     = "list"
	OpDelete   = "delete"
	OpVersions = "versions"
)

// maxPathBytes bounds the secret path; Vault has no use for longer ones and
// a bound keeps logs and audit lines small.
const maxPathBytes = 1024

// target is a parsed, normalised /api/v1 request line.
type target struct {
	Op      string
	Mount   string
	Path    string // below the mount, no leading/trailing slash
	Version int
}

// Full is "mount/path", the form allow-lists and audit use.
func (t target) Full() string {
	if t.Path == "" {
		return t.Mount
	}
	return t.Mount + "/" + t.Path
}

// parseTarget turns /api/v1/{route}/{mount}/{path...} into a target. It
// refuses rather than repairs anything ambiguous: dot segments (also
// percent-encoded), empty segments, encoded slashes, control characters
// and invalid UTF-8. Silent cleaning would let "a/../b" name a path the
// caller's allow-list never saw.
func parseTarget(r *http.Request) (target, *apiError) {
	escaped := r.URL.EscapedPath()
	if strings.Contains(strings.ToLower(escaped), "%2f") {
		return target{}, errBadPath("encoded slash in path")
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/")
	if !ok {
		return target{}, errUnknownRoute()
	}
	route, rest, _ := strings.Cut(rest, "/")
	op, aerr := opFor(route, r.Method)
	if aerr != nil {
		return target{}, aerr
	}
	if op == OpList {
		rest = strings.TrimSuffix(rest, "/") // "folder/" lists the folder
	}
	if err := checkPath(rest); err != nil {
		return target{}, err
	}
	mount, path, _ := strings.Cut(rest, "/")
	if path == "" && op != OpList {
		return target{}, errBadPath("path names a mount, not a secret")
	}
	t := target{Op: op, Mount: mount, Path: path}
	return t, parseQuery(r, &t)
}

func checkPath(p string) *apiError {
	switch {
	case p == "":
		return errBadPath("missing mount and path")
	case len(p) > maxPathBytes:
		return errBadPath("path longer than " + strconv.Itoa(maxPathBytes) + " bytes")
	case !utf8.ValidString(p):
		return errBadPath("path is not valid UTF-8")
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return errBadPath("control character or backslash in path")
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return errBadPath("empty path segment")
		case ".", "..":
			return errBadPath("dot segment in path")
		}
	}
	return nil
}

// opFor maps route and method to an operation.
func opFor(route, method string) (string, *apiError) {
	type rm struct{ route, method string }
	switch (rm{route, method}) {
	case rm{"read", http.MethodGet}:
		return OpRead, nil
	case rm{"write", http.MethodPost}, rm{"write", http.MethodPut}:
		return OpWrite, nil
	case rm{"write", http.MethodPatch}:
		return OpPatch, nil
	case rm{"list", http.MethodGet}, rm{"list", "LIST"}:
		return OpList, nil
	case rm{"delete", http.MethodDelete}:
		return OpDelete, nil
	case rm{"versions", http.MethodGet}:
		return OpVersions, nil
	}
	allowed := map[string]string{"read": "GET", "write": "POST, PUT, PATCH", "list": "GET", "delete": "DELETE", "versions": "GET"}
	if a, ok := allowed[route]; ok {
		return "", errMethod(a)
	}
	return "", errUnknownRoute()
}

func parseQuery(r *http.Request, t *target) *apiError {
	q := r.URL.Query()
	for k := range q {
		if k != "version" || t.Op != OpRead {
			return errBadRequest("bad_query", "unknown query parameter "+strconv.Quote(trunc(k, 32)))
		}
	}
	v := q.Get("version")
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 1 {
		return errBadRequest("bad_version", "version must be a positive integer")
	}
	t.Version = int(n)
	return nil
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
