package envtest

import (
	"net/http"
	"testing"

	vaultagent "github.com/secrets-broker/secrets-broker/agent/vault"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

// TestAuditNamesServiceAccountAndPod: a login shows in Vault's audit log
// with the ServiceAccount that did it, the broker's pod header is audited in
// clear, and each login costs exactly one TokenReview by Vault's reviewer.
func TestAuditNamesServiceAccountAndPod(t *testing.T) {
	ctx := t.Context()
	loginsBefore := count(t, func() (int, error) { return testEnv.CountVaultLogins(env.CryptoGenRole) })
	reviewsBefore := count(t, func() (int, error) { return testEnv.CountTokenReviews(env.VaultReviewerUser) })
	revokesBefore := count(t, testEnv.CountVaultRevokes)

	pod, jwt := podToken(t, env.CryptoGenNamespace, env.CryptoGenSA, env.Audience)
	c, _ := mustLogin(t, jwt, env.CryptoGenRole)

	if n := count(t, func() (int, error) { return testEnv.CountVaultLogins(env.CryptoGenRole) }); n != loginsBefore+1 {
		t.Errorf("cg logins: %d -> %d, want +1", loginsBefore, n)
	}
	if n := count(t, func() (int, error) { return testEnv.CountTokenReviews(env.VaultReviewerUser) }); n != reviewsBefore+1 {
		t.Errorf("TokenReviews by %s: %d -> %d, want +1", env.VaultReviewerUser, reviewsBefore, n)
	}
	if n := count(t, func() (int, error) { return testEnv.CountVaultLogins(env.DataPlaneRole + "-nonexistent") }); n != 0 {
		t.Errorf("logins for a role nobody used = %d, want 0", n)
	}

	entries, err := testEnv.VaultAuditEntries()
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]string
	for _, a := range entries {
		if la := a.LoginAuth(); la != nil && a.Request.Path == "auth/kubernetes/login" {
			md = la.Metadata
		}
	}
	want := map[string]string{
		"role":                      env.CryptoGenRole,
		"service_account_name":      env.CryptoGenSA,
		"service_account_namespace": env.CryptoGenNamespace,
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("last login's auth.metadata[%q] = %q, want %q (metadata %v)", k, md[k], v, md)
		}
	}

	// The header the broker sends (the product's own constant) must be
	// audited in clear: deploy/vault/setup.sh has to turn that on.
	podRef := pod.Namespace + "/" + pod.Name
	c.AddHeader(vaultagent.PodHeader, podRef)
	if _, err := c.KVv2("kv").Put(ctx, "tokenizer/crypto-gen/audited", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	entries, err = testEnv.VaultAuditEntries()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range entries {
		if a.Request.Path == "kv/data/tokenizer/crypto-gen/audited" {
			h := a.Request.Headers["x-secrets-broker-pod"]
			if len(h) != 1 || h[0] != podRef {
				t.Errorf("%s entry headers = %v, want x-secrets-broker-pod [%s]", a.Type, a.Request.Headers, podRef)
			}
			found = true
		}
	}
	if !found {
		t.Error("no audit entry for the audited write")
	}

	if err := c.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if n := count(t, testEnv.CountVaultRevokes); n != revokesBefore+1 {
		t.Errorf("revokes: %d -> %d, want +1", revokesBefore, n)
	}
	_, err = c.KVv2("kv").Get(ctx, "tokenizer/crypto-gen/audited")
	wantStatus(t, "read with revoked token", err, http.StatusForbidden)
}

func count(t *testing.T, f func() (int, error)) int {
	t.Helper()
	n, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
