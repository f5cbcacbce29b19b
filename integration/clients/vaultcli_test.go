package clients

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// vaultCLI runs the real vault binary against the broker's socket with the
// pod's SA token as VAULT_TOKEN: an explicit environment, a private HOME
// (no ~/.vault-token), never the root token.
func vaultCLI(t *testing.T, token string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, vaultBin, args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin", "VAULT_ADDR=unix://" + broker.SocketPath, "VAULT_TOKEN=" + token}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	assertNoCredential(t, "vault "+strings.Join(args[:min(len(args), 2)], " ")+" output", out.String(), token)
	return out.String(), err
}

// TestVaultCLI is the ADR's tenancy matrix through the unmodified vault CLI.
func TestVaultCLI(t *testing.T) {
	cg, dp := cgPod(t), dpPod(t)
	tests := []struct {
		name   string
		token  string
		args   []string
		wantOK bool
		want   string // substring of the combined output
	}{
		{"cg put", cg.token, []string{"kv", "put", "kv/tokenizer/crypto-gen/cli", "key=cli-v1"}, true, "version"},
		{"cg get", cg.token, []string{"kv", "get", "-format=json", "kv/tokenizer/crypto-gen/cli"}, true, `"cli-v1"`},
		{"cg patch", cg.token, []string{"kv", "patch", "kv/tokenizer/crypto-gen/cli", "other=cli-patched"}, true, "version"},
		{"cg get field after patch", cg.token, []string{"kv", "get", "-field=other", "kv/tokenizer/crypto-gen/cli"}, true, "cli-patched"},
		{"cg list", cg.token, []string{"kv", "list", "kv/tokenizer/crypto-gen"}, true, "cli"},
		{"cg metadata get", cg.token, []string{"kv", "metadata", "get", "-format=json", "kv/tokenizer/crypto-gen/cli"}, true, `"current_version": 2`},
		{"cg delete denied by its vault policy (no delete capability)", cg.token, []string{"kv", "delete", "kv/tokenizer/crypto-gen/cli"}, false, "permission denied"},
		{"dp reads its own path", dp.token, []string{"kv", "get", "-field=dsn", "kv/tokenizer/data-plane/config"}, true, dpValue},
		{"dp lists its own path", dp.token, []string{"kv", "list", "kv/tokenizer/data-plane"}, true, "config"},
		{"dp write denied", dp.token, []string{"kv", "put", "kv/tokenizer/data-plane/x", "a=b"}, false, "permission denied"},
		{"dp cannot read crypto-gen", dp.token, []string{"kv", "get", "kv/tokenizer/crypto-gen/cli"}, false, "permission denied"},
		{"dp cannot read control-plane", dp.token, []string{"kv", "get", "kv/tokenizer/control-plane/key"}, false, "permission denied"},
		{"token lookup refused", cg.token, []string{"token", "lookup"}, false, "route_refused"},
		{"token create refused", cg.token, []string{"token", "create"}, false, "route_refused"},
		{"unwrap refused", cg.token, []string{"unwrap", "hvs.notarealwrappingtokenatall000"}, false, "route_refused"},
		{"sys read refused", cg.token, []string{"read", "sys/mounts"}, false, "route_refused"},
		{"login refused", cg.token, []string{"write", "auth/kubernetes/login", "role=tokenizer-cg-role", "jwt=x"}, false, "route_refused"},
		{"wrapped read refused", cg.token, []string{"kv", "get", "-wrap-ttl=60s", "kv/tokenizer/crypto-gen/cli"}, false, "wrapping_refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := vaultCLI(t, tt.token, tt.args...)
			if (err == nil) != tt.wantOK || !strings.Contains(out, tt.want) {
				t.Fatalf("vault %s: err=%v, want ok=%v and %q in:\n%s", strings.Join(tt.args, " "), err, tt.wantOK, tt.want, out)
			}
		})
	}
	if dp.token == "" {
		t.Fatal("no dp token")
	}
	// The write went to Vault as the cg pod: check with root.
	s, err := rootAPI(t).KVv2("kv").Get(context.Background(), "tokenizer/crypto-gen/cli")
	if err != nil || s.Data["key"] != "cli-v1" || s.Data["other"] != "cli-patched" {
		t.Fatalf("vault holds %v (%v)", s, err)
	}
}
