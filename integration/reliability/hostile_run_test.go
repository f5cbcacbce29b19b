package reliability

import (
	"net/http"
	"strings"
	"testing"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
)

// TestHostileInput sends the bad-input corpus: every request gets its
// documented status and code, every request that reached the handler has
// exactly one audit line (matched by request id), Vault records no write,
// and the broker stays healthy and serving.
func TestHostileInput(t *testing.T) {
	b := startBroker(t, brokerOpts{extra: []string{"--read-header-timeout=1s"}})
	seed(t, "tokenizer/crypto-gen/rel-hostile/read")
	h := makeHostileTokens(t)
	corpus := hostileCorpus(h)
	if len(corpus) < 50 {
		t.Fatalf("corpus has %d requests, want at least 50", len(corpus))
	}
	writesBefore := vaultWrites(t)
	auditBefore := len(b.AuditLines())
	var ids []string
	reached := 0
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			r := checkHostile(t, b, tc)
			if tc.handler {
				reached++
				if id := requestID(r); id != "" {
					ids = append(ids, id)
				}
			}
		})
	}
	lines := b.AuditLines()[auditBefore:]
	if len(lines) != reached {
		t.Errorf("%d audit lines for %d requests that reached the handler", len(lines), reached)
	}
	joined := strings.Join(lines, "\n")
	for _, id := range ids {
		if strings.Count(joined, `"request_id":"`+id+`"`) != 1 {
			t.Errorf("request %s: want exactly one audit line", id)
		}
	}
	writes := vaultWrites(t) - writesBefore
	if writes != 0 {
		t.Errorf("the corpus caused %d successful KV writes in Vault, want 0", writes)
	}
	c := keepAlive(b)()
	mustDo(t, c, "GET", api+"/read/kv/tokenizer/crypto-gen/rel-hostile/read", h.good, "", 200)
	assertHealthy(t, b)
	t.Logf("FIGURE hostile_corpus requests=%d reached_handler=%d audit_lines=%d vault_writes=%d healthy_after=%t",
		len(corpus), reached, len(lines), writes, !t.Failed())
}

// requestID is error.request_id of a broker error body, or "".
func requestID(r brokerproc.Response) string {
	if e, ok := r.JSON["error"].(map[string]any); ok {
		id, _ := e["request_id"].(string)
		return id
	}
	return ""
}

// vaultWrites counts successful KV writes (create/update/patch/delete
// responses without error under kv/) in Vault's audit log.
func vaultWrites(t *testing.T) int {
	t.Helper()
	entries, err := testEnv.VaultAuditEntries()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		op := e.Request.Operation
		if e.Type == "response" && e.Error == "" && strings.HasPrefix(e.Request.Path, "kv/") &&
			(op == "create" || op == "update" || op == "patch" || op == "delete") {
			n++
		}
	}
	return n
}

// assertHealthy: /healthz answers 200.
func assertHealthy(t *testing.T, b *brokerproc.Broker) {
	t.Helper()
	resp, err := http.Get("http://" + b.AdminAddr + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}
