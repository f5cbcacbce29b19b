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
const adrPolicy = env.ADRPolicy

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
	// File storage: the Vault outage test restarts Vault and must keep data.
	suite, err := brokerproc.StartSuite(ctx, "rel", env.Options{PersistentVault: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer suite.Stop()
	testEnv, brokerBin, kubeconfig, workDir = suite.Env, suite.Binary, suite.Kubeconfig, suite.WorkDir
	return m.Run()
}
