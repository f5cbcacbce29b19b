// Package persistent proves the harness's file-storage Vault, which fault
// tests use: a restart keeps secrets, auth config and the audit device, and
// a stopped Vault really refuses connections.
package persistent

import (
	"os"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/env"
)

var testEnv *env.Env

func TestMain(m *testing.M) {
	os.Exit(env.RunTests(m, env.Options{PersistentVault: true}, func(e *env.Env) { testEnv = e }))
}

func TestRestartKeepsData(t *testing.T) {
	ctx := t.Context()
	pod, err := testEnv.CreatePod(ctx, env.CryptoGenNamespace, "restart-1", env.CryptoGenSA, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := testEnv.MintToken(ctx, env.CryptoGenNamespace, env.CryptoGenSA, pod, env.Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := testEnv.VaultClient("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Logical().WriteWithContext(ctx, "auth/kubernetes/login", map[string]any{"role": env.CryptoGenRole, "jwt": jwt})
	if err != nil {
		t.Fatalf("login before restart: %v", err)
	}
	c.SetToken(s.Auth.ClientToken)
	if _, err := c.KVv2("kv").Put(ctx, "tokenizer/crypto-gen/durable", map[string]any{"k": "kept"}); err != nil {
		t.Fatal(err)
	}

	if err := testEnv.StopVault(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KVv2("kv").Get(ctx, "tokenizer/crypto-gen/durable"); err == nil {
		t.Fatal("read succeeded while Vault was stopped")
	}
	start := time.Now()
	if err := testEnv.StartVault(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("vault restarted and unsealed in %s", time.Since(start).Round(time.Millisecond))

	// The token issued before the restart is still valid (token store persisted).
	got, err := c.KVv2("kv").Get(ctx, "tokenizer/crypto-gen/durable")
	if err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if got.Data["k"] != "kept" {
		t.Errorf("after restart k = %v, want kept", got.Data["k"])
	}
	// Auth config and roles survived: a fresh login works, and is audited.
	before, err := testEnv.CountVaultLogins(env.CryptoGenRole)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := testEnv.VaultClient("")
	if _, err := c2.Logical().WriteWithContext(ctx, "auth/kubernetes/login", map[string]any{"role": env.CryptoGenRole, "jwt": jwt}); err != nil {
		t.Fatalf("login after restart: %v", err)
	}
	if after, err := testEnv.CountVaultLogins(env.CryptoGenRole); err != nil || after != before+1 {
		t.Errorf("logins after restart: %d -> %d (err %v), want +1", before, after, err)
	}
	if err := testEnv.RestartVault(ctx); err != nil {
		t.Fatalf("RestartVault: %v", err)
	}
}
