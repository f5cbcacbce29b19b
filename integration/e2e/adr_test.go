package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

// TestADRScenario is ADR-001's tenancy matrix through the real socket.
func TestADRScenario(t *testing.T) {
	b := startBroker(t, "node")
	ctx := context.Background()
	if _, err := rootKV(t).Put(ctx, "tokenizer/data-plane/config", map[string]any{"dsn": "dp-value"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rootKV(t).Put(ctx, "tokenizer/control-plane/key", map[string]any{"k": "cp-value"}); err != nil {
		t.Fatal(err)
	}
	cg, _ := podToken(t, env.CryptoGenNamespace, env.CryptoGenSA, nodeName, env.Audience)
	dp, _ := podToken(t, env.DataPlaneNamespace, env.DataPlaneSA, nodeName, env.Audience)
	wrongAud, _ := podToken(t, env.CryptoGenNamespace, env.CryptoGenSA, nodeName, "some-other-service")
	otherNode, _ := podToken(t, env.CryptoGenNamespace, env.CryptoGenSA, "node-b", env.Audience)
	if err := testEnv.CreateTenant(ctx, "unmapped-ns", "unmapped-sa"); err != nil {
		t.Fatal(err)
	}
	unmapped, _ := podToken(t, "unmapped-ns", "unmapped-sa", nodeName, env.Audience)

	sock := brokerproc.UnixClient(b.SocketPath)
	api := "http://broker/api/v1"
	tcp := &http.Client{}
	tests := []struct {
		name       string
		client     *http.Client
		method     string
		url, token string
		body       string
		wantStatus int
		wantCode   string
		wantBody   string
	}{
		{"crypto-gen writes its secret", sock, "POST", api + "/write/kv/tokenizer/crypto-gen/new", cg, `{"data":{"key":"cg-generated"}}`, 200, "", `"status":"written"`},
		{"crypto-gen reads it back", sock, "GET", api + "/read/kv/tokenizer/crypto-gen/new", cg, "", 200, "", `"key":"cg-generated"`},
		{"crypto-gen lists its folder", sock, "GET", api + "/list/kv/tokenizer/crypto-gen/", cg, "", 200, "", `"new"`},
		{"crypto-gen reads over TCP", tcp, "GET", "http://" + b.TCPAddr + "/api/v1/read/kv/tokenizer/crypto-gen/new", cg, "", 200, "", `"key":"cg-generated"`},
		{"data-plane reads its own path", sock, "GET", api + "/read/kv/tokenizer/data-plane/config", dp, "", 200, "", `"dsn":"dp-value"`},
		{"data-plane write refused by vault", sock, "POST", api + "/write/kv/tokenizer/data-plane/x", dp, `{"data":{"a":"b"}}`, 403, "vault_denied", ""},
		{"data-plane cannot read crypto-gen", sock, "GET", api + "/read/kv/tokenizer/crypto-gen/new", dp, "", 403, "vault_denied", ""},
		{"data-plane cannot read control-plane", sock, "GET", api + "/read/kv/tokenizer/control-plane/key", dp, "", 403, "vault_denied", ""},
		{"wrong audience is unauthenticated", sock, "GET", api + "/read/kv/tokenizer/crypto-gen/new", wrongAud, "", 401, "unauthenticated", ""},
		{"garbage token", sock, "GET", api + "/read/kv/tokenizer/crypto-gen/new", "not-a-jwt", "", 401, "unauthenticated", ""},
		{"no token", sock, "GET", api + "/read/kv/tokenizer/crypto-gen/new", "", "", 401, "missing_token", ""},
		{"unmapped serviceaccount", sock, "GET", api + "/read/kv/tokenizer/crypto-gen/new", unmapped, "", 403, "no_policy", ""},
		{"pod on another node", sock, "GET", api + "/read/kv/tokenizer/crypto-gen/new", otherNode, "", 403, "pod_not_on_node", ""},
		{"dot-dot escape refused", sock, "GET", api + "/read/kv/tokenizer/crypto-gen/%2e%2e/control-plane/key", cg, "", 400, "bad_path", ""},
		{"missing secret", sock, "GET", api + "/read/kv/tokenizer/crypto-gen/absent", cg, "", 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := brokerproc.Do(tt.client, tt.method, tt.url, tt.token, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.wantStatus || r.Code() != tt.wantCode || !strings.Contains(string(r.Body), tt.wantBody) {
				t.Fatalf("got %s; want %d %q containing %q", r, tt.wantStatus, tt.wantCode, tt.wantBody)
			}
		})
	}
	assertAuditLines(t, b, len(tests))
	assertVaultSawPodHeader(t)
}

// assertAuditLines: one audit line per request, none holding a token.
func assertAuditLines(t *testing.T, b *brokerproc.Broker, want int) {
	t.Helper()
	lines := b.AuditLines()
	if len(lines) != want {
		t.Fatalf("%d audit lines, want %d", len(lines), want)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line not JSON: %s", l)
		}
		if strings.Contains(l, "eyJ") || strings.Contains(l, "hvs.") {
			t.Fatalf("audit line holds a credential: %s", l)
		}
	}
}

// assertVaultSawPodHeader: Vault's own audit names the pod, not just the SA.
func assertVaultSawPodHeader(t *testing.T) {
	t.Helper()
	entries, err := testEnv.VaultAuditEntries()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if v := e.Request.Headers["x-secrets-broker-pod"]; len(v) > 0 && strings.HasPrefix(v[0], env.CryptoGenNamespace+"/") {
			return
		}
	}
	t.Fatal("no Vault audit entry carries x-secrets-broker-pod for tokenizer-cg")
}

// TestConcurrentFirstRequestsMakeOneLoginAndOneReview counts at the real
// servers: Vault's audit log and the apiserver's audit log.
func TestConcurrentFirstRequestsMakeOneLoginAndOneReview(t *testing.T) {
	b := startBroker(t, "node")
	tok, _ := podToken(t, env.CryptoGenNamespace, env.CryptoGenSA, nodeName, env.Audience)
	if _, err := rootKV(t).Put(context.Background(), "tokenizer/crypto-gen/storm", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	loginsBefore := count(t, func() (int, error) { return testEnv.CountVaultLogins(env.CryptoGenRole) })
	reviewsBefore := count(t, func() (int, error) { return testEnv.CountTokenReviews(env.BrokerUser) })
	c := brokerproc.UnixClient(b.SocketPath)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			r, err := brokerproc.Do(c, "GET", "http://broker/api/v1/read/kv/tokenizer/crypto-gen/storm", tok, "")
			if err == nil && r.Status != 200 {
				err = fmt.Errorf("status %s", r)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	logins := count(t, func() (int, error) { return testEnv.CountVaultLogins(env.CryptoGenRole) }) - loginsBefore
	reviews := count(t, func() (int, error) { return testEnv.CountTokenReviews(env.BrokerUser) }) - reviewsBefore
	t.Logf("100 concurrent first requests: %d Vault logins, %d broker TokenReviews", logins, reviews)
	if logins != 1 || reviews != 1 {
		t.Fatalf("logins=%d reviews=%d, want 1 and 1", logins, reviews)
	}
}

func count(t *testing.T, f func() (int, error)) int {
	t.Helper()
	n, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
