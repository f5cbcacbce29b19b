// Package envtest proves the integration environment itself: the ADR's Vault
// setup from deploy/vault/ on a real Vault, fed by real bound tokens from a
// real kube-apiserver, with no broker in between. If these fail, no broker
// test result means anything.
package envtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"

	"github.com/secrets-broker/secrets-broker/integration/env"
)

// testEnv is shared by every test in the package: one apiserver start, and
// namespaces that never finish deleting anyway.
var testEnv *env.Env

func TestMain(m *testing.M) {
	os.Exit(env.RunTests(m, env.Options{}, func(e *env.Env) { testEnv = e }))
}

var seq atomic.Int64

// uniq returns a name no other test in this process uses.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().Unix()%100000, seq.Add(1))
}

// podToken creates a pod for ns/sa on node-a and mints a token bound to it.
func podToken(t *testing.T, ns, sa, audience string) (*corev1.Pod, string) {
	t.Helper()
	pod, err := testEnv.CreatePod(t.Context(), ns, uniq("p"), sa, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := testEnv.MintToken(t.Context(), ns, sa, pod, audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return pod, tok
}

// login performs the kubernetes-auth login the broker will make, directly.
func login(ctx context.Context, jwt, role string) (*vaultapi.Secret, error) {
	c, err := testEnv.VaultClient("")
	if err != nil {
		return nil, err
	}
	return c.Logical().WriteWithContext(ctx, "auth/kubernetes/login", map[string]any{"role": role, "jwt": jwt})
}

// mustLogin logs in and returns a client holding the new token.
func mustLogin(t *testing.T, jwt, role string) (*vaultapi.Client, *vaultapi.Secret) {
	t.Helper()
	s, err := login(t.Context(), jwt, role)
	if err != nil {
		t.Fatalf("login as %s: %v", role, err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		t.Fatalf("login as %s: no token in %+v", role, s)
	}
	c, err := testEnv.VaultClient(s.Auth.ClientToken)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// wantStatus fails unless err is a Vault response error with that status.
func wantStatus(t *testing.T, what string, err error, status int) *vaultapi.ResponseError {
	t.Helper()
	var re *vaultapi.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%s: want HTTP %d from Vault, got err %v", what, status, err)
	}
	if re.StatusCode != status {
		t.Fatalf("%s: want HTTP %d, got %d: %v", what, status, re.StatusCode, re.Errors)
	}
	return re
}
