package reliability

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestZZCanaries runs last (file order): it pushes a canary JWT and canary
// secret values through the remaining paths (bearer, X-Vault-Token,
// request bodies, error paths), then scans everything the suite's brokers
// produced — stdout/stderr logs at debug level, audit files, every error
// body, /metrics — for any JWT used anywhere in the suite, any canary
// secret value, and any Vault token; responses were already checked for
// Vault tokens as they arrived.
func TestZZCanaries(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	seed(t, "tokenizer/crypto-gen/rel-canary/read")
	tok, _ := cgPod(t)
	c := keepAlive(b)()
	fake := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"CANARY-JWT"}`)) + ".Q0FOQVJZLUpXVC1TSUdOQVRVUkU"
	canaries.addJWT(fake)
	secret := canaryValue("zz")
	for _, s := range []struct{ method, url, tok, body string }{
		{"GET", api + "/read/kv/tokenizer/crypto-gen/rel-canary/read", fake, ""},
		{"POST", api + "/write/kv/tokenizer/crypto-gen/rel-canary/w", fake, `{"data":{"v":"` + secret + `"}}`},
		{"POST", api + "/write/kv/tokenizer/crypto-gen/rel-canary/w", tok, `{"data":{"v":"` + secret + `"}}`},
		{"GET", api + "/read/kv/tokenizer/crypto-gen/rel-canary/w", tok, ""},
		{"POST", api + "/write/kv/tokenizer/crypto-gen/rel-canary/w", tok, `{"data":{"v":"` + secret + `"},"cas":0}`},
		{"POST", api + "/write/kv/tokenizer/crypto-gen/rel-canary/w", tok, `{"data":{"v":"` + secret + `"`},
		{"POST", api + "/write/kv/tokenizer/control-plane/w", tok, `{"data":{"v":"` + secret + `"}}`},
		{"PATCH", api + "/write/kv/tokenizer/crypto-gen/rel-canary/w", tok, `{"data":{"w":"` + secret + `"}}`},
	} {
		if _, err := do(c, s.method, s.url, s.tok, s.body); err != nil {
			t.Fatal(err)
		}
	}
	for _, vt := range []string{tok, fake} {
		r, err := rawRequest(b.SocketPath, buildRaw("GET", "/v1/kv/data/tokenizer/crypto-gen/rel-canary/w", "",
			[]string{"X-Vault-Token: " + vt}, ""))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("passthrough read with %s: %d", map[bool]string{true: "pod token", false: "canary JWT"}[vt == tok], r.Status)
	}
	stopBroker(t, b)

	needles := canaries.needles()
	sources := canaries.sources(t)
	hits := 0
	for name, text := range sources {
		for label, n := range needles {
			if strings.Contains(text, n) {
				hits++
				t.Errorf("%s leaks %s", name, label)
			}
		}
		for _, p := range []string{"hvs.", "hvb."} {
			if strings.Contains(text, p) {
				hits++
				t.Errorf("%s contains a Vault token prefix %q", name, p)
			}
		}
	}
	canaries.mu.Lock()
	for _, l := range canaries.hvsLeaks {
		hits++
		t.Errorf("a response carried a Vault token: %s", l)
	}
	nJWT, nResp, nErr := len(canaries.jwts), canaries.nResp, len(canaries.errBody)
	canaries.mu.Unlock()
	bytes := 0
	for _, s := range sources {
		bytes += len(s)
	}
	t.Logf("FIGURE canaries jwts=%d needles=%d sources=%d scanned_bytes=%d responses_checked=%d error_bodies=%d leaks=%d",
		nJWT, len(needles), len(sources), bytes, nResp, nErr, hits)
}

// needles: each JWT whole, its signature alone (a truncated leak still
// leaks it), and the canary secret prefix.
func (c *canaryRegistry) needles() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{"canary secret value": canaryPrefix}
	for i, j := range c.jwts {
		out[fmt.Sprintf("jwt #%d", i)] = j
		if parts := strings.Split(j, "."); len(parts) == 3 && len(parts[2]) >= 16 {
			out[fmt.Sprintf("jwt #%d signature", i)] = parts[2]
		}
	}
	return out
}

// sources: every broker's log and audit file, saved /metrics, and all
// error bodies.
func (c *canaryRegistry) sources(t *testing.T) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for i, b := range c.brokers {
		out[fmt.Sprintf("broker %d log (%s)", i, b.LogPath)] = b.Logs()
		audit, err := os.ReadFile(b.AuditPath)
		if err != nil {
			t.Errorf("read audit file: %v", err)
		}
		out[fmt.Sprintf("broker %d audit (%s)", i, b.AuditPath)] = string(audit)
	}
	for name, text := range c.texts {
		out[name] = text
	}
	out["error bodies"] = strings.Join(c.errBody, "\n")
	return out
}
