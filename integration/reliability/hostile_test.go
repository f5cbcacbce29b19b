package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

// hostileCase is one bad request and its documented answer. handler is
// false when net/http answers before the broker's handler runs (no audit
// line is due then); code "" means "do not check the code" (net/http and
// the Vault-compatible route answer without the broker's error body).
type hostileCase struct {
	name    string
	raw     string
	status  int
	code    string
	handler bool
}

// hostileTokens are the tokens the corpus uses, all minted or forged for
// real against the apiserver.
type hostileTokens struct {
	good, otherNode, unbound, apiAud, wrongAud, deleted, unmapped, expired, tampered string
}

func makeHostileTokens(t *testing.T) hostileTokens {
	t.Helper()
	ctx := context.Background()
	var h hostileTokens
	var pod = mustPod(t, env.CryptoGenNamespace, env.CryptoGenSA, nodeName)
	h.good = mint(t, env.CryptoGenNamespace, env.CryptoGenSA, pod, env.Audience)
	h.apiAud = mint(t, env.CryptoGenNamespace, env.CryptoGenSA, pod, "")
	h.wrongAud = mint(t, env.CryptoGenNamespace, env.CryptoGenSA, pod, "some-other-service")
	h.unbound = mint(t, env.CryptoGenNamespace, env.CryptoGenSA, nil, env.Audience)
	h.otherNode, _ = newPod(t, env.CryptoGenNamespace, env.CryptoGenSA, "node-b")
	if err := testEnv.CreateTenant(ctx, "rel-unmapped", "rel-unmapped-sa"); err != nil {
		t.Fatal(err)
	}
	h.unmapped, _ = newPod(t, "rel-unmapped", "rel-unmapped-sa", nodeName)
	var gone = mustPod(t, env.CryptoGenNamespace, env.CryptoGenSA, nodeName)
	h.deleted = mint(t, env.CryptoGenNamespace, env.CryptoGenSA, gone, env.Audience)
	if err := testEnv.DeletePod(ctx, gone.Namespace, gone.Name); err != nil {
		t.Fatal(err)
	}
	past := float64(time.Now().Add(-time.Hour).Unix())
	h.expired = forgeToken(t, h.good, true, func(c map[string]any) {
		c["exp"], c["iat"], c["nbf"] = past, past-600, past-600
	})
	h.tampered = forgeToken(t, h.good, false, func(c map[string]any) { c["sub"] = "system:serviceaccount:tokenizer-cp:tokenizer-cp-sa" })
	return h
}

func hostileCorpus(h hostileTokens) []hostileCase {
	const read = "/api/v1/read/kv/tokenizer/crypto-gen/rel-hostile/read"
	const write = "/api/v1/write/kv/tokenizer/crypto-gen/rel-hostile/w"
	body := `{"data":{"v":"x"}}`
	get := func(target, tok string) string { return buildRaw("GET", target, tok, nil, "") }
	post := func(target, tok, b string) string { return buildRaw("POST", target, tok, nil, b) }
	cs := []hostileCase{
		// Tokens.
		{"no token", get(read, ""), 401, "missing_token", true},
		{"basic auth", buildRaw("GET", read, "", []string{"Authorization: Basic dXNlcjpwdw=="}, ""), 401, "missing_token", true},
		{"empty bearer", buildRaw("GET", read, "", []string{"Authorization: Bearer "}, ""), 401, "missing_token", true},
		{"garbage token", get(read, "not-a-jwt"), 401, "unauthenticated", true},
		{"three garbage segments", get(read, "aaaa.bbbb.cccc"), 401, "unauthenticated", true},
		{"oversized token 20KiB", get(read, strings.Repeat("a", 20<<10)), 401, "unauthenticated", true},
		{"expired token (validly signed)", get(read, h.expired), 401, "unauthenticated", true},
		{"tampered claims", get(read, h.tampered), 401, "unauthenticated", true},
		{"apiserver audience", get(read, h.apiAud), 401, "unauthenticated", true},
		{"wrong audience", get(read, h.wrongAud), 401, "unauthenticated", true},
		{"deleted pod's token", get(read, h.deleted), 401, "unauthenticated", true},
		{"unbound token", get(read, h.unbound), 401, "token_not_pod_bound", true},
		{"another node's pod", get(read, h.otherNode), 403, "pod_not_on_node", true},
		{"unmapped serviceaccount", get(read, h.unmapped), 403, "no_policy", true},
		{"control char in token", buildRaw("GET", read, "", []string{"Authorization: Bearer a\x01b.c.d"}, ""), 400, "", false},
		// Routes and methods.
		{"root path", get("/", h.good), 404, "unknown_route", true},
		{"api v2", get("/api/v2/read/kv/a/b", h.good), 404, "unknown_route", true},
		{"unknown op", get("/api/v1/frobnicate/kv/a/b", h.good), 404, "unknown_route", true},
		{"op without path", get("/api/v1/read", h.good), 400, "bad_path", true},
		{"mount without path", get("/api/v1/read/kv", h.good), 400, "bad_path", true},
		{"GET on write", get(write, h.good), 405, "method_not_allowed", true},
		{"POST on read", post(read, h.good, body), 405, "method_not_allowed", true},
		{"unknown method", buildRaw("BREW", read, h.good, nil, ""), 405, "method_not_allowed", true},
		{"passthrough auth/", post("/v1/auth/token/create", h.good, "{}"), 403, "", true},
		{"passthrough sys/", buildRaw("PUT", "/v1/sys/seal", h.good, nil, "{}"), 403, "", true},
		{"passthrough cubbyhole/", get("/v1/cubbyhole/x", h.good), 403, "", true},
		{"passthrough dot-dot", get("/v1/kv/data/tokenizer/crypto-gen/../control-plane/key", h.good), 400, "", true},
		// Query.
		{"huge version", get(read+"?version=99999999999999999999", h.good), 400, "bad_version", true},
		{"negative version", get(read+"?version=-1", h.good), 400, "bad_version", true},
		{"zero version", get(read+"?version=0", h.good), 400, "bad_version", true},
		{"text version", get(read+"?version=latest", h.good), 400, "bad_version", true},
		{"unknown query", get(read+"?debug=1", h.good), 400, "bad_query", true},
		{"version on list", get("/api/v1/list/kv/tokenizer/crypto-gen/?version=1", h.good), 400, "bad_query", true},
		// Bodies.
		{"invalid JSON", post(write, h.good, `{"data":`), 400, "bad_json", true},
		{"empty body", post(write, h.good, ""), 400, "bad_json", true},
		{"top-level array", post(write, h.good, `[]`), 400, "bad_json", true},
		{"data is an array", post(write, h.good, `{"data":[1,2]}`), 400, "bad_json", true},
		{"data is a string", post(write, h.good, `{"data":"x"}`), 400, "bad_json", true},
		{"data is null", post(write, h.good, `{"data":null}`), 400, "bad_data", true},
		{"data missing", post(write, h.good, `{"cas":0}`), 400, "bad_data", true},
		{"cas as string", post(write, h.good, `{"data":{"v":"x"},"cas":"0"}`), 400, "bad_json", true},
		{"cas negative", post(write, h.good, `{"data":{"v":"x"},"cas":-1}`), 400, "bad_cas", true},
		{"cas fractional", post(write, h.good, `{"data":{"v":"x"},"cas":1.5}`), 400, "bad_json", true},
		{"cas huge", post(write, h.good, `{"data":{"v":"x"},"cas":99999999999999999999999}`), 400, "bad_json", true},
		{"unknown field", post(write, h.good, `{"data":{"v":"x"},"ttl":"1h"}`), 400, "bad_json", true},
		{"trailing garbage", post(write, h.good, `{"data":{"v":"x"}} {"data":{}}`), 400, "bad_json", true},
		{"patch invalid JSON", buildRaw("PATCH", write, h.good, nil, `{{`), 400, "bad_json", true},
		{"body over 1 MiB", post(write, h.good, `{"data":{"v":"`+strings.Repeat("x", 1<<20)+`"}}`), 413, "body_too_large", true},
		// Transport-level junk answered by net/http.
		{"NUL in request line", "GET /api/v1/read/kv/a\x00b HTTP/1.1\r\nHost: b\r\n\r\n", 400, "", false},
		{"headers over 64 KiB", buildRaw("GET", read, h.good, []string{"X-Pad: " + strings.Repeat("p", 80<<10)}, ""), 431, "", false},
	}
	// Path tricks on every operation: each must be a 400 bad_path, before
	// any token is even looked at (so no token here).
	tricks := []struct{ name, path string }{
		{"dot-dot", "tokenizer/crypto-gen/../control-plane/key"},
		{"encoded dot-dot", "tokenizer/crypto-gen/%2e%2e/control-plane/key"},
		{"mixed-case encoded dot-dot", "tokenizer/crypto-gen/%2E%2e/control-plane/key"},
		{"single dot", "tokenizer/./crypto-gen/x"},
		{"empty segment", "tokenizer//crypto-gen/x"},
		{"encoded slash", "tokenizer%2fcrypto-gen/x"},
		{"NUL", "tokenizer/crypto-gen/a%00b"},
		{"newline", "tokenizer/crypto-gen/a%0d%0aX-Injected:%201"},
		{"DEL", "tokenizer/crypto-gen/a%7fb"},
		{"backslash", "tokenizer/crypto-gen/..%5ccontrol-plane"},
		{"invalid UTF-8", "tokenizer/crypto-gen/%ff%fe"},
	}
	ops := []struct{ method, route, body string }{
		{"GET", "read", ""}, {"POST", "write", body}, {"DELETE", "delete", ""}, {"GET", "versions", ""},
	}
	for _, op := range ops {
		for _, tr := range tricks {
			cs = append(cs, hostileCase{
				name: fmt.Sprintf("%s %s", op.route, tr.name), status: 400, code: "bad_path", handler: true,
				raw: buildRaw(op.method, "/api/v1/"+op.route+"/kv/"+tr.path, "", nil, op.body),
			})
		}
	}
	long := "/api/v1/read/kv/" + strings.Repeat("a/", 600) + "x"
	return append(cs, hostileCase{"path over 1 KiB", get(long, h.good), 400, "bad_path", true})
}

func mustPod(t *testing.T, ns, sa, node string) *corev1.Pod {
	t.Helper()
	p, err := testEnv.CreatePod(context.Background(), ns, "rel-"+randHex(6), sa, node)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkHostile runs one case and checks status, code and error shape.
func checkHostile(t *testing.T, b *brokerproc.Broker, tc hostileCase) brokerproc.Response {
	t.Helper()
	r, err := rawRequest(b.SocketPath, tc.raw)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if r.Status != tc.status || (tc.code != "" && r.Code() != tc.code) {
		t.Errorf("got %d %q (%.200s), want %d %q", r.Status, r.Code(), r.Body, tc.status, tc.code)
	}
	return r
}
