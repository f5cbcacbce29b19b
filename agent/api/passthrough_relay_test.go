package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secrets-broker/secrets-broker/agent/vault"
)

// TestPassthroughResponses: what comes back from Vault is relayed with its
// status, scrubbed of auth blocks, and withheld when it holds a credential.
func TestPassthroughResponses(t *testing.T) {
	tests := []struct {
		name        string
		fw          *fakeForwarder
		wantStatus  int
		wantBody    string // substring
		wantOutcome string
		retryAfter  bool
	}{
		{name: "ok", fw: &fakeForwarder{body: `{"data":{"data":{"k":"v"}}}`}, wantStatus: 200, wantBody: `"k":"v"`, wantOutcome: "ok"},
		{name: "auth block scrubbed", fw: &fakeForwarder{body: `{"auth":{"client_token":"hvs.CHILD","accessor":"a"},"data":null}`}, wantStatus: 200, wantBody: `"auth":null`, wantOutcome: "ok"},
		{name: "forced wrapping scrubbed", fw: &fakeForwarder{body: `{"wrap_info":{"token":"hvs.CHILD","ttl":60},"data":null}`}, wantStatus: 200, wantBody: `"wrap_info":null`, wantOutcome: "ok"},
		{name: "session token in body withheld", fw: &fakeForwarder{body: `{"data":{"t":"` + canaryVaultToken + `"}}`}, wantStatus: 502, wantBody: "token_in_response", wantOutcome: "token_in_response"},
		{name: "caller jwt in body withheld", fw: &fakeForwarder{body: `{"data":{"t":"` + canaryJWT + `"}}`}, wantStatus: 502, wantBody: "token_in_response", wantOutcome: "token_in_response"},
		{name: "session token in relayed header withheld", fw: &fakeForwarder{header: http.Header{"Cache-Control": {canaryVaultToken}}, body: `{}`}, wantStatus: 502, wantBody: "token_in_response", wantOutcome: "token_in_response"},
		{name: "other headers dropped", fw: &fakeForwarder{header: http.Header{"X-Vault-Token": {canaryVaultToken}, "Set-Cookie": {"s=1"}}, body: `{}`}, wantStatus: 200, wantOutcome: "ok"},
		{name: "vault denied relayed", fw: &fakeForwarder{status: 403, body: `{"errors":["1 error occurred:\n\t* permission denied\n\n"]}`}, wantStatus: 403, wantBody: "permission denied", wantOutcome: "vault_denied"},
		{name: "vault not found relayed", fw: &fakeForwarder{status: 404, body: `{"errors":[]}`}, wantStatus: 404, wantOutcome: "not_found"},
		{name: "vault cas mismatch relayed", fw: &fakeForwarder{status: 400, body: `{"errors":["check-and-set parameter did not match the current version"]}`}, wantStatus: 400, wantOutcome: "cas_conflict"},
		{name: "vault sealed relayed", fw: &fakeForwarder{status: 503, body: `{"errors":["Vault is sealed"]}`}, wantStatus: 503, wantBody: "sealed", wantOutcome: "vault_unavailable", retryAfter: true},
		{name: "vault unreachable", fw: &fakeForwarder{err: &vault.Error{Kind: vault.ErrUnavailable}}, wantStatus: 503, wantBody: "vault_unavailable", wantOutcome: "vault_unavailable", retryAfter: true},
		{name: "vault timeout", fw: &fakeForwarder{err: &vault.Error{Kind: vault.ErrTimeout}}, wantStatus: 504, wantBody: "vault_timeout", wantOutcome: "vault_timeout", retryAfter: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newPassRig(tt.fw, nil)
			w := r.vault("GET", "/v1/kv/data/tokenizer/crypto-gen/x", "", nil)
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Fatalf("got %d %s; want %d containing %q", w.Code, w.Body, tt.wantStatus, tt.wantBody)
			}
			if got := w.Header().Get("Retry-After") != ""; got != tt.retryAfter {
				t.Fatalf("Retry-After present=%v, want %v", got, tt.retryAfter)
			}
			assertNoCredentials(t, w, r)
			assertOneAuditLine(t, r, tt.wantOutcome)
		})
	}
}

// TestPassthroughSharesPipeline: authentication, the Vault-token header,
// the per-pod limit and body limit are those of /api/v1.
func TestPassthroughSharesPipeline(t *testing.T) {
	t.Run("no token", func(t *testing.T) {
		r := newPassRig(&fakeForwarder{}, nil)
		w := httptest.NewRecorder()
		r.srv.ServeHTTP(w, httptest.NewRequest("GET", "http://broker/v1/kv/data/tokenizer/crypto-gen/x", nil))
		if w.Code != 401 || !strings.Contains(vaultErrors(t, w), "missing_token") {
			t.Fatalf("got %d %s", w.Code, w.Body)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		fw := &fakeForwarder{}
		r := newPassRig(fw, nil)
		w := r.vault("POST", "/v1/kv/data/tokenizer/crypto-gen/x", `{"data":{"k":"`+strings.Repeat("v", 2000)+`"}}`, nil)
		if w.Code != 413 || len(fw.calls) != 0 {
			t.Fatalf("got %d %s, %d vault calls", w.Code, w.Body, len(fw.calls))
		}
	})
	t.Run("rate limit shared with api", func(t *testing.T) {
		r := newPassRig(&fakeForwarder{body: `{}`}, func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 2 })
		codes := []int{
			r.do("GET", "/api/v1/read/kv/tokenizer/crypto-gen/x", "", true).Code,
			r.vault("GET", "/v1/kv/data/tokenizer/crypto-gen/x", "", nil).Code,
			r.vault("GET", "/v1/kv/data/tokenizer/crypto-gen/x", "", nil).Code,
		}
		if codes[1] != 200 || codes[2] != 429 {
			t.Fatalf("codes %v, want [404 200 429]", codes)
		}
	})
}

func TestScrubAuth(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"data":{"a":1}}`, `{"data":{"a":1}}`},
		{`{"auth":null,"data":{}}`, `{"auth":null,"data":{}}`},
		{`{"auth":{"client_token":"hvs.X"},"data":{"auth":"kept"}}`, `{"auth":null,"data":{"auth":"kept"}}`},
		{`{"wrap_info":{"token":"hvs.X"},"auth":{"client_token":"hvs.Y"}}`, `{"auth":null,"wrap_info":null}`},
		{`not json "auth"`, `not json "auth"`},
		{``, ``},
	}
	for _, tt := range tests {
		if got, _ := scrubAuth([]byte(tt.in)); string(got) != tt.want {
			t.Errorf("scrubAuth(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func assertNoCredentials(t *testing.T, w *httptest.ResponseRecorder, r *rig) {
	t.Helper()
	for _, canary := range []string{canaryVaultToken, canaryJWT, "hvs.CHILD"} {
		if strings.Contains(w.Body.String(), canary) {
			t.Fatalf("response body holds %q: %s", canary, w.Body)
		}
		for k, vs := range w.Header() {
			if strings.Contains(strings.Join(vs, ","), canary) {
				t.Fatalf("response header %s holds %q", k, canary)
			}
		}
		if strings.Contains(r.auditBuf.String()+r.logBuf.String(), canary) {
			t.Fatalf("audit or log holds %q", canary)
		}
	}
	if w.Header().Get("Set-Cookie") != "" || w.Header().Get("X-Vault-Token") != "" {
		t.Fatalf("unlisted vault header relayed: %v", w.Header())
	}
}

func assertOneAuditLine(t *testing.T, r *rig, outcome string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.auditBuf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d audit lines, want 1", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lines[0], `"`+outcome+`"`) || !strings.Contains(lines[0], `"vault"`) {
		t.Fatalf("audit line %s, want route vault and outcome %s", lines[0], outcome)
	}
}

func TestScrubAuthAnyCase(t *testing.T) {
	for _, body := range []string{
		`{"request_id":"r","auth":{"client_token":"hvs.X"},"data":{"k":"v"}}`,
		`{"request_id":"r","AUTH":{"client_token":"hvs.X"},"data":{"k":"v"}}`,
		`{"request_id":"r","Wrap_Info":{"token":"hvs.X"},"data":{"k":"v"}}`,
	} {
		out, info := scrubAuth([]byte(body))
		if strings.Contains(string(out), "hvs.X") || info.RequestID != "r" || !strings.Contains(string(out), `"k":"v"`) {
			t.Errorf("scrubAuth(%s) = %s, %+v", body, out, info)
		}
	}
	plain := []byte(`{"request_id":"r","auth":null,"data":{"k":"v"}}`)
	if out, _ := scrubAuth(plain); string(out) != string(plain) {
		t.Errorf("a clean answer must pass unchanged, got %s", out)
	}
}
