package clients

import (
	"context"
	"errors"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
)

// goVault is the unmodified Go SDK pointed at the socket with the SA token.
func goVault(t *testing.T, token string) *vaultapi.Client {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = "unix://" + broker.SocketPath
	cfg.MaxRetries = 0
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearNamespace()
	c.SetToken(token)
	return c
}

func statusOf(err error) int {
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// TestGoVaultAPI: the tenancy matrix and the refused routes through
// github.com/hashicorp/vault/api.
func TestGoVaultAPI(t *testing.T) {
	ctx := context.Background()
	cg, dp := goVault(t, cgPod(t).token), goVault(t, dpPod(t).token)
	tests := []struct {
		name       string
		call       func() (any, error)
		wantStatus int // 0 = success
		wantText   string
	}{
		{"cg put", func() (any, error) {
			return cg.KVv2("kv").Put(ctx, "tokenizer/crypto-gen/goapi", map[string]any{"k": "go-v1"})
		}, 0, ""},
		{"cg get", func() (any, error) { return cg.KVv2("kv").Get(ctx, "tokenizer/crypto-gen/goapi") }, 0, "go-v1"},
		{"cg patch", func() (any, error) {
			return cg.KVv2("kv").Patch(ctx, "tokenizer/crypto-gen/goapi", map[string]any{"p": "go-patched"})
		}, 0, ""},
		{"cg metadata", func() (any, error) { return cg.KVv2("kv").GetMetadata(ctx, "tokenizer/crypto-gen/goapi") }, 0, "CurrentVersion:2"},
		{"cg list", func() (any, error) { return cg.Logical().ListWithContext(ctx, "kv/metadata/tokenizer/crypto-gen") }, 0, "goapi"},
		{"cg missing", func() (any, error) { return cg.KVv2("kv").Get(ctx, "tokenizer/crypto-gen/absent") }, -1, "secret not found"},
		{"dp reads own", func() (any, error) { return dp.KVv2("kv").Get(ctx, "tokenizer/data-plane/config") }, 0, dpValue},
		{"dp write denied", func() (any, error) {
			return dp.KVv2("kv").Put(ctx, "tokenizer/data-plane/x", map[string]any{"a": "b"})
		}, 403, "permission denied"},
		{"dp cannot read crypto-gen", func() (any, error) { return dp.KVv2("kv").Get(ctx, "tokenizer/crypto-gen/goapi") }, 403, ""},
		{"dp cannot read control-plane", func() (any, error) { return dp.KVv2("kv").Get(ctx, "tokenizer/control-plane/key") }, 403, ""},
		{"lookup-self refused", func() (any, error) { return cg.Auth().Token().LookupSelfWithContext(ctx) }, 403, "route_refused"},
		{"token create refused", func() (any, error) {
			return cg.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{})
		}, 403, "route_refused"},
		{"unwrap refused", func() (any, error) { return cg.Logical().UnwrapWithContext(ctx, "hvs.x") }, 403, "route_refused"},
		{"capabilities-self refused", func() (any, error) {
			return cg.Sys().CapabilitiesSelfWithContext(ctx, "kv/data/tokenizer/crypto-gen/goapi")
		}, 403, "route_refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.call()
			text := strings.ReplaceAll(sprint(res)+" "+errString(err), " ", "")
			switch {
			case tt.wantStatus == 0 && err != nil:
				t.Fatalf("err %v", err)
			case tt.wantStatus > 0 && statusOf(err) != tt.wantStatus:
				t.Fatalf("err %v, want status %d", err, tt.wantStatus)
			case tt.wantStatus < 0 && err == nil:
				t.Fatalf("want an error, got %s", text)
			case !strings.Contains(text, strings.ReplaceAll(tt.wantText, " ", "")):
				t.Fatalf("%q not in %s", tt.wantText, text)
			}
			assertNoCredential(t, "vault/api result", sprint(res)+" "+errString(err))
		})
	}
}
