package vault

import (
	"context"
	"encoding/json"
	"strconv"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/secrets-broker/secrets-broker/agent/secret"
)

// Result is what a KV call returned, minus anything secret for logging:
// Data is redacting, the rest is metadata.
type Result struct {
	Data      secret.Data    `json:"-"`
	Version   int            `json:"version,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	Keys      []string       `json:"keys,omitempty"`
	RequestID string         `json:"-"`
}

// Op is one KV operation on one path; Mount and Path are already
// normalised by the caller (no leading or trailing slash, no "..").
type Op struct {
	Mount   string
	Path    string
	Kind    MountKind
	Version int         // read: 0 = latest
	CAS     *int        // write/patch: check-and-set version
	Data    secret.Data // write/patch payload
}

func (o Op) v2(section string) string { return o.Mount + "/" + section + "/" + o.Path }
func (o Op) v1() string               { return o.Mount + "/" + o.Path }

// Read returns the secret (a given version on KV v2 when Version > 0).
func (c *Client) Read(ctx context.Context, call Call, op Op) (Result, error) {
	cl := c.with(call).Logical()
	if op.Kind == KVv1 {
		if op.Version > 0 {
			return Result{}, &Error{Kind: ErrUnsupported, Reason: "versions need KV v2"}
		}
		s, err := cl.ReadWithContext(ctx, op.v1())
		if err != nil {
			return Result{}, classify(err)
		}
		if s == nil {
			return Result{}, &Error{Kind: ErrNotFound}
		}
		return Result{Data: secret.Data(s.Data), RequestID: s.RequestID}, nil
	}
	var q map[string][]string
	if op.Version > 0 {
		q = map[string][]string{"version": {strconv.Itoa(op.Version)}}
	}
	s, err := cl.ReadWithDataWithContext(ctx, op.v2("data"), q)
	if err != nil {
		return Result{}, classify(err)
	}
	data, _ := dataField(s)
	if data == nil { // absent, or a deleted/destroyed version
		return Result{}, &Error{Kind: ErrNotFound}
	}
	meta, _ := s.Data["metadata"].(map[string]any)
	return Result{Data: data, Version: versionOf(meta), Metadata: meta, RequestID: s.RequestID}, nil
}

// Write stores data; on KV v2 with CAS when op.CAS is set. It returns only
// after Vault confirmed the write.
func (c *Client) Write(ctx context.Context, call Call, op Op) (Result, error) {
	cl := c.with(call).Logical()
	if op.Kind == KVv1 {
		if op.CAS != nil {
			return Result{}, &Error{Kind: ErrUnsupported, Reason: "check-and-set needs KV v2"}
		}
		s, err := cl.WriteWithContext(ctx, op.v1(), op.Data.Reveal())
		if err != nil {
			return Result{}, classify(err)
		}
		return Result{RequestID: requestID(s)}, nil
	}
	body := map[string]any{"data": op.Data.Reveal()}
	if op.CAS != nil {
		body["options"] = map[string]any{"cas": *op.CAS}
	}
	s, err := cl.WriteWithContext(ctx, op.v2("data"), body)
	if err != nil {
		return Result{}, classify(err)
	}
	return writeResult(s)
}

// Patch merges data into the latest KV v2 version (JSON merge patch).
func (c *Client) Patch(ctx context.Context, call Call, op Op) (Result, error) {
	if op.Kind != KVv2 {
		return Result{}, &Error{Kind: ErrUnsupported, Reason: "patch needs KV v2"}
	}
	body := map[string]any{"data": op.Data.Reveal()}
	if op.CAS != nil {
		body["options"] = map[string]any{"cas": *op.CAS}
	}
	s, err := c.with(call).Logical().JSONMergePatch(ctx, op.v2("data"), body)
	if err != nil {
		return Result{}, classify(err)
	}
	return writeResult(s)
}

// List returns the keys under a path (folders end in "/").
func (c *Client) List(ctx context.Context, call Call, op Op) (Result, error) {
	p := op.v1()
	if op.Kind == KVv2 {
		p = op.v2("metadata")
	}
	s, err := c.with(call).Logical().ListWithContext(ctx, p)
	if err != nil {
		return Result{}, classify(err)
	}
	if s == nil || s.Data == nil {
		return Result{}, &Error{Kind: ErrNotFound}
	}
	raw, _ := s.Data["keys"].([]any)
	keys := make([]string, 0, len(raw))
	for _, k := range raw {
		if ks, ok := k.(string); ok {
			keys = append(keys, ks)
		}
	}
	return Result{Keys: keys, RequestID: s.RequestID}, nil
}

// Delete removes the latest version (KV v2, recoverable with undelete) or
// the secret (KV v1).
func (c *Client) Delete(ctx context.Context, call Call, op Op) (Result, error) {
	p := op.v1()
	if op.Kind == KVv2 {
		p = op.v2("data")
	}
	s, err := c.with(call).Logical().DeleteWithContext(ctx, p)
	if err != nil {
		return Result{}, classify(err)
	}
	return Result{RequestID: requestID(s)}, nil
}

// Versions returns KV v2 metadata: current version and each version's
// times, never data.
func (c *Client) Versions(ctx context.Context, call Call, op Op) (Result, error) {
	if op.Kind != KVv2 {
		return Result{}, &Error{Kind: ErrUnsupported, Reason: "versions need KV v2"}
	}
	s, err := c.with(call).Logical().ReadWithContext(ctx, op.v2("metadata"))
	if err != nil {
		return Result{}, classify(err)
	}
	if s == nil || s.Data == nil {
		return Result{}, &Error{Kind: ErrNotFound}
	}
	return Result{Metadata: s.Data, Version: versionOf(s.Data), RequestID: s.RequestID}, nil
}

func dataField(s *vaultapi.Secret) (secret.Data, bool) {
	if s == nil || s.Data == nil {
		return nil, false
	}
	d, ok := s.Data["data"].(map[string]any)
	return secret.Data(d), ok
}

func writeResult(s *vaultapi.Secret) (Result, error) {
	if s == nil || s.Data == nil {
		return Result{}, &Error{Kind: ErrUpstream, Reason: "vault confirmed no version"}
	}
	v := versionOf(s.Data)
	if v == 0 {
		return Result{}, &Error{Kind: ErrUpstream, Reason: "vault confirmed no version"}
	}
	return Result{Version: v, Metadata: s.Data, RequestID: s.RequestID}, nil
}

// versionOf reads "version" (KV v2 metadata) or "current_version".
func versionOf(m map[string]any) int {
	for _, k := range []string{"version", "current_version"} {
		switch v := m[k].(type) {
		case json.Number:
			n, _ := v.Int64()
			return int(n)
		case float64:
			return int(v)
		case int:
			return v
		}
	}
	return 0
}

func requestID(s *vaultapi.Secret) string {
	if s == nil {
		return ""
	}
	return s.RequestID
}
