package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/secrets-broker/secrets-broker/agent/policy"
	"github.com/secrets-broker/secrets-broker/agent/vault"
)

const canaryVaultToken = "hvs.CANARY-VAULT-TOKEN" // what fakeSessions hands out

// fakeForwarder records what would reach Vault and answers with a canned
// response (or err).
type fakeForwarder struct {
	mu     sync.Mutex
	calls  []forwarded
	status int
	header http.Header
	body   string
	err    error
}

type forwarded struct {
	method, path, query string
	header              http.Header
	token               string
	pod                 string
	body                string
}

func (f *fakeForwarder) Forward(_ context.Context, call vault.Call, in *http.Request, path string, body []byte) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, forwarded{method: in.Method, path: path, query: in.URL.RawQuery, header: in.Header.Clone(),
		token: call.Token.Reveal(), pod: call.Pod, body: string(body)})
	if f.err != nil {
		return nil, f.err
	}
	status, h := f.status, f.header.Clone()
	if status == 0 {
		status = http.StatusOK
	}
	if h == nil {
		h = http.Header{"Content-Type": {"application/json"}}
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(f.body))}, nil
}

// mountKV overrides the fake KV's mount detection.
type mountKV struct {
	*fakeKV
	kinds map[string]vault.MountKind
}

func (m mountKV) MountKind(_ context.Context, mount string, _ vault.Call) (vault.MountKind, bool, error) {
	k, ok := m.kinds[mount]
	if !ok {
		return 0, false, &vault.Error{Kind: vault.ErrUnsupported, Reason: "mount is not a KV engine"}
	}
	return k, true, nil
}

func newPassRig(fw *fakeForwarder, mod func(*Config)) *rig {
	return newRig(func(c *Config) {
		c.Forwarder = fw
		c.KV = mountKV{fakeKV: newFakeKV(), kinds: map[string]vault.MountKind{"kv": vault.KVv2, "old": vault.KVv1}}
		if mod != nil {
			mod(c)
		}
	})
}

func (r *rig) vault(method, url, body string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://broker"+url, strings.NewReader(body))
	req.Header.Set("X-Vault-Token", canaryJWT)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	r.srv.ServeHTTP(w, req)
	return w
}

// vaultErrors decodes Vault's error shape.
func vaultErrors(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var b struct {
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || len(b.Errors) != 1 {
		t.Fatalf("not a Vault error body: %d %s", w.Code, w.Body)
	}
	return b.Errors[0]
}

// TestPassthroughRefusesBeforeVault: every refused route and path trick is
// answered by the broker, in Vault's error shape, without a Vault call.
func TestPassthroughRefusesBeforeVault(t *testing.T) {
	tests := []struct {
		name, method, url string
		hdr               map[string]string
		wantStatus        int
		wantCode          string
	}{
		{"token lookup-self", "GET", "/v1/auth/token/lookup-self", nil, 403, "route_refused"},
		{"token create", "POST", "/v1/auth/token/create", nil, 403, "route_refused"},
		{"kubernetes login", "POST", "/v1/auth/kubernetes/login", nil, 403, "route_refused"},
		{"mixed case AUTH", "POST", "/v1/AUTH/token/create", nil, 403, "route_refused"},
		{"mixed case Auth lookup", "GET", "/v1/Auth/token/lookup-self", nil, 403, "route_refused"},
		{"auth trailing slash", "LIST", "/v1/auth/token/accessors/", nil, 403, "route_refused"},
		{"wrapping unwrap", "POST", "/v1/sys/wrapping/unwrap", nil, 403, "route_refused"},
		{"mixed case Sys unwrap", "POST", "/v1/Sys/wrapping/unwrap", nil, 403, "route_refused"},
		{"SYS ui mounts upper", "GET", "/v1/SYS/internal/ui/mounts/kv", nil, 403, "route_refused"},
		{"ui mounts listing all", "GET", "/v1/sys/internal/ui/mounts", nil, 403, "route_refused"},
		{"ui mounts listing all slash", "GET", "/v1/sys/internal/ui/mounts/", nil, 403, "route_refused"},
		{"ui mounts write", "POST", "/v1/sys/internal/ui/mounts/kv", nil, 403, "route_refused"},
		{"sys mounts", "GET", "/v1/sys/mounts", nil, 403, "route_refused"},
		{"cubbyhole", "GET", "/v1/cubbyhole/x", nil, 403, "route_refused"},
		{"identity", "GET", "/v1/identity/entity/id", nil, 403, "route_refused"},
		{"double slash", "GET", "/v1/kv/data//tokenizer/crypto-gen/x", nil, 400, "bad_path"},
		{"double slash before auth", "POST", "/v1//auth/token/create", nil, 400, "bad_path"},
		{"double trailing slash", "GET", "/v1/kv/data/a//", nil, 400, "bad_path"},
		{"auth with empty segment refused as auth", "POST", "/v1/auth//kubernetes/login", nil, 403, "route_refused"},
		{"encoded dot-dot", "GET", "/v1/kv/data/tokenizer/crypto-gen/%2e%2e/control-plane/x", nil, 400, "bad_path"},
		{"encoded dot-dot to auth", "POST", "/v1/kv/%2E%2E/auth/token/create", nil, 400, "bad_path"},
		{"dot-dot from ui mounts", "GET", "/v1/sys/internal/ui/mounts/../../../auth/token/lookup-self", nil, 400, "bad_path"},
		{"single dot", "GET", "/v1/./auth/token/lookup-self", nil, 400, "bad_path"},
		{"encoded slash", "GET", "/v1/auth%2Ftoken/lookup-self", nil, 400, "bad_path"},
		{"backslash", "GET", "/v1/kv/data/a\\..\\b", nil, 400, "bad_path"},
		{"unknown method", "OPTIONS", "/v1/kv/data/tokenizer/crypto-gen/x", nil, 405, "method_not_allowed"},
		{"response wrapping", "GET", "/v1/kv/data/tokenizer/crypto-gen/x", map[string]string{"X-Vault-Wrap-TTL": "60s"}, 400, "wrapping_refused"},
		{"bad list value", "GET", "/v1/kv/metadata/tokenizer/crypto-gen/?list=maybe", nil, 400, "bad_query"},
		{"bad namespace", "GET", "/v1/kv/data/tokenizer/crypto-gen/x", map[string]string{"X-Vault-Namespace": "a/../b"}, 400, "bad_namespace"},
		{"allow-list other tenant", "GET", "/v1/kv/data/tokenizer/control-plane/key", nil, 403, "not_allowed_by_policy"},
		{"allow-list applies to namespace", "GET", "/v1/kv/data/tokenizer/crypto-gen/x", map[string]string{"X-Vault-Namespace": "ns1"}, 403, "not_allowed_by_policy"},
		{"kv v2 config section", "POST", "/v1/kv/config", nil, 403, "route_refused"},
		{"kv v2 mount root", "GET", "/v1/kv", nil, 403, "route_refused"},
		{"non-kv engine", "POST", "/v1/transit/encrypt/k", nil, 400, "unsupported_on_mount"},
		{"namespace in path", "POST", "/v1/ns1/auth/token/create", nil, 400, "unsupported_on_mount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := &fakeForwarder{body: `{}`}
			r := newPassRig(fw, nil)
			w := r.vault(tt.method, tt.url, `{}`, tt.hdr)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if msg := vaultErrors(t, w); !strings.Contains(msg, tt.wantCode) || !strings.Contains(msg, "request_id") {
				t.Fatalf("message %q, want code %s and a request id", msg, tt.wantCode)
			}
			if len(fw.calls) != 0 {
				t.Fatalf("refused request reached vault: %+v", fw.calls[0].path)
			}
			assertOneAuditLine(t, r, tt.wantCode)
		})
	}
}

// TestPassthroughListIsParsedLikeVault: Vault lists on list=1/t/true
// (strconv.ParseBool; node-vault sends list=1), so the allow-list must see
// a list, not a read.
func TestPassthroughListIsParsedLikeVault(t *testing.T) {
	readOnly := func(c *Config) {
		c.Policies = fakePolicies{"tokenizer-cg/tokenizer-cg-sa": {Namespace: "tokenizer-cg", ServiceAccount: "tokenizer-cg-sa",
			VaultRole: "tokenizer-cg-role", Allow: []policy.Rule{{Ops: []string{"read", "versions"}, Paths: []string{"kv/tokenizer/crypto-gen/"}}}}}
	}
	tests := []struct {
		method, url string
		wantStatus  int
	}{
		{"GET", "/v1/kv/metadata/tokenizer/crypto-gen/?list=1", 403},
		{"GET", "/v1/kv/metadata/tokenizer/crypto-gen/?list=t", 403},
		{"GET", "/v1/kv/metadata/tokenizer/crypto-gen/?list=TRUE", 403},
		{"LIST", "/v1/kv/metadata/tokenizer/crypto-gen/", 403},
		{"GET", "/v1/kv/metadata/tokenizer/crypto-gen/x?list=false", 200},
		{"GET", "/v1/kv/data/tokenizer/crypto-gen/x", 200},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.url, func(t *testing.T) {
			r := newPassRig(&fakeForwarder{body: `{"data":{}}`}, readOnly)
			if w := r.vault(tt.method, tt.url, "", nil); w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
		})
	}
}

// TestPassthroughForwardsRequest: method, path, query, body and the Vault
// client headers go through; the caller's JWT does not, the session token
// and the pod header do.
func TestPassthroughForwardsRequest(t *testing.T) {
	fw := &fakeForwarder{body: `{"request_id":"vr-1","data":{"data":{"k":"v"}}}`}
	r := newPassRig(fw, nil)
	w := r.vault("POST", "/v1/kv/data/tokenizer/crypto-gen/x?x=1", `{"data":{"k":"v"},"options":{"cas":0}}`, map[string]string{
		"X-Vault-Request": "true", "Content-Type": "application/json", "X-Vault-Namespace": "",
	})
	if w.Code != 200 || w.Body.String() != fw.body {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	if len(fw.calls) != 1 {
		t.Fatalf("%d vault calls, want 1", len(fw.calls))
	}
	c := fw.calls[0]
	if c.method != "POST" || c.path != "kv/data/tokenizer/crypto-gen/x" || c.query != "x=1" || c.body != `{"data":{"k":"v"},"options":{"cas":0}}` {
		t.Fatalf("forwarded %+v", c)
	}
	if c.token != canaryVaultToken || c.pod != "tokenizer-cg/p" {
		t.Fatalf("forwarded with token %q pod %q", c.token, c.pod)
	}
	if !strings.Contains(r.auditBuf.String(), `"vr-1"`) {
		t.Fatalf("audit line lacks vault's request id: %s", r.auditBuf)
	}
}

// TestForwardHeaders checks the real Forward against a recording server:
// an HTTP endpoint, not a Vault stand-in; it only echoes what arrived.
func TestForwardHeaders(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.WriteHeader(204)
	}))
	defer srv.Close()
	c, err := vault.New(vault.Config{Addr: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	in := httptest.NewRequest("GET", "http://broker/v1/kv/data/a%20b?version=2", nil)
	for k, v := range map[string]string{"X-Vault-Token": canaryJWT, "Authorization": "Bearer " + canaryJWT, "X-Vault-Request": "true",
		"X-Vault-Wrap-TTL": "60s", "X-Vault-Namespace": "ns1", "X-Vault-Index": "idx", "X-Vault-Inconsistent": "forward-active-node",
		"X-Vault-Policy-Override": "true", "Cookie": "c=1"} {
		in.Header.Set(k, v)
	}
	resp, err := c.Forward(context.Background(), vault.Call{Token: canaryVaultToken, Pod: "ns/p", RequestID: "rid"}, in, "kv/data/a b", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	want := map[string]string{"X-Vault-Token": canaryVaultToken, "Authorization": "", "X-Vault-Request": "true", "X-Vault-Wrap-Ttl": "",
		"X-Vault-Namespace": "ns1", "X-Vault-Index": "idx", "X-Vault-Inconsistent": "forward-active-node", "X-Vault-Policy-Override": "",
		"Cookie": "", vault.PodHeader: "ns/p", vault.RequestIDHeader: "rid"}
	for k, v := range want {
		if g := got.Header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	if got.URL.EscapedPath() != "/v1/kv/data/a%20b" || got.URL.RawQuery != "version=2" {
		t.Errorf("forwarded %s?%s", got.URL.EscapedPath(), got.URL.RawQuery)
	}
}
