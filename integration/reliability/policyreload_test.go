package reliability

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
)

// TestPolicyReload replaces the policy file under load: a broken file is
// refused (metric and log say so) while the last good policy keeps
// serving; a fixed file then applies.
func TestPolicyReload(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	cg, _ := cgPod(t)
	seed(t, "tokenizer/crypto-gen/rel-pol/read")
	url := api + "/read/kv/tokenizer/crypto-gen/rel-pol/read"
	c := keepAlive(b)()
	mustDo(t, c, "GET", url, cg, "", 200)
	errMetric := func() float64 {
		return max(0, brokerMetric(t, b, "secrets_broker_policy_reloads_total", `result="error"`))
	}
	errsBefore := errMetric()

	l := load{workers: 2, dur: 4 * time.Second, client: keepAlive(b), token: cg, pause: 20 * time.Millisecond,
		readPath: "kv/tokenizer/crypto-gen/rel-pol/read"}
	done := make(chan *loadResult)
	go func() { done <- l.run(context.Background()) }()
	time.Sleep(500 * time.Millisecond)
	// Broken: an entry without vault_role, and an unknown field.
	broken := "policy:\n  - k8s_ns: tokenizer-cg\n    k8s_sa: tokenizer-cg-sa\n    vault_rol: typo\n"
	if err := b.WritePolicy(broken); err != nil {
		t.Fatal(err)
	}
	refusedIn, ok := poll(5*time.Second, 100*time.Millisecond, func() bool { return errMetric() > errsBefore })
	if !ok {
		t.Fatal(`policy_reloads_total{result="error"} did not increase within 5s of a broken policy`)
	}
	res := <-done
	sum := res.summary()
	t.Logf("load across the broken reload: %s", fmtSummary(sum))
	if sum["200"] != res.reqs {
		t.Errorf("%d of %d requests failed while the broken policy was refused", res.reqs-sum["200"], res.reqs)
	}
	if !strings.Contains(b.Logs(), "policy load failed") {
		t.Error(`broker log has no "policy load failed" line`)
	}

	// Fixed: crypto-gen restricted by an allow-list to another folder.
	fixed := strings.Replace(adrPolicy, "vault_role: tokenizer-cg-role\n",
		"vault_role: tokenizer-cg-role\n    allow:\n      - ops: [read]\n        paths: [\"kv/tokenizer/crypto-gen/allowed/\"]\n", 1)
	if err := b.WritePolicy(fixed); err != nil {
		t.Fatal(err)
	}
	var last brokerproc.Response
	appliedIn, ok := poll(5*time.Second, 100*time.Millisecond, func() bool {
		last, _ = do(c, "GET", url, cg, "")
		return last.Status == 403 && last.Code() == "not_allowed_by_policy"
	})
	if !ok {
		t.Fatalf("fixed policy not applied within 5s: %s", last)
	}
	okAfter := brokerMetric(t, b, "secrets_broker_policy_reloads_total", `result="ok"`)
	t.Logf("FIGURE policy_reload requests_during_broken=%d failed=%d error_metric_after_ms=%d fixed_applied_after_ms=%d reloads_ok=%.0f reloads_error=%.0f",
		res.reqs, res.reqs-sum["200"], refusedIn.Milliseconds(), appliedIn.Milliseconds(), okAfter, errMetric())
}
