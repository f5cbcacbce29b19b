package reliability

import (
	"context"
	"testing"
	"time"
)

// TestVaultOutage stops the file-storage Vault under a read/write load and
// starts it again: while it is down every call is 503 vault_unavailable
// with Retry-After, no write is acknowledged that was not stored, and the
// same broker process serves again after the restart.
func TestVaultOutage(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	tok, _ := cgPod(t)
	seed(t, "tokenizer/crypto-gen/rel-vault/read")
	c := keepAlive(b)()
	mustDo(t, c, "GET", api+"/read/kv/tokenizer/crypto-gen/rel-vault/read", tok, "", 200)

	l := load{workers: 6, dur: 10 * time.Second, client: keepAlive(b), token: tok, pause: 20 * time.Millisecond,
		readPath: "kv/tokenizer/crypto-gen/rel-vault/read", writePrefix: "kv/tokenizer/crypto-gen/rel-vault"}
	done := make(chan *loadResult)
	go func() { done <- l.run(context.Background()) }()

	time.Sleep(1500 * time.Millisecond)
	if err := testEnv.StopVault(); err != nil {
		t.Fatal(err)
	}
	downAt := time.Now()
	time.Sleep(2500 * time.Millisecond)
	upStart := time.Now()
	if err := testEnv.StartVault(context.Background()); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	res := <-done

	var down, downBad, after, afterOK int
	firstOK := time.Duration(-1)
	for _, r := range res.all {
		switch {
		case r.at.After(downAt) && r.end.Before(upStart):
			down++
			if r.status != 503 || r.code != "vault_unavailable" || r.retry == "" {
				downBad++
				if downBad <= 5 {
					t.Errorf("while Vault was down: %s (Retry-After %q), want 503 vault_unavailable with Retry-After", r.key(), r.retry)
				}
			}
		case r.at.After(upAt):
			after++
			if r.status == 200 {
				afterOK++
				if firstOK < 0 || r.end.Sub(upAt) < firstOK {
					firstOK = r.end.Sub(upAt)
				}
			}
		}
	}
	t.Logf("load: %s", fmtSummary(res.summary()))
	if downBad > 0 {
		t.Errorf("%d of %d requests while Vault was down were not 503 vault_unavailable with Retry-After", downBad, down)
	}
	if down == 0 || after == 0 || afterOK == 0 {
		t.Fatalf("phases: %d requests while down, %d after restart (%d ok): the load did not cover the outage", down, after, afterOK)
	}
	// After the restart the same broker process serves, with no restart.
	mustDo(t, c, "GET", api+"/read/kv/tokenizer/crypto-gen/rel-vault/read", tok, "", 200)

	acked := res.acked()
	lost := 0
	for path, want := range acked {
		s, err := rootKV(t).Get(context.Background(), trimMount(path))
		if err != nil || s.Data["v"] != want {
			lost++
			t.Errorf("acknowledged write %s not stored: %v", path, err)
		}
	}
	t.Logf("FIGURE vault_outage requests_while_down=%d all_503_vault_unavailable=%t acked_writes=%d lost_writes=%d first_ok_after_unseal_ms=%d vault_start_unseal_ms=%d",
		down, downBad == 0, len(acked), lost, firstOK.Milliseconds(), upAt.Sub(upStart).Milliseconds())
}

// trimMount turns "kv/a/b" into "a/b" for the KVv2 helper.
func trimMount(p string) string {
	for i := range len(p) {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
