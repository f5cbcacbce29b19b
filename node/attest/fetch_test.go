package attest

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/secrets-broker/secrets-broker/node/podindex"
)

// fetchingPods has an empty index but can ask "the apiserver" (apiserver).
type fetchingPods struct {
	apiserver map[string]podindex.Pod
	fetches   int
}

func (f *fetchingPods) ByUID(string) (podindex.Pod, bool) { return podindex.Pod{}, false }

func (f *fetchingPods) FetchPod(_ context.Context, ns, name, uid string) (podindex.Pod, bool) {
	f.fetches++
	p, ok := f.apiserver[uid]
	return p, ok && p.Namespace == ns && p.Name == name
}

func TestIndexMissFallsBackToFetch(t *testing.T) {
	tests := []struct {
		name     string
		known    map[string]podindex.Pod
		claim    Claim
		wantCode string
	}{
		{name: "pod the watch has not delivered yet", known: map[string]podindex.Pod{uidA: pods[uidA]}, claim: claimOf(uidA)},
		{name: "pod the apiserver does not know", known: map[string]podindex.Pod{}, claim: claimOf(uidA), wantCode: CodeNotOnNode},
		{name: "fetched pod still checked for identity", known: map[string]podindex.Pod{uidA: pods[uidA]},
			claim: with(claimOf(uidA), func(c *Claim) { c.ServiceAccount = "other" }), wantCode: CodeIdentityMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fetchingPods{apiserver: tt.known}
			a, err := New(Config{Mode: NodeOnly, NodeName: node, Pods: f, Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			err = a.Attest(context.Background(), nil, tt.claim)
			if CodeOf(err) != tt.wantCode && !(err == nil && tt.wantCode == "") {
				t.Fatalf("got %v (code %q), want %q", err, CodeOf(err), tt.wantCode)
			}
			if f.fetches != 1 {
				t.Fatalf("%d fetches, want 1", f.fetches)
			}
		})
	}
}
