// Package reliability proves the broker's reliability and security
// properties (issue 8) against the real Vault, kube-apiserver and etcd of
// integration/env and the real broker binary: outages of Vault and the
// apiserver, tokens revoked behind the broker's back, pods deleted
// mid-traffic, rollouts and SIGKILL, broken policy files, a hostile input
// corpus, canary leak scans and a 1,000-connection load. Every background
// load is bounded (fixed workers, fixed duration) and stops by itself.
//
// Figures are printed with t.Logf as "FIGURE <name>=<value> ..." lines so
// RELIABILITY.md can be refreshed from a run:
//
//	go test ./reliability -v -count=1 | grep FIGURE
package reliability

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

const nodeName = "node-a"

// adrPolicy is the ADR's ConfigMap shape: each tenant to its own role.
const adrPolicy = `policy:
  - k8s_ns: tokenizer-dp
    k8s_sa: tokenizer-dp-sa
    vault_role: tokenizer-dp-role
  - k8s_ns: tokenizer-cg
    k8s_sa: tokenizer-cg-sa
    vault_role: tokenizer-cg-role
  - k8s_ns: tokenizer-cp
    k8s_sa: tokenizer-cp-sa
    vault_role: tokenizer-cp-role
`

var (
	testEnv    *env.Env
	brokerBin  string
	kubeconfig string
	workDir    string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	if workDir, err = os.MkdirTemp("", "sb-rel"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(workDir) }()
	if brokerBin, err = brokerproc.Build(ctx, workDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// File storage: the Vault outage test restarts Vault and must keep data.
	testEnv, err = env.Start(ctx, env.Options{PersistentVault: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start integration environment:", err)
		return 1
	}
	defer testEnv.Stop()
	if kubeconfig, err = testEnv.BrokerKubeconfig(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
