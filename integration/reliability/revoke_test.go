package reliability

import (
	"context"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/env"
)

// TestRevokedTokenReloginOnce revokes the pod's Vault token behind the
// broker's back (by accessor, with the root token) while the pod keeps
// calling: the broker notices (lookup-self), logs in again exactly once and
// no caller sees an error. A policy denial, by contrast, never triggers a
// login.
func TestRevokedTokenReloginOnce(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	tok, _ := cgPod(t)
	seed(t, "tokenizer/crypto-gen/rel-revoke/read")
	url := api + "/read/kv/tokenizer/crypto-gen/rel-revoke/read"
	c := keepAlive(b)()
	mustDo(t, c, "GET", url, tok, "", 200)
	acc := lastAccessor(t, b)
	logins := func() int {
		return count(t, func() (int, error) { return testEnv.CountVaultLogins(env.CryptoGenRole) })
	}
	before := logins()

	l := load{workers: 4, dur: 4 * time.Second, client: keepAlive(b), token: tok, pause: 10 * time.Millisecond,
		readPath: "kv/tokenizer/crypto-gen/rel-revoke/read"}
	done := make(chan *loadResult)
	go func() { done <- l.run(context.Background()) }()
	time.Sleep(time.Second)
	if _, err := testEnv.VaultCLI(context.Background(), testEnv.VaultRootToken(), "token", "revoke", "-accessor", acc); err != nil {
		t.Fatal(err)
	}
	res := <-done
	mustDo(t, c, "GET", url, tok, "", 200)
	sum := res.summary()
	t.Logf("load: %s", fmtSummary(sum))
	newAcc := lastAccessor(t, b)
	relogins := logins() - before
	if relogins != 1 || newAcc == acc {
		t.Errorf("after revocation: %d logins (want 1), accessor changed: %t", relogins, newAcc != acc)
	}
	failed := res.reqs - sum["200"]
	if failed != 0 {
		t.Errorf("%d of %d requests failed across the revocation", failed, res.reqs)
	}

	// Policy denials: Vault refuses the path; the token is alive, so no login.
	before = logins()
	denied := []string{
		api + "/read/kv/tokenizer/control-plane/key",
		api + "/read/kv/tokenizer/data-plane/config",
	}
	for range 5 {
		for _, u := range denied {
			r := mustDo(t, c, "GET", u, tok, "", 403)
			if r.Code() != "vault_denied" {
				t.Fatalf("denied read: %s, want vault_denied", r)
			}
		}
		r := mustDo(t, c, "POST", api+"/write/kv/tokenizer/control-plane/x", tok, `{"data":{"k":"v"}}`, 403)
		if r.Code() != "vault_denied" {
			t.Fatalf("denied write: %s, want vault_denied", r)
		}
	}
	denialLogins := logins() - before
	if denialLogins != 0 {
		t.Errorf("15 policy denials caused %d logins, want 0", denialLogins)
	}
	t.Logf("FIGURE token_revoked requests=%d failed=%d relogins=%d policy_denials=15 logins_after_denials=%d",
		res.reqs, failed, relogins, denialLogins)
}
