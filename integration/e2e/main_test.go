// Package e2e runs the real secrets-broker binary against the real Vault,
// kube-apiserver and etcd of integration/env: the ADR-001 scenario end to
// end, through the Unix socket and the TCP port.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

const nodeName = "node-a"

// adrPolicy is the ADR's ConfigMap, verbatim in shape.
const adrPolicy = env.ADRPolicy

var (
	testEnv    *env.Env
	brokerBin  string
	kubeconfig string
	workDir    string
)

func TestMain(m *testing.M) {
	if runChildIfAsked() {
		return
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	suite, err := brokerproc.StartSuite(ctx, "e2e", env.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer suite.Stop()
	testEnv, brokerBin, kubeconfig, workDir = suite.Env, suite.Binary, suite.Kubeconfig, suite.WorkDir
	return m.Run()
}

// startBroker runs a broker for one test and stops it at cleanup.
func startBroker(t *testing.T, mode string, extra ...string) *brokerproc.Broker {
	t.Helper()
	dir := filepath.Join(workDir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := brokerproc.Start(ctx, brokerproc.Options{
		Binary: brokerBin, Dir: dir, VaultAddr: testEnv.VaultAddr(), Kubeconfig: kubeconfig,
		NodeName: nodeName, AttestationMode: mode, Policy: adrPolicy, ExtraArgs: extra,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("broker stop: %v", err)
		}
		if t.Failed() {
			t.Logf("broker log tail:\n%s", b.LogTail(40))
		}
	})
	return b
}

// podToken creates a pod of ns/sa on node and mints its bound token.
func podToken(t *testing.T, ns, sa, node, audience string) (string, string) {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("p-%d", time.Now().UnixNano())
	pod, err := testEnv.CreatePod(ctx, ns, name, sa, node)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := testEnv.MintToken(ctx, ns, sa, pod, audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok, string(pod.UID)
}

// rootKV seeds data with Vault's root token: test setup only, never given
// to the broker.
func rootKV(t *testing.T) *vaultapi.KVv2 {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = testEnv.VaultAddr()
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(testEnv.VaultRootToken())
	return c.KVv2("kv")
}
