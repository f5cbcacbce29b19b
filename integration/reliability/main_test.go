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
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

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
	var err error
	if workDir, err = os.MkdirTemp("", "sb-rel"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(workDir) }()
	if brokerBin, err = buildBroker(ctx, workDir); err != nil {
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

// buildBroker compiles cmd/secrets-broker inside the product module (its
// own go.mod and go.sum), not the integration module, whose go.sum does not
// list the product's dependencies.
func buildBroker(ctx context.Context, dir string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := ""
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "cmd", "secrets-broker")); err == nil {
			root = d
			break
		}
	}
	if root == "" {
		return "", errors.New("build broker: repository root with cmd/secrets-broker not found")
	}
	out := filepath.Join(dir, "secrets-broker")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/secrets-broker")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build broker: %w\n%s", err, b)
	}
	return out, nil
}
