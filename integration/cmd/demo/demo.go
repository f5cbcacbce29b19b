package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

const demoNode = "demo-node"

const policy = env.ADRPolicy

type demo struct {
	dir    string
	env    *env.Env
	broker *brokerproc.Broker
	tokens map[string]string // tenant → token file
	client *http.Client
	seen   int // audit lines already printed
}

func start(ctx context.Context, dir string) (*demo, error) {
	d := &demo{dir: dir, tokens: map[string]string{}}
	step("starting etcd, kube-apiserver and Vault on loopback (real servers built from Go modules)")
	e, err := env.Start(ctx, env.Options{})
	if err != nil {
		return nil, err
	}
	d.env = e
	fmt.Printf("    kube-apiserver %s\n    vault          %s  (Vault's audit log: %s)\n", e.APIServerURL(), e.VaultAddr(), e.VaultAuditLogPath())
	if err := d.startBroker(ctx); err != nil {
		e.Stop()
		return nil, err
	}
	return d, nil
}

func (d *demo) startBroker(ctx context.Context) error {
	step("building and starting secrets-broker on %s", filepath.Join(d.dir, "broker.sock"))
	bin, err := brokerproc.Build(ctx, d.dir)
	if err != nil {
		return err
	}
	kc, err := d.env.BrokerKubeconfig(ctx)
	if err != nil {
		return err
	}
	// Attestation "node": your shell is not inside a pod's cgroup, so the
	// strict peer-process check would (rightly) refuse your curl. The pod
	// must still exist on this node and match the token.
	d.broker, err = brokerproc.Start(ctx, brokerproc.Options{
		Binary: bin, Dir: d.dir, SocketPath: filepath.Join(d.dir, "broker.sock"),
		VaultAddr: d.env.VaultAddr(), Kubeconfig: kc, NodeName: demoNode,
		AttestationMode: "node", Policy: policy,
	})
	if err != nil {
		return err
	}
	d.client = brokerproc.UnixClient(d.broker.SocketPath)
	fmt.Printf("    socket %s, TCP %s, admin %s (/metrics, /readyz)\n    audit  %s\n", d.broker.SocketPath, d.broker.TCPAddr, d.broker.AdminAddr, d.broker.AuditPath)
	return d.mintTokens(ctx)
}

func (d *demo) mintTokens(ctx context.Context) error {
	step("creating pods on node %q and minting their projected tokens (audience %q)", demoNode, env.Audience)
	for name, t := range map[string][2]string{
		"crypto-gen": {env.CryptoGenNamespace, env.CryptoGenSA},
		"data-plane": {env.DataPlaneNamespace, env.DataPlaneSA},
	} {
		pod, err := d.env.CreatePod(ctx, t[0], name+"-demo", t[1], demoNode)
		if err != nil {
			return err
		}
		tok, err := d.env.MintToken(ctx, t[0], t[1], pod, env.Audience, 24*time.Hour)
		if err != nil {
			return err
		}
		path := filepath.Join(d.dir, name+".token")
		if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
			return err
		}
		d.tokens[name] = path
		fmt.Printf("    %s/%s (pod %s) → %s\n", t[0], t[1], pod.Name, path)
	}
	return nil
}

func (d *demo) walkThrough(ctx context.Context) error {
	step("Vault admin seeds a data-plane secret (root token, setup only; the broker never sees it)")
	cfg := vaultapi.DefaultConfig()
	cfg.Address = d.env.VaultAddr()
	root, err := vaultapi.NewClient(cfg)
	if err != nil {
		return err
	}
	root.SetToken(d.env.VaultRootToken())
	if _, err := root.KVv2("kv").Put(ctx, "tokenizer/data-plane/db", map[string]any{"dsn": "postgres://dp"}); err != nil {
		return err
	}
	steps := []struct{ what, tenant, method, path, body string }{
		{"crypto-gen writes a new key", "crypto-gen", "POST", "write/kv/tokenizer/crypto-gen/new", `{"data":{"key":"generated-by-crypto-gen"}}`},
		{"crypto-gen reads it back", "crypto-gen", "GET", "read/kv/tokenizer/crypto-gen/new", ""},
		{"data-plane reads its own secret", "data-plane", "GET", "read/kv/tokenizer/data-plane/db", ""},
		{"data-plane tries to write (Vault policy refuses)", "data-plane", "POST", "write/kv/tokenizer/data-plane/db", `{"data":{"dsn":"x"}}`},
		{"data-plane tries to read crypto-gen's key (refused)", "data-plane", "GET", "read/kv/tokenizer/crypto-gen/new", ""},
	}
	for _, s := range steps {
		step("%s: %s /api/v1/%s", s.what, s.method, s.path)
		tok, err := os.ReadFile(d.tokens[s.tenant])
		if err != nil {
			return err
		}
		r, err := brokerproc.Do(d.client, s.method, "http://broker/api/v1/"+s.path, string(tok), s.body)
		if err != nil {
			return err
		}
		fmt.Printf("    ← %s\n", r)
		d.printNewAudit()
	}
	return nil
}

func (d *demo) printNewAudit() {
	time.Sleep(20 * time.Millisecond)
	lines := d.broker.AuditLines()
	for _, l := range lines[d.seen:] {
		fmt.Printf("    audit: %s\n", l)
	}
	d.seen = len(lines)
}

func (d *demo) printCommands() {
	step("try it yourself (copy-paste):")
	s := d.broker.SocketPath
	cg, dp := d.tokens["crypto-gen"], d.tokens["data-plane"]
	cmds := []string{
		fmt.Sprintf(`curl -s --unix-socket %s -H "Authorization: Bearer $(cat %s)" -X POST -d '{"data":{"k":"v"}}' http://broker/api/v1/write/kv/tokenizer/crypto-gen/mine`, s, cg),
		fmt.Sprintf(`curl -s --unix-socket %s -H "Authorization: Bearer $(cat %s)" http://broker/api/v1/read/kv/tokenizer/crypto-gen/mine`, s, cg),
		fmt.Sprintf(`curl -s --unix-socket %s -H "Authorization: Bearer $(cat %s)" http://broker/api/v1/list/kv/tokenizer/crypto-gen/`, s, cg),
		fmt.Sprintf(`curl -s --unix-socket %s -H "Authorization: Bearer $(cat %s)" http://broker/api/v1/read/kv/tokenizer/crypto-gen/mine   # data-plane: 403`, s, dp),
		fmt.Sprintf(`curl -s -H "Authorization: Bearer $(cat %s)" http://%s/api/v1/read/kv/tokenizer/data-plane/db   # over TCP`, dp, d.broker.TCPAddr),
		fmt.Sprintf(`curl -s http://%s/metrics | grep secrets_broker_`, d.broker.AdminAddr),
		fmt.Sprintf(`tail -f %s   # the broker's audit stream`, d.broker.AuditPath),
	}
	fmt.Println("    " + strings.Join(cmds, "\n    "))
}

func (d *demo) stop() {
	if d.broker != nil {
		_ = d.broker.Stop()
	}
	d.env.Stop()
}
