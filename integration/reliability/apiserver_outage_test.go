package reliability

import (
	"context"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
)

// TestAPIServerOutage stops the kube-apiserver: a caller whose TokenReview
// is cached keeps being served until the entry expires, a token never seen
// gets 503 apiserver_unavailable (never 401), and once the apiserver is
// back everything recovers by itself, including the pod informer (a pod
// created after the restart becomes usable).
func TestAPIServerOutage(t *testing.T) {
	const ttl = 10 * time.Second
	b := startBroker(t, brokerOpts{extra: []string{"--review-cache-ttl=" + ttl.String()}})
	seed(t, "tokenizer/crypto-gen/rel-api/read")
	url := api + "/read/kv/tokenizer/crypto-gen/rel-api/read"
	cached, _ := cgPod(t)
	fresh, _ := cgPod(t)
	c := keepAlive(b)()

	mustDo(t, c, "GET", url, cached, "", 200) // reviewed and cached now
	reviewedAt := time.Now()
	if err := testEnv.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = testEnv.StartAPIServer(context.Background())
		}
	})
	if stoppedAt.Sub(reviewedAt) > ttl-time.Second {
		t.Fatalf("stopping the apiserver took %s, longer than the cache TTL allows", stoppedAt.Sub(reviewedAt))
	}

	// Cached caller: served while its entry lives.
	mustDo(t, c, "GET", url, cached, "", 200)
	servedCached := time.Since(reviewedAt)
	// New token: 503 apiserver_unavailable with Retry-After, not 401.
	r := mustDo(t, c, "GET", url, fresh, "", 503)
	if r.Code() != "apiserver_unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("new token while apiserver down: %s (Retry-After %q), want apiserver_unavailable", r, r.Header.Get("Retry-After"))
	}
	// The cached caller flips to 503 (never 401) once the entry expires.
	var last brokerproc.Response
	_, flipped := poll(ttl+5*time.Second, 200*time.Millisecond, func() bool {
		last, _ = do(c, "GET", url, cached, "")
		if last.Status != 200 && last.Status != 503 {
			t.Errorf("cached caller during outage: %s, want 200 then 503", last)
		}
		return last.Status == 503
	})
	flipAfter := time.Since(reviewedAt)
	if !flipped || last.Code() != "apiserver_unavailable" {
		t.Fatalf("cached caller after TTL: %s, want 503 apiserver_unavailable", last)
	}

	upStart := time.Now()
	if err := testEnv.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	upAt := time.Now()
	recov, ok := poll(30*time.Second, 200*time.Millisecond, func() bool {
		r1, _ := do(c, "GET", url, cached, "")
		r2, _ := do(c, "GET", url, fresh, "")
		return r1.Status == 200 && r2.Status == 200
	})
	if !ok {
		t.Fatal("callers not served within 30s of the apiserver restart")
	}
	// The informer reconnected: a pod created now is seen and served.
	late, _ := cgPod(t)
	informer, ok := poll(30*time.Second, 200*time.Millisecond, func() bool {
		r, _ := do(c, "GET", url, late, "")
		return r.Status == 200
	})
	if !ok {
		t.Fatal("pod created after the apiserver restart not served within 30s: informer did not reconnect")
	}
	t.Logf("apiserver stop took %s", stoppedAt.Sub(reviewedAt))
	t.Logf("FIGURE apiserver_outage cache_ttl_s=%d cached_served_at_s=%.1f cached_503_after_s=%.1f new_token_status=503 recovery_after_ready_ms=%d new_pod_served_after_ms=%d apiserver_restart_ms=%d",
		int(ttl.Seconds()), servedCached.Seconds(), flipAfter.Seconds(), recov.Milliseconds(), informer.Milliseconds(), upAt.Sub(upStart).Milliseconds())
}
