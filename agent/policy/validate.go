package policy

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Operations an allow rule may name.
var validOps = map[string]bool{
	"read": true, "write": true, "patch": true, "list": true, "delete": true, "versions": true,
}

var (
	// roleRE is Vault's own role-name pattern (framework.GenericNameRegex).
	roleRE = regexp.MustCompile(`^\w(?:[\w.-]*\w)?$`)
	// segmentRE is one segment of a Vault mount path.
	segmentRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

func validateEntry(i int, e Entry) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("policy[%d]: %s: %s", i, field, fmt.Sprintf(format, args...)))
	}
	if e.Namespace == "" {
		bad("k8s_ns", "required")
	} else if msgs := validation.IsDNS1123Label(e.Namespace); len(msgs) > 0 {
		bad("k8s_ns", "%q: %s", e.Namespace, strings.Join(msgs, "; "))
	}
	if e.ServiceAccount == "" {
		bad("k8s_sa", "required")
	} else if msgs := validation.IsDNS1123Subdomain(e.ServiceAccount); len(msgs) > 0 {
		bad("k8s_sa", "%q: %s", e.ServiceAccount, strings.Join(msgs, "; "))
	}
	if e.VaultRole == "" {
		bad("vault_role", "required")
	} else if !roleRE.MatchString(e.VaultRole) {
		bad("vault_role", "%q: must be letters, digits, '_', '-', '.', starting and ending with a letter, digit or '_'", e.VaultRole)
	}
	if err := checkMount(e.AuthMount); err != "" {
		bad("auth_mount", "%q: %s", e.AuthMount, err)
	}
	if e.Allow != nil && len(e.Allow) == 0 {
		bad("allow", "empty list allows nothing; omit it to allow every operation")
	}
	for j, r := range e.Allow {
		for _, msg := range checkRule(r) {
			bad(fmt.Sprintf("allow[%d]", j), "%s", msg)
		}
	}
	return errs
}

func checkMount(m string) string {
	if strings.HasPrefix(m, "/") || strings.HasSuffix(m, "/") {
		return "no leading or trailing '/'"
	}
	for seg := range strings.SplitSeq(m, "/") {
		if seg == "." || seg == ".." || !segmentRE.MatchString(seg) {
			return "segments must be non-empty letters, digits, '_', '-', '.'"
		}
	}
	return ""
}

func checkRule(r Rule) []string {
	var msgs []string
	if len(r.Ops) == 0 {
		msgs = append(msgs, "ops: required")
	}
	for _, op := range r.Ops {
		if !validOps[op] {
			msgs = append(msgs, fmt.Sprintf("ops: unknown operation %q (read, write, patch, list, delete, versions)", op))
		}
	}
	if len(r.Paths) == 0 {
		msgs = append(msgs, "paths: required")
	}
	for _, p := range r.Paths {
		if msg := checkPrefix(p); msg != "" {
			msgs = append(msgs, fmt.Sprintf("paths: %q: %s", p, msg))
		}
	}
	return msgs
}

// checkPrefix validates an allow-list path: "mount/dir/" (prefix) or
// "mount/dir/key" (exact, or a whole-segment prefix).
func checkPrefix(p string) string {
	switch {
	case p == "":
		return "empty"
	case strings.HasPrefix(p, "/"):
		return "must not start with '/'; begin with the mount"
	case strings.ContainsAny(p, "*?[]{}"):
		return "globs are not supported; end a prefix with '/'"
	case strings.ContainsFunc(p, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return "contains whitespace or control characters"
	}
	if !cleanPath(p) {
		return "contains '.', '..' or an empty segment"
	}
	return ""
}

// cleanPath reports whether p has no empty, "." or ".." segment; one
// trailing '/' is allowed.
func cleanPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") {
		return false
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(p, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
