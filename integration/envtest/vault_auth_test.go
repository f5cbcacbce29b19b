package envtest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/env"
)

// TestCryptoGenWrites: a pod-bound token of tokenizer-cg-sa logs in with
// tokenizer-cg-role and writes its own subtree; Vault stores the value.
func TestCryptoGenWrites(t *testing.T) {
	ctx := t.Context()
	_, jwt := podToken(t, env.CryptoGenNamespace, env.CryptoGenSA, env.Audience)
	c, s := mustLogin(t, jwt, env.CryptoGenRole)
	if !slices.Contains(s.Auth.Policies, "policy-tokenizer-cg") {
		t.Errorf("cg token policies = %v, want policy-tokenizer-cg", s.Auth.Policies)
	}
	if s.Auth.LeaseDuration != 3600 {
		t.Errorf("cg token ttl = %d s, want 3600 (token_ttl=1h)", s.Auth.LeaseDuration)
	}
	value := "v-" + uniq("x")
	if _, err := c.KVv2("kv").Put(ctx, "tokenizer/crypto-gen/x", map[string]any{"k": value}); err != nil {
		t.Fatalf("cg write kv/tokenizer/crypto-gen/x: %v", err)
	}
	// Read back as root: the write really landed, not only a 2xx.
	root, err := testEnv.VaultClient(testEnv.VaultRootToken())
	if err != nil {
		t.Fatal(err)
	}
	got, err := root.KVv2("kv").Get(ctx, "tokenizer/crypto-gen/x")
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["k"] != value {
		t.Errorf("stored %v, want %q", got.Data["k"], value)
	}
	// The real CLI, with the cg token passed explicitly, reads it too; with
	// no token it must not fall back to any stored one.
	out, err := testEnv.VaultCLI(ctx, s.Auth.ClientToken, "kv", "get", "-field=k", "kv/tokenizer/crypto-gen/x")
	if err != nil || strings.TrimSuffix(out, "\n") != value {
		t.Errorf("vault kv get as cg = %q, %v; want %q", out, err, value)
	}
	if out, err := testEnv.VaultCLI(ctx, "", "kv", "get", "-field=k", "kv/tokenizer/crypto-gen/x"); err == nil {
		t.Errorf("vault kv get without a token succeeded: %q", out)
	}
	// KV v2 listing goes through kv/metadata; the ADR's policy lacked it.
	keys, err := c.Logical().ListWithContext(ctx, "kv/metadata/tokenizer/crypto-gen/")
	if err != nil || keys == nil {
		t.Fatalf("cg list: %v (secret %v)", err, keys)
	}
	// No delete: the ADR grants reads and writes only.
	err = c.KVv2("kv").Delete(ctx, "tokenizer/crypto-gen/x")
	wantStatus(t, "cg delete", err, http.StatusForbidden)
}

// TestDataPlaneIsReadOnly: tokenizer-dp-sa may read its own subtree and
// nothing else; in particular it cannot write crypto-gen's.
func TestDataPlaneIsReadOnly(t *testing.T) {
	ctx := t.Context()
	root, err := testEnv.VaultClient(testEnv.VaultRootToken())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"tokenizer/data-plane/cfg", "tokenizer/crypto-gen/key", "tokenizer/control-plane/cfg"} {
		if _, err := root.KVv2("kv").Put(ctx, p, map[string]any{"k": "seed"}); err != nil {
			t.Fatalf("seed %s: %v", p, err)
		}
	}
	_, jwt := podToken(t, env.DataPlaneNamespace, env.DataPlaneSA, env.Audience)
	c, _ := mustLogin(t, jwt, env.DataPlaneRole)

	if _, err := c.KVv2("kv").Get(ctx, "tokenizer/data-plane/cfg"); err != nil {
		t.Errorf("dp read own path: %v", err)
	}
	if _, err := c.Logical().ListWithContext(ctx, "kv/metadata/tokenizer/data-plane/"); err != nil {
		t.Errorf("dp list own path: %v", err)
	}
	_, err = c.KVv2("kv").Put(ctx, "tokenizer/crypto-gen/x", map[string]any{"k": "dp-was-here"})
	wantStatus(t, "dp write to crypto-gen", err, http.StatusForbidden)
	_, err = c.KVv2("kv").Put(ctx, "tokenizer/data-plane/cfg", map[string]any{"k": "dp-was-here"})
	wantStatus(t, "dp write to its own read-only path", err, http.StatusForbidden)
	_, err = c.KVv2("kv").Get(ctx, "tokenizer/crypto-gen/key")
	wantStatus(t, "dp read crypto-gen", err, http.StatusForbidden)
	_, err = c.KVv2("kv").Get(ctx, "tokenizer/control-plane/cfg")
	wantStatus(t, "dp read control-plane", err, http.StatusForbidden)

	// The role binds the ServiceAccount: dp's token cannot borrow cg's role.
	_, err = login(ctx, jwt, env.CryptoGenRole)
	re := wantStatus(t, "dp token on cg role", err, http.StatusForbidden)
	if !strings.Contains(strings.Join(re.Errors, " "), "not authorized") {
		t.Errorf("dp on cg role: errors %v, want 'service account name not authorized'", re.Errors)
	}
}

// TestWrongAudienceRefused: the roles set audience="secrets-broker", so a
// token minted for anything else does not log in, even for the right SA.
func TestWrongAudienceRefused(t *testing.T) {
	for _, aud := range []string{"some-other-service", ""} { // "" = the apiserver's own audience
		name := aud
		if name == "" {
			name = "apiserver-default"
		}
		t.Run(name, func(t *testing.T) {
			_, jwt := podToken(t, env.CryptoGenNamespace, env.CryptoGenSA, aud)
			logins := count(t, func() (int, error) { return testEnv.CountVaultLogins("") })
			attempts := count(t, testEnv.CountVaultLoginAttempts)
			_, err := login(t.Context(), jwt, env.CryptoGenRole)
			re := wantStatus(t, "login with audience "+name, err, http.StatusForbidden)
			if !strings.Contains(strings.Join(re.Errors, " "), "audience") {
				t.Errorf("errors %v, want an audience complaint", re.Errors)
			}
			if n := count(t, testEnv.CountVaultLoginAttempts); n != attempts+1 {
				t.Errorf("login attempts %d -> %d, want +1", attempts, n)
			}
			if n := count(t, func() (int, error) { return testEnv.CountVaultLogins("") }); n != logins {
				t.Errorf("successful logins %d -> %d, want unchanged", logins, n)
			}
		})
	}
}

// TestDeletedPodTokenRefused: a bound token dies with its pod. The
// apiserver caches successful TokenReviews for 10 s, so poll.
func TestDeletedPodTokenRefused(t *testing.T) {
	ctx := t.Context()
	pod, jwt := podToken(t, env.CryptoGenNamespace, env.CryptoGenSA, env.Audience)
	mustLogin(t, jwt, env.CryptoGenRole) // valid while the pod lives
	if err := testEnv.DeletePod(ctx, pod.Namespace, pod.Name); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	deadline := deleted.Add(20 * time.Second)
	for {
		_, err := login(ctx, jwt, env.CryptoGenRole)
		if err != nil {
			wantStatus(t, "login after pod deletion", err, http.StatusForbidden)
			t.Logf("refused %s after deletion", time.Since(deleted).Round(100*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("token of deleted pod still logs in after %s", time.Since(deleted).Round(time.Second))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestSetupIsIdempotent: operators re-run deploy/vault/setup.sh; a second
// run must succeed and leave logins working.
func TestSetupIsIdempotent(t *testing.T) {
	if err := testEnv.RunVaultSetup(t.Context()); err != nil {
		t.Fatalf("second setup.sh run: %v", err)
	}
	_, jwt := podToken(t, env.ControlPlaneNamespace, env.ControlPlaneSA, env.Audience)
	_, s := mustLogin(t, jwt, env.ControlPlaneRole)
	if !slices.Contains(s.Auth.Policies, "policy-tokenizer-cp") {
		t.Errorf("cp policies = %v", s.Auth.Policies)
	}
}
