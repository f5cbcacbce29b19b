package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/secrets-broker/secrets-broker/agent/audit"
	"github.com/secrets-broker/secrets-broker/agent/authn"
	"github.com/secrets-broker/secrets-broker/agent/metrics"
	"github.com/secrets-broker/secrets-broker/agent/policy"
	"github.com/secrets-broker/secrets-broker/agent/vault"
	"github.com/secrets-broker/secrets-broker/node/attest"
)

const canaryJWT = "eyJhbGciOiJSUzI1NiJ9.eyJDQU5BUlktSldUIjoxfQ.CANARYSIG"

var cgIdentity = authn.Identity{Namespace: "tokenizer-cg", ServiceAccount: "tokenizer-cg-sa", PodName: "p", PodUID: "uid-1"}

type rig struct {
	srv      *Server
	kv       *fakeKV
	auditBuf *bytes.Buffer
	logBuf   *bytes.Buffer
	metrics  *metrics.Metrics
}

func newRig(mod func(*Config)) *rig {
	r := &rig{kv: newFakeKV(), auditBuf: &bytes.Buffer{}, logBuf: &bytes.Buffer{}, metrics: metrics.New()}
	cfg := Config{
		Authn:  fakeAuthn{id: cgIdentity},
		Attest: fakeAttest{},
		Policies: fakePolicies{"tokenizer-cg/tokenizer-cg-sa": {Namespace: "tokenizer-cg", ServiceAccount: "tokenizer-cg-sa",
			VaultRole: "tokenizer-cg-role", AuthMount: "kubernetes",
			Allow: []policy.Rule{{Ops: []string{"read", "write", "patch", "list", "delete", "versions"}, Paths: []string{"kv/tokenizer/crypto-gen/"}}}}},
		Sessions: fakeSessions{}, KV: r.kv,
		Audit: audit.New(r.auditBuf), Metrics: r.metrics, Logger: zerolog.New(r.logBuf),
		MaxBodyBytes: 1024,
	}
	if mod != nil {
		mod(&cfg)
	}
	r.srv = New(cfg)
	return r
}

func (r *rig) do(method, url, body string, auth bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://broker"+url, strings.NewReader(body))
	if auth {
		req.Header.Set("Authorization", "Bearer "+canaryJWT)
	}
	w := httptest.NewRecorder()
	r.srv.ServeHTTP(w, req)
	return w
}

func TestPipelineStatuses(t *testing.T) {
	const path = "/api/v1/read/kv/tokenizer/crypto-gen/x"
	tests := []struct {
		name       string
		mod        func(*Config)
		kvErr      error
		method     string
		url, body  string
		noAuth     bool
		wantStatus int
		wantCode   string
		retryAfter bool
	}{
		{name: "missing token", url: path, noAuth: true, wantStatus: 401, wantCode: "missing_token"},
		{name: "bad token", mod: func(c *Config) { c.Authn = fakeAuthn{err: authn.ErrUnauthenticated} }, url: path, wantStatus: 401, wantCode: "unauthenticated"},
		{name: "unbound token", mod: func(c *Config) { c.Authn = fakeAuthn{err: authn.ErrNotPodBound} }, url: path, wantStatus: 401, wantCode: "token_not_pod_bound"},
		{name: "apiserver down", mod: func(c *Config) { c.Authn = fakeAuthn{err: authn.ErrUnavailable} }, url: path, wantStatus: 503, wantCode: "apiserver_unavailable", retryAfter: true},
		{name: "attestation refused", mod: func(c *Config) {
			c.Attest = fakeAttest{err: &attest.Error{Code: attest.CodeCgroupMismatch, Reason: "peer in another pod"}}
		}, url: path, wantStatus: 403, wantCode: "cgroup_mismatch"},
		{name: "no policy", mod: func(c *Config) {
			c.Authn = fakeAuthn{id: authn.Identity{Namespace: "x", ServiceAccount: "y", PodUID: "u"}}
		}, url: path, wantStatus: 403, wantCode: "no_policy"},
		{name: "allow-list excludes path", url: "/api/v1/read/kv/tokenizer/control-plane/x", wantStatus: 403, wantCode: "not_allowed_by_policy"},
		{name: "vault denies", kvErr: &vault.Error{Kind: vault.ErrDenied, Status: 403}, url: path, wantStatus: 403, wantCode: "vault_denied"},
		{name: "login denied", kvErr: errors.Join(vault.ErrLogin, &vault.Error{Kind: vault.ErrDenied}), url: path, wantStatus: 403, wantCode: "vault_login_denied"},
		{name: "not found", url: path, wantStatus: 404, wantCode: "not_found"},
		{name: "vault sealed", kvErr: &vault.Error{Kind: vault.ErrUnavailable, Status: 503}, url: path, wantStatus: 503, wantCode: "vault_unavailable", retryAfter: true},
		{name: "vault timeout", kvErr: &vault.Error{Kind: vault.ErrTimeout}, url: path, wantStatus: 504, wantCode: "vault_timeout", retryAfter: true},
		{name: "vault 500", kvErr: &vault.Error{Kind: vault.ErrUpstream, Status: 500}, url: path, wantStatus: 502, wantCode: "vault_error", retryAfter: true},
		{name: "cas conflict", method: "POST", url: "/api/v1/write/kv/tokenizer/crypto-gen/x", body: `{"data":{"k":"v"},"cas":5}`, wantStatus: 409, wantCode: "cas_conflict"},
		{name: "body too large", method: "POST", url: "/api/v1/write/kv/tokenizer/crypto-gen/x", body: `{"data":{"k":"` + strings.Repeat("v", 2000) + `"}}`, wantStatus: 413, wantCode: "body_too_large"},
		{name: "invalid json", method: "POST", url: "/api/v1/write/kv/tokenizer/crypto-gen/x", body: `{`, wantStatus: 400, wantCode: "bad_json"},
		{name: "unknown route", url: "/api/v2/read/kv/a", wantStatus: 404, wantCode: "unknown_route"},
		{name: "write ok", method: "POST", url: "/api/v1/write/kv/tokenizer/crypto-gen/x", body: `{"data":{"k":"v"}}`, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(tt.mod)
			r.kv.err = tt.kvErr
			method := tt.method
			if method == "" {
				method = "GET"
			}
			w := r.do(method, tt.url, tt.body, !tt.noAuth)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantCode != "" {
				var b errorBody
				if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error.Code != tt.wantCode || b.Error.RequestID == "" {
					t.Fatalf("body %s, want code %s with a request id", w.Body, tt.wantCode)
				}
			}
			if got := w.Header().Get("Retry-After") != ""; got != tt.retryAfter {
				t.Fatalf("Retry-After present=%v, want %v", got, tt.retryAfter)
			}
			if n := strings.Count(r.auditBuf.String(), "\n"); n != 1 {
				t.Fatalf("%d audit lines, want 1", n)
			}
			if tt.wantStatus != 200 && r.kv.writes != 0 {
				t.Fatalf("a refused request wrote to vault")
			}
		})
	}
}

func TestWriteThenReadRoundTrip(t *testing.T) {
	r := newRig(nil)
	w := r.do("POST", "/api/v1/write/kv/tokenizer/crypto-gen/new", `{"data":{"key":"CANARY-SECRET-VALUE"}}`, true)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"written"`) || !strings.Contains(w.Body.String(), `"version":1`) {
		t.Fatalf("write: %d %s", w.Code, w.Body)
	}
	w = r.do("POST", "/api/v1/write/kv/tokenizer/crypto-gen/new", `{"data":{"key":"v2"},"cas":1}`, true)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"version":2`) {
		t.Fatalf("cas write: %d %s", w.Code, w.Body)
	}
	w = r.do("GET", "/api/v1/read/kv/tokenizer/crypto-gen/new", "", true)
	var got struct {
		Data    map[string]any `json:"data"`
		Version int            `json:"version"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Data["key"] != "v2" || got.Version != 2 {
		t.Fatalf("read: %d %s", w.Code, w.Body)
	}
	for name, out := range map[string]string{"audit": r.auditBuf.String(), "log": r.logBuf.String()} {
		for _, canary := range []string{"CANARY-SECRET-VALUE", "CANARY-JWT", canaryJWT, "CANARY-VAULT-TOKEN"} {
			if strings.Contains(out, canary) {
				t.Fatalf("%s output contains %q", name, canary)
			}
		}
	}
}

func TestRateLimitPerPod(t *testing.T) {
	r := newRig(func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 3 })
	codes := map[int]int{}
	for range 5 {
		codes[r.do("GET", "/api/v1/list/kv/tokenizer/crypto-gen/", "", true).Code]++
	}
	if codes[200] != 3 || codes[429] != 2 {
		t.Fatalf("codes %v, want 3×200 and 2×429", codes)
	}
}

func BenchmarkPipelineReadHit(b *testing.B) {
	r := newRig(nil)
	r.do("POST", "/api/v1/write/kv/tokenizer/crypto-gen/x", `{"data":{"k":"v"}}`, true)
	r.srv.cfg.Audit = audit.New(io.Discard)
	req := httptest.NewRequest("GET", "http://broker/api/v1/read/kv/tokenizer/crypto-gen/x", nil)
	req.Header.Set("Authorization", "Bearer "+canaryJWT)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		r.srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
