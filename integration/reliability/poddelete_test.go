package reliability

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestPodDeletedMidTraffic force-deletes a pod while it calls the broker:
// its next calls are refused, its session is evicted and its Vault token
// revoked (Vault's audit counts the revocation and the accessor is dead).
// Another pod's traffic is untouched.
func TestPodDeletedMidTraffic(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	tok, pod := cgPod(t)
	other, _ := cgPod(t)
	seed(t, "tokenizer/crypto-gen/rel-del/read")
	url := api + "/read/kv/tokenizer/crypto-gen/rel-del/read"
	c := keepAlive(b)()
	mustDo(t, c, "GET", url, tok, "", 200)
	acc := lastAccessor(t, b)
	revokes := func() int { return count(t, testEnv.CountVaultRevokes) }
	before := revokes()

	bg := load{workers: 2, dur: 8 * time.Second, client: keepAlive(b), token: other, pause: 20 * time.Millisecond,
		readPath: "kv/tokenizer/crypto-gen/rel-del/read"}
	done := make(chan *loadResult)
	go func() { done <- bg.run(context.Background()) }()

	// The doomed pod calls continuously; after the first refusal it must
	// never be served again.
	var refusedAt atomic.Int64
	var servedAfter atomic.Int32
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, err := do(c, "GET", url, tok, "")
			switch {
			case err != nil:
			case r.Status == 200 && refusedAt.Load() != 0:
				servedAfter.Add(1)
			case r.Status != 200 && refusedAt.Load() == 0:
				refusedAt.Store(time.Now().UnixNano())
				t.Logf("deleted pod's call refused: %s", r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	deletedAt := time.Now()
	if err := testEnv.DeletePod(context.Background(), pod.Namespace, pod.Name); err != nil {
		t.Fatal(err)
	}
	_, ok := poll(15*time.Second, 50*time.Millisecond, func() bool { return refusedAt.Load() != 0 })
	if !ok {
		t.Fatal("deleted pod still served after 15s")
	}
	_, ok = poll(10*time.Second, 100*time.Millisecond, func() bool { return revokes() > before })
	revokedAfter := time.Since(deletedAt)
	if !ok {
		t.Fatal("no Vault token revocation within 10s of the pod's deletion")
	}
	time.Sleep(time.Second)
	close(stop)
	res := <-done
	_, lookupErr := testEnv.VaultCLI(context.Background(), testEnv.VaultRootToken(), "token", "lookup", "-accessor", acc)
	if lookupErr == nil {
		t.Error("the deleted pod's Vault token accessor still resolves: token not revoked")
	}
	// No Vault token may be issued to the pod after its deletion (an
	// in-flight request re-logging in would mint one nobody revokes).
	late := loginsForPod(t, pod.Namespace+"/"+pod.Name, deletedAt)
	if late != 0 {
		t.Errorf("%d Vault logins for the deleted pod after its deletion: tokens outliving the pod", late)
	}
	sessions := brokerMetric(t, b, "secrets_broker_vault_sessions")
	if sessions != 1 {
		t.Errorf("broker caches %v Vault sessions after the deletion, want 1 (the other pod's)", sessions)
	}
	if n := servedAfter.Load(); n != 0 {
		t.Errorf("deleted pod served %d times after its first refusal", n)
	}
	sum := res.summary()
	t.Logf("other pod's load: %s", fmtSummary(sum))
	if sum["200"] != res.reqs {
		t.Errorf("other pod: %d of %d requests failed", res.reqs-sum["200"], res.reqs)
	}
	t.Logf("FIGURE pod_deleted refused_after_ms=%d revoked_after_ms=%d accessor_dead=%t served_after_refusal=%d logins_after_delete=%d sessions_left=%.0f other_pod_failed=%d",
		time.Duration(refusedAt.Load()-deletedAt.UnixNano()).Milliseconds(), revokedAfter.Milliseconds(),
		lookupErr != nil, servedAfter.Load(), late, sessions, res.reqs-sum["200"])
}

// loginsForPod counts successful kubernetes-auth logins Vault audited for
// pod ("ns/name", from the audited X-Secrets-Broker-Pod header) after since.
func loginsForPod(t *testing.T, pod string, since time.Time) int {
	t.Helper()
	entries, err := testEnv.VaultAuditEntries()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		h := e.Request.Headers["x-secrets-broker-pod"]
		at, _ := time.Parse(time.RFC3339Nano, e.Time)
		if e.Request.Path == "auth/kubernetes/login" && e.LoginAuth() != nil && len(h) > 0 && h[0] == pod && at.After(since) {
			n++
		}
	}
	return n
}
