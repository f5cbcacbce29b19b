// Package policy owns the mapping from a caller's (namespace,
// serviceaccount) to the Vault role it logs in as — the ADR's ConfigMap —
// plus an optional per-entry allow-list of operations and path prefixes.
//
// It defends against: a typo or a half-written file silently widening or
// cutting off access (strict parsing, every problem reported at once, and a
// bad reload keeps the last good policy); two entries claiming the same
// ServiceAccount (duplicates refused, so the role is never ambiguous); and
// path tricks in allow-lists ("..", empty segments, globs are refused).
// The allow-list is defence in depth: Vault's policies still decide.
package policy

import (
	"errors"
	"fmt"

	"sigs.k8s.io/yaml"
)

// DefaultAuthMount is the Vault auth mount used when an entry names none.
const DefaultAuthMount = "kubernetes"

// Entry maps one ServiceAccount to a Vault role. Treat it as read-only: it
// shares its Allow slice with the Policy it came from.
type Entry struct {
	Namespace      string `json:"k8s_ns"`
	ServiceAccount string `json:"k8s_sa"`
	VaultRole      string `json:"vault_role"`
	AuthMount      string `json:"auth_mount,omitempty"`
	// Allow restricts operations and paths; nil allows every op and path.
	Allow []Rule `json:"allow,omitempty"`
}

// Rule allows Ops on every path matching one of Paths ("mount/prefix").
type Rule struct {
	Ops   []string `json:"ops"`
	Paths []string `json:"paths"`
}

// file is the document's wire shape.
type file struct {
	Policy []Entry `json:"policy"`
}

type key struct{ ns, sa string }

// Policy is one validated, immutable policy document.
type Policy struct {
	entries []Entry
	index   map[key]int
}

// Parse decodes a policy document strictly (unknown fields and duplicate
// keys are errors), fills defaults and validates it, reporting every
// problem at once.
func Parse(data []byte) (*Policy, error) {
	var f file
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("decode policy: %w", err)
	}
	if len(f.Policy) == 0 {
		// An empty document is far more often a wrong ConfigMap key than
		// an intent to refuse every caller.
		return nil, errors.New("policy has no entries")
	}
	p := &Policy{entries: f.Policy, index: make(map[key]int, len(f.Policy))}
	var errs []error
	for i := range p.entries {
		e := &p.entries[i]
		if e.AuthMount == "" {
			e.AuthMount = DefaultAuthMount
		}
		errs = append(errs, validateEntry(i, *e)...)
		k := key{e.Namespace, e.ServiceAccount}
		if first, dup := p.index[k]; dup {
			errs = append(errs, fmt.Errorf("policy[%d]: duplicate of policy[%d] for %s/%s", i, first, e.Namespace, e.ServiceAccount))
			continue
		}
		p.index[k] = i
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Lookup returns the entry for (ns, sa).
func (p *Policy) Lookup(ns, sa string) (Entry, bool) {
	i, ok := p.index[key{ns, sa}]
	if !ok {
		return Entry{}, false
	}
	return p.entries[i], true
}

// Len is the number of entries.
func (p *Policy) Len() int { return len(p.entries) }
