package env

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// VaultAuditEntry is one line of Vault's file audit log, reduced to what
// tests assert on. Values Vault HMACs (tokens, accessors, request data) stay
// HMACed; metadata, paths and audited headers are clear text.
type VaultAuditEntry struct {
	Type    string          `json:"type"` // "request" or "response"
	Time    string          `json:"time"`
	Error   string          `json:"error"`
	Auth    *VaultAuditAuth `json:"auth"`
	Request struct {
		ID            string              `json:"id"`
		Operation     string              `json:"operation"`
		Path          string              `json:"path"`
		MountType     string              `json:"mount_type"`
		MountPoint    string              `json:"mount_point"`
		RemoteAddress string              `json:"remote_address"`
		Headers       map[string][]string `json:"headers"`
	} `json:"request"`
	Response *struct {
		Auth *VaultAuditAuth `json:"auth"`
	} `json:"response"`
}

// VaultAuditAuth is the auth block of an entry: who made the call or, on a
// login response, the identity the new token was issued to.
type VaultAuditAuth struct {
	DisplayName   string            `json:"display_name"`
	Accessor      string            `json:"accessor"`
	Policies      []string          `json:"policies"`
	TokenPolicies []string          `json:"token_policies"`
	Metadata      map[string]string `json:"metadata"`
	EntityID      string            `json:"entity_id"`
	TokenType     string            `json:"token_type"`
}

// LoginAuth is the identity a successful login response issued a token to,
// or nil when the entry is not one.
func (a VaultAuditEntry) LoginAuth() *VaultAuditAuth {
	if a.Type != "response" || a.Error != "" || a.Response == nil {
		return nil
	}
	return a.Response.Auth
}

// VaultAuditEntries parses the whole Vault audit log.
func (e *Env) VaultAuditEntries() ([]VaultAuditEntry, error) {
	var out []VaultAuditEntry
	err := scanJSONLines(e.vaultAuditPath, func(line []byte) error {
		var a VaultAuditEntry
		if err := json.Unmarshal(line, &a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read vault audit log: %w", err)
	}
	return out, nil
}

// CountVaultLogins counts successful auth/kubernetes/login calls for role
// (any role if empty): each is one login the broker or a test caused.
func (e *Env) CountVaultLogins(role string) (int, error) {
	entries, err := e.VaultAuditEntries()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range entries {
		la := a.LoginAuth()
		if a.Request.Path == "auth/kubernetes/login" && la != nil && (role == "" || la.Metadata["role"] == role) {
			n++
		}
	}
	return n, nil
}

// CountVaultLoginAttempts counts every auth/kubernetes/login request,
// refused ones included. The role is not filterable: Vault HMACs request
// data, and a refused login has no auth block naming it.
func (e *Env) CountVaultLoginAttempts() (int, error) {
	entries, err := e.VaultAuditEntries()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range entries {
		if a.Type == "request" && a.Request.Path == "auth/kubernetes/login" {
			n++
		}
	}
	return n, nil
}

// CountVaultRevokes counts successful token revocations (revoke-self,
// revoke, revoke-accessor, revoke-orphan).
func (e *Env) CountVaultRevokes() (int, error) {
	entries, err := e.VaultAuditEntries()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range entries {
		if a.Type == "response" && a.Error == "" && strings.HasPrefix(a.Request.Path, "auth/token/revoke") {
			n++
		}
	}
	return n, nil
}

// kubeAuditEvent is the part of an audit.k8s.io/v1 Event the counters use.
type kubeAuditEvent struct {
	AuditID string `json:"auditID"`
	Verb    string `json:"verb"`
	User    struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource string `json:"resource"`
	} `json:"objectRef"`
}

// CountTokenReviews counts TokenReviews created by user, e.g. BrokerUser or
// VaultReviewerUser.
func (e *Env) CountTokenReviews(user string) (int, error) {
	return e.CountAPIRequests(user, "create", "tokenreviews")
}

// CountAPIRequests counts requests by user with verb on resource, from the
// apiserver's audit log. The audit policy records only tokenreviews and pod
// get/list/watch; anything else counts zero. Each request counts once even
// when it has several stages (a watch logs ResponseStarted and later
// ResponseComplete).
func (e *Env) CountAPIRequests(user, verb, resource string) (int, error) {
	seen := map[string]bool{}
	err := scanJSONLines(e.kubeAuditPath, func(line []byte) error {
		var ev kubeAuditEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return err
		}
		if ev.User.Username == user && ev.Verb == verb && ev.ObjectRef != nil && ev.ObjectRef.Resource == resource {
			seen[ev.AuditID] = true
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read apiserver audit log: %w", err)
	}
	return len(seen), nil
}

// scanJSONLines calls fn for every complete line of path. A missing file is
// an empty log (nothing audited yet); a trailing line without its newline is
// still being written and is left for the next call.
func scanJSONLines(path string, fn func([]byte) error) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	} else {
		b = nil
	}
	for lineNo, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return fmt.Errorf("line %d: %w", lineNo+1, err)
		}
	}
	return nil
}
