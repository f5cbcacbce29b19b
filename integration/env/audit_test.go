package env

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// A real apiserver audit line (Metadata level), trimmed of timestamps.
const kubeReviewLine = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%s","stage":"%s","requestURI":"/apis/authentication.k8s.io/v1/tokenreviews","verb":"create","user":{"username":"%s","groups":["system:serviceaccounts"]},"sourceIPs":["127.0.0.1"],"objectRef":{"resource":"tokenreviews","apiGroup":"authentication.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201}}`

func TestCountAPIRequests(t *testing.T) {
	line := func(id, stage, user string) string {
		return fmt.Sprintf(kubeReviewLine, id, stage, user) + "\n"
	}
	log := line("a", "ResponseComplete", BrokerUser) +
		line("b", "ResponseStarted", BrokerUser) + line("b", "ResponseComplete", BrokerUser) + // one request, two stages
		line("c", "ResponseComplete", VaultReviewerUser) +
		`{"kind":"Event","auditID":"d","verb":"create","user":{"username":"` + BrokerUser + `"},"objectRef":{"res` // still being written
	e := &Env{kubeAuditPath: filepath.Join(t.TempDir(), "audit.log")}
	if n, err := e.CountTokenReviews(BrokerUser); err != nil || n != 0 {
		t.Fatalf("missing log: %d, %v; want 0, nil", n, err)
	}
	if err := os.WriteFile(e.kubeAuditPath, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]int{BrokerUser: 2, VaultReviewerUser: 1, "nobody": 0} {
		if n, err := e.CountTokenReviews(user); err != nil || n != want {
			t.Errorf("CountTokenReviews(%s) = %d, %v; want %d", user, n, err, want)
		}
	}
	if n, _ := e.CountAPIRequests(BrokerUser, "get", "tokenreviews"); n != 0 {
		t.Errorf("verb filter ignored: %d", n)
	}
}
