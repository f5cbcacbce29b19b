package clients

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
)

// rawVault sends one request to the broker's /v1/ exactly as written (the
// path is not cleaned) and returns status, headers and body.
func rawVault(t *testing.T, method, rawPath, token string, hdr map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://broker"+rawPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := brokerproc.UnixClient(broker.SocketPath).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var hs strings.Builder
	for k, vs := range resp.Header {
		hs.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	assertNoCredential(t, method+" "+rawPath+" response headers", hs.String(), token)
	assertNoCredential(t, method+" "+rawPath+" response body", string(b), token)
	return resp.StatusCode, resp.Header, string(b)
}

// TestRefusedRoutes: every route that could hand out the session token (or
// a child, or per-token state) and every path trick is refused by the
// broker, in Vault's error shape, and none of them reaches Vault.
func TestRefusedRoutes(t *testing.T) {
	cg := cgPod(t)
	before := vaultPathCount(t)
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		wantStatus         int
		wantCode           string
	}{
		{"lookup-self", "GET", "/v1/auth/token/lookup-self", nil, 403, "route_refused"},
		{"lookup-self POST", "POST", "/v1/auth/token/lookup-self", nil, 403, "route_refused"},
		{"token create", "POST", "/v1/auth/token/create", nil, 403, "route_refused"},
		{"token create orphan", "POST", "/v1/auth/token/create-orphan", nil, 403, "route_refused"},
		{"renew-self", "POST", "/v1/auth/token/renew-self", nil, 403, "route_refused"},
		{"kubernetes login", "POST", "/v1/auth/kubernetes/login", nil, 403, "route_refused"},
		{"wrapping unwrap", "POST", "/v1/sys/wrapping/unwrap", nil, 403, "route_refused"},
		{"wrapping wrap", "POST", "/v1/sys/wrapping/wrap", nil, 403, "route_refused"},
		{"mixed case AUTH", "POST", "/v1/AUTH/token/create", nil, 403, "route_refused"},
		{"mixed case Auth", "GET", "/v1/Auth/Token/Lookup-Self", nil, 403, "route_refused"},
		{"mixed case Sys", "POST", "/v1/Sys/wrapping/unwrap", nil, 403, "route_refused"},
		{"mixed case SYS ui mounts", "GET", "/v1/SYS/internal/ui/mounts/kv", nil, 403, "route_refused"},
		{"trailing slash", "GET", "/v1/auth/token/lookup-self/", nil, 403, "route_refused"},
		{"trailing slash sys", "POST", "/v1/sys/wrapping/unwrap/", nil, 403, "route_refused"},
		{"sys mounts", "GET", "/v1/sys/mounts", nil, 403, "route_refused"},
		{"sys capabilities-self", "POST", "/v1/sys/capabilities-self", nil, 403, "route_refused"},
		{"ui mounts list all", "GET", "/v1/sys/internal/ui/mounts", nil, 403, "route_refused"},
		{"cubbyhole", "GET", "/v1/cubbyhole/x", nil, 403, "route_refused"},
		{"identity", "GET", "/v1/identity/entity/id", nil, 403, "route_refused"},
		{"double slash", "POST", "/v1//auth/token/create", nil, 400, "bad_path"},
		{"double slash inside auth", "GET", "/v1/auth//token/lookup-self", nil, 403, "route_refused"},
		{"double slash in kv path", "GET", "/v1/kv/data/tokenizer//crypto-gen/seeded", nil, 400, "bad_path"},
		{"encoded dot-dot", "GET", "/v1/kv/data/tokenizer/data-plane/%2e%2e/crypto-gen/seeded", nil, 400, "bad_path"},
		{"encoded dot-dot upper", "POST", "/v1/kv/%2E%2E/auth/token/create", nil, 400, "bad_path"},
		{"dot-dot from ui mounts", "GET", "/v1/sys/internal/ui/mounts/kv/../../../../auth/token/lookup-self", nil, 400, "bad_path"},
		{"encoded slash", "GET", "/v1/auth%2ftoken%2flookup-self", nil, 400, "bad_path"},
		{"wrap ttl", "GET", "/v1/kv/data/tokenizer/crypto-gen/seeded", map[string]string{"X-Vault-Wrap-TTL": "60s"}, 400, "wrapping_refused"},
		{"kv config", "POST", "/v1/kv/config", nil, 403, "route_refused"},
		{"non-kv mount", "GET", "/v1/secret-that-is-no-mount/x", nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := rawVault(t, tt.method, tt.path, cg.token, tt.hdr, `{}`)
			if tt.wantStatus == 0 { // anything but success
				if status < 400 || !strings.Contains(body, `"errors"`) {
					t.Fatalf("got %d %s, want a refusal", status, body)
				}
				return
			}
			if status != tt.wantStatus || !strings.Contains(body, `"errors"`) || !strings.Contains(body, tt.wantCode) {
				t.Fatalf("got %d %s; want %d %s in Vault's error shape", status, body, tt.wantStatus, tt.wantCode)
			}
		})
	}
	if after := vaultPathCount(t); after != before {
		t.Fatalf("refused requests reached Vault: %d token/wrapping/sys entries before, %d after", before, after)
	}
}

// vaultPathCount counts Vault audit entries for paths the broker must never
// forward. The broker's own lookup-self (dead-token check) and revoke-self
// are not among them.
func vaultPathCount(t *testing.T) int {
	t.Helper()
	entries, err := testEnv.VaultAuditEntries()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		p := strings.ToLower(e.Request.Path)
		bad := strings.HasPrefix(p, "auth/token/create") || strings.HasPrefix(p, "sys/wrapping/") || p == "sys/mounts" ||
			strings.HasPrefix(p, "cubbyhole/") || strings.HasPrefix(p, "identity/") || strings.HasPrefix(p, "sys/capabilities")
		if bad {
			n++
		}
	}
	return n
}

// TestNoCredentialInAnyResponse sends the Vault clients' everyday requests
// (and failing ones) raw, and checks every response body and header.
func TestNoCredentialInAnyResponse(t *testing.T) {
	cg, dp := cgPod(t), dpPod(t)
	tests := []struct {
		name, method, path, token, body string
		wantStatus                      int
	}{
		{"ui mounts", "GET", "/v1/sys/internal/ui/mounts/kv/tokenizer/crypto-gen/seeded", cg.token, "", 200},
		{"write", "POST", "/v1/kv/data/tokenizer/crypto-gen/raw", cg.token, `{"data":{"k":"raw"}}`, 200},
		{"read", "GET", "/v1/kv/data/tokenizer/crypto-gen/raw", cg.token, "", 200},
		{"list", "GET", "/v1/kv/metadata/tokenizer/crypto-gen/?list=true", cg.token, "", 200},
		{"LIST", "LIST", "/v1/kv/metadata/tokenizer/crypto-gen/", cg.token, "", 200},
		{"metadata", "GET", "/v1/kv/metadata/tokenizer/crypto-gen/raw", cg.token, "", 200},
		{"missing", "GET", "/v1/kv/data/tokenizer/crypto-gen/absent", cg.token, "", 404},
		{"dp denied write", "POST", "/v1/kv/data/tokenizer/data-plane/x", dp.token, `{"data":{"a":"b"}}`, 403},
		{"dp denied read", "GET", "/v1/kv/data/tokenizer/crypto-gen/raw", dp.token, "", 403},
		{"no token", "GET", "/v1/kv/data/tokenizer/crypto-gen/raw", "", "", 401},
		{"garbage token", "GET", "/v1/kv/data/tokenizer/crypto-gen/raw", "not-a-jwt", "", 401},
		{"lookup-self", "GET", "/v1/auth/token/lookup-self", cg.token, "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := rawVault(t, tt.method, tt.path, tt.token, nil, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", status, body, tt.wantStatus)
			}
		})
	}
	// The broker's own audit stream holds no credential either.
	assertNoCredential(t, "broker audit log", strings.Join(broker.AuditLines(), "\n"), cg.token, dp.token)
	assertNoCredential(t, "broker log", broker.Logs(), cg.token, dp.token)
}
