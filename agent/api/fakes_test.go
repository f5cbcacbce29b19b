package api

import (
	"context"
	"sync"

	"github.com/secrets-broker/secrets-broker/agent/authn"
	"github.com/secrets-broker/secrets-broker/agent/policy"
	"github.com/secrets-broker/secrets-broker/agent/secret"
	"github.com/secrets-broker/secrets-broker/agent/session"
	"github.com/secrets-broker/secrets-broker/agent/vault"
	"github.com/secrets-broker/secrets-broker/node/attest"
	"github.com/secrets-broker/secrets-broker/node/peer"
)

type fakeAuthn struct {
	id  authn.Identity
	err error
}

func (f fakeAuthn) Authenticate(context.Context, secret.Token) (authn.Identity, error) {
	return f.id, f.err
}

type fakeAttest struct{ err error }

func (f fakeAttest) Attest(context.Context, *peer.Info, attest.Claim) error { return f.err }

type fakePolicies map[string]policy.Entry

func (f fakePolicies) Lookup(ns, sa string) (policy.Entry, bool) {
	e, ok := f[ns+"/"+sa]
	return e, ok
}

type fakeSessions struct{}

func (fakeSessions) Do(_ context.Context, _ session.Key, _ secret.Token, _ vault.Call, fn func(session.Session) error) error {
	return fn(session.Session{Token: "hvs.CANARY-VAULT-TOKEN", Accessor: "acc-1"})
}

// fakeKV is an in-memory KV v2 with Vault's error semantics.
type fakeKV struct {
	mu     sync.Mutex
	data   map[string]map[string]any
	ver    map[string]int
	err    error
	writes int
}

func newFakeKV() *fakeKV { return &fakeKV{data: map[string]map[string]any{}, ver: map[string]int{}} }

func (f *fakeKV) MountKind(context.Context, string, vault.Call) (vault.MountKind, bool, error) {
	return vault.KVv2, true, nil
}

func (f *fakeKV) Read(_ context.Context, _ vault.Call, op vault.Op) (vault.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return vault.Result{}, f.err
	}
	d, ok := f.data[op.Mount+"/"+op.Path]
	if !ok {
		return vault.Result{}, &vault.Error{Kind: vault.ErrNotFound}
	}
	return vault.Result{Data: d, Version: f.ver[op.Mount+"/"+op.Path]}, nil
}

func (f *fakeKV) Write(_ context.Context, _ vault.Call, op vault.Op) (vault.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return vault.Result{}, f.err
	}
	k := op.Mount + "/" + op.Path
	if op.CAS != nil && *op.CAS != f.ver[k] {
		return vault.Result{}, &vault.Error{Kind: vault.ErrConflict, Status: 400}
	}
	f.data[k] = op.Data.Reveal()
	f.ver[k]++
	f.writes++
	return vault.Result{Version: f.ver[k]}, nil
}

func (f *fakeKV) Patch(ctx context.Context, c vault.Call, op vault.Op) (vault.Result, error) {
	return f.Write(ctx, c, op)
}

func (f *fakeKV) List(context.Context, vault.Call, vault.Op) (vault.Result, error) {
	return vault.Result{Keys: []string{"a", "b/"}}, f.err
}

func (f *fakeKV) Delete(context.Context, vault.Call, vault.Op) (vault.Result, error) {
	return vault.Result{}, f.err
}

func (f *fakeKV) Versions(context.Context, vault.Call, vault.Op) (vault.Result, error) {
	return vault.Result{Metadata: map[string]any{"current_version": 1}}, f.err
}
