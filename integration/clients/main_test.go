// Package clients runs real clients nobody here wrote (the vault CLI, the
// Go vault/api client, node-vault from npm) and our own agent/client and
// brokerctl against the real broker binary, Vault, kube-apiserver and etcd
// of integration/env. One env and one broker (--attestation-mode=node,
// the ADR's policy) serve every test in the package.
package clients

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

const nodeName = "node-a"

// adrPolicy is the ADR's ConfigMap: three entries, no allow-lists, so
// every denial below is Vault's own decision through the pod's session.
const adrPolicy = env.ADRPolicy

// Seeded with the root token at start (test setup only, never given to the
// broker or a client).
const (
	dpValue = "dp-value-7f3a"
	cpValue = "cp-value-91c2"
)

var (
	testEnv      *env.Env
	broker       *brokerproc.Broker
	brokerctlBin string
	vaultBin     string
	workDir      string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	if workDir, err = os.MkdirTemp("", "sb-clients"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(workDir) }()
	if err := setup(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "clients setup:", err)
		return 1
	}
	defer testEnv.Stop()
	defer func() {
		if err := broker.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "broker stop:", err)
		}
	}()
	return m.Run()
}

func setup(ctx context.Context) error {
	if vaultBin = locateVault(); vaultBin == "" {
		return fmt.Errorf("no vault binary: set SECRETS_BROKER_VAULT_BIN or run integration/servers/build.sh")
	}
	brokerBin, err := brokerproc.Build(ctx, workDir)
	if err != nil {
		return err
	}
	brokerctlBin = filepath.Join(workDir, "brokerctl")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", brokerctlBin, "github.com/secrets-broker/secrets-broker/cmd/brokerctl").CombinedOutput(); err != nil {
		return fmt.Errorf("build brokerctl: %w\n%s", err, out)
	}
	if testEnv, err = env.Start(ctx, env.Options{}); err != nil {
		return fmt.Errorf("start env: %w", err)
	}
	kubeconfig, err := testEnv.BrokerKubeconfig(ctx)
	if err == nil {
		broker, err = brokerproc.Start(ctx, brokerproc.Options{
			Binary: brokerBin, Dir: filepath.Join(workDir, "broker"), VaultAddr: testEnv.VaultAddr(), Kubeconfig: kubeconfig,
			NodeName: nodeName, AttestationMode: "node", Policy: adrPolicy,
		})
	}
	if err == nil {
		err = seed(ctx)
	}
	if err != nil {
		testEnv.Stop()
		return err
	}
	return nil
}

func locateVault() string {
	if p := os.Getenv("SECRETS_BROKER_VAULT_BIN"); p != "" {
		return p
	}
	cache := os.Getenv("SECRETS_BROKER_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "secrets-broker")
	}
	p := filepath.Join(cache, "bin", "vault")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func seed(ctx context.Context) error {
	c, err := testEnv.VaultClient(testEnv.VaultRootToken())
	if err != nil {
		return err
	}
	for path, data := range map[string]map[string]any{
		"tokenizer/data-plane/config":  {"dsn": dpValue},
		"tokenizer/control-plane/key":  {"k": cpValue},
		"tokenizer/crypto-gen/seeded":  {"k": "cg-seeded"},
		"tokenizer/data-plane/sub/one": {"v": "1"},
	} {
		if _, err := c.KVv2("kv").Put(ctx, path, data); err != nil {
			return fmt.Errorf("seed %s: %w", path, err)
		}
	}
	return nil
}

// pod is one test pod on this node and its bound token.
type pod struct {
	ns, sa, name, token string
	obj                 *corev1.Pod
}

// newPod creates a pod of ns/sa on this node and mints its bound token.
func newPod(t *testing.T, ns, sa string) pod {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("p-%d", time.Now().UnixNano())
	p, err := testEnv.CreatePod(ctx, ns, name, sa, nodeName)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := testEnv.MintToken(ctx, ns, sa, p, env.Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return pod{ns: ns, sa: sa, name: name, token: tok, obj: p}
}

// remint mints a second token for the same pod, as kubelet does on rotation.
func (p pod) remint(t *testing.T) string {
	t.Helper()
	tok, err := testEnv.MintToken(context.Background(), p.ns, p.sa, p.obj, env.Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if tok == p.token {
		t.Fatal("re-minted token equals the first")
	}
	return tok
}

func cgPod(t *testing.T) pod { return newPod(t, env.CryptoGenNamespace, env.CryptoGenSA) }
func dpPod(t *testing.T) pod { return newPod(t, env.DataPlaneNamespace, env.DataPlaneSA) }

// tokenShape matches Vault token formats (service hvs., batch hvb., legacy
// s./b.) and any JWT.
var tokenShape = regexp.MustCompile(`\bhv[sbr]\.[A-Za-z0-9_-]{20,}|\b[sb]\.[A-Za-z0-9]{24}\b|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}`)

// assertNoCredential fails when text holds a Vault token, a JWT, or one of
// the given tokens. The session's Vault token is unknown to the test, so
// any token shape counts.
func assertNoCredential(t *testing.T, where, text string, known ...string) {
	t.Helper()
	if m := tokenShape.FindString(text); m != "" {
		t.Fatalf("%s holds a credential-shaped string %.12s…", where, m)
	}
	for _, k := range known {
		if k != "" && strings.Contains(text, k) {
			t.Fatalf("%s holds a known token", where)
		}
	}
}

// rootAPI is a vault/api client with the root token: test setup only.
func rootAPI(t *testing.T) *vaultapi.Client {
	t.Helper()
	c, err := testEnv.VaultClient(testEnv.VaultRootToken())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
