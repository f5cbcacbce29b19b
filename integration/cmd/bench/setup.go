package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

const (
	nodeName   = "node-a"
	secretPath = "tokenizer/crypto-gen/bench" // under kv/, readable by tokenizer-cg-role
	tokenTTL   = 2 * time.Hour
)

// brokerArgs are the settings every benchmarked broker runs with; they are
// printed in the report header. No per-pod rate limit so that the limiter
// is not what is measured; info logging as in production. Attestation is
// "node" (set in startBroker) except for the strict contender: this one
// process plays every pod, so it can sit in only one pod's cgroup.
var brokerArgs = []string{"--rate-limit=0", "--log-level=info"}

// pod is one bench pod and its bound projected token (audience
// secrets-broker), minted before any clock starts.
type pod struct {
	Name, UID, JWT string
}

// rig holds the real servers, the contenders and the pod pool.
type rig struct {
	cfg        config
	env        *env.Env
	dir        string
	brokerBin  string
	kubeconfig string
	runID      string

	plain  *brokerproc.Broker // Unix socket and plain-HTTP TCP port
	tls    *brokerproc.Broker // HTTPS TCP port
	strict *brokerproc.Broker // Unix socket, strict attestation (production default)
	tlsCA  *tlsFiles
	proxy  *vaultProxy

	directPod, brokerPod, proxyPod pod
	vaultToken                     string // the direct contender's token, from a kubernetes login
	pool                           []pod  // for amortization, storm and growth
}

func setup(ctx context.Context, cfg config) (_ *rig, err error) {
	r := &rig{cfg: cfg, runID: fmt.Sprintf("%x", time.Now().Unix()&0xfffff)}
	if r.dir, err = os.MkdirTemp("", "sb-bench-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	t := time.Now()
	if r.brokerBin, err = brokerproc.Build(ctx, r.dir); err != nil {
		return nil, err
	}
	logf("setup: broker built in %s", time.Since(t).Round(time.Millisecond))
	if r.env, err = env.Start(ctx, env.Options{Logf: func(f string, a ...any) { logf("env: "+f, a...) }}); err != nil {
		return nil, err
	}
	if r.kubeconfig, err = r.env.BrokerKubeconfig(ctx); err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"pods and tokens", r.makePods},
		{"seed secret and direct login", r.seedAndLogin},
		{"brokers", r.startContenderBrokers},
		{"vault proxy", r.startProxy},
	}
	for _, s := range steps {
		t := time.Now()
		if err := s.fn(ctx); err != nil {
			return nil, fmt.Errorf("setup %s: %w", s.name, err)
		}
		logf("setup: %s in %s", s.name, time.Since(t).Round(time.Millisecond))
	}
	return r, nil
}

func (r *rig) close() {
	for _, b := range []*brokerproc.Broker{r.plain, r.tls, r.strict} {
		if b != nil {
			_ = b.Stop()
		}
	}
	if r.proxy != nil {
		r.proxy.stop()
	}
	if r.env != nil {
		r.env.Stop()
	}
	_ = os.RemoveAll(r.dir)
}

// poolSize is how many pods the phases after the warm reads need at most.
func (r *rig) poolSize() int {
	n := r.cfg.StormPods
	for _, g := range r.cfg.Growth {
		n = max(n, g)
	}
	return max(n, r.cfg.AmortPods)
}

// makePods creates the pool in the apiserver (they stay Pending: no
// kubelet) and mints one bound token each, 16 at a time.
func (r *rig) makePods(ctx context.Context) error {
	n := r.poolSize() + 3
	pods := make([]pod, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				p, err := r.newPod(ctx, fmt.Sprintf("bench-%s-%04d", r.runID, i))
				if err != nil {
					errs <- err
					return
				}
				pods[i] = p
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	r.directPod, r.brokerPod, r.proxyPod, r.pool = pods[0], pods[1], pods[2], pods[3:]
	return nil
}

func (r *rig) newPod(ctx context.Context, name string) (pod, error) {
	p, err := r.env.CreatePod(ctx, env.CryptoGenNamespace, name, env.CryptoGenSA, nodeName)
	if err != nil {
		return pod{}, err
	}
	jwt, err := r.env.MintToken(ctx, env.CryptoGenNamespace, env.CryptoGenSA, p, env.Audience, tokenTTL)
	if err != nil {
		return pod{}, err
	}
	return pod{Name: name, UID: string(p.UID), JWT: jwt}, nil
}

// seedAndLogin writes the secret every read fetches (root token: setup
// only) and logs the direct contender in the way the broker would, with a
// pod's own token, so that it reads with a realistic role token.
func (r *rig) seedAndLogin(ctx context.Context) error {
	root, err := r.env.VaultClient(r.env.VaultRootToken())
	if err != nil {
		return err
	}
	data := map[string]any{"api_key": strings.Repeat("k", 40), "dsn": "postgres://svc@db.internal:5432/app"}
	if _, err := root.KVv2("kv").Put(ctx, secretPath, data); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	c, err := r.env.VaultClient("")
	if err != nil {
		return err
	}
	s, err := c.Logical().WriteWithContext(ctx, "auth/kubernetes/login",
		map[string]any{"role": env.CryptoGenRole, "jwt": r.directPod.JWT})
	if err != nil {
		return fmt.Errorf("direct login: %w", err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return fmt.Errorf("direct login: no token in the answer")
	}
	r.vaultToken = s.Auth.ClientToken
	return nil
}

// startBroker runs one broker process with brokerArgs plus extra.
func (r *rig) startBroker(ctx context.Context, name string, o brokerproc.Options) (*brokerproc.Broker, error) {
	o.Binary, o.Dir = r.brokerBin, filepath.Join(r.dir, name)
	o.VaultAddr, o.Kubeconfig, o.NodeName = r.env.VaultAddr(), r.kubeconfig, nodeName
	if o.AttestationMode == "" {
		o.AttestationMode = "node"
	}
	o.Policy = env.ADRPolicy
	o.ExtraArgs = append(append([]string{}, brokerArgs...), o.ExtraArgs...)
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	b, err := brokerproc.Start(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w", name, err)
	}
	return b, nil
}

func (r *rig) startContenderBrokers(ctx context.Context) error {
	var err error
	if r.plain, err = r.startBroker(ctx, "plain", brokerproc.Options{}); err != nil {
		return err
	}
	if r.tlsCA, err = writeSelfSigned(filepath.Join(r.dir, "tls")); err != nil {
		return err
	}
	if r.tls, err = r.startBroker(ctx, "tls", brokerproc.Options{TLSCert: r.tlsCA.Cert, TLSKey: r.tlsCA.Key}); err != nil {
		return err
	}
	r.strict, err = r.startBroker(ctx, "strict", brokerproc.Options{AttestationMode: "strict"})
	return err
}

// settings lists what the numbers depend on, for the report header.
func (r *rig) settings() []string {
	return []string{
		"broker: real binary, `--attestation-mode=node` except the \"strict\" contender (for it the bench process is moved into a cgroup laid out like the pod's container, " +
			"so strict attestation's /proc/<pid>/cgroup check runs on every request), " +
			"`--rate-limit=0` (unlimited), `--log-level=info`, audit stream to a file, other flags default " +
			"(TokenReview cache 60 s, session cache 4096)",
		"Vault: dev mode (in-memory storage) with the file audit device on (every contender pays it); KV v2 at kv/; roles from deploy/vault/setup.sh (token_ttl 1h)",
		"Vault Proxy: `vault proxy` from the same Vault binary, kubernetes auto-auth with a bound pod token, `api_proxy { use_auto_auth_token = true }`, unix listener, no cache",
		"clients: Go net/http with keep-alive, one client per contender, identical request loop; HTTPS: ECDSA P-256 self-signed, TLS 1.3, HTTP/1.1 like the others",
		fmt.Sprintf("pods: %d Pending pods on the broker's node (the growth phase needs them), far above a real node's ~110; "+
			"every broker's pod informer caches them all, which is part of its idle RSS", len(r.pool)+3),
		fmt.Sprintf("warm reads: %d interleaved rounds × %s per contender per concurrency level, contender order rotated each round", r.cfg.Rounds, r.cfg.Slice),
		"secret: one KV v2 secret of two fields (~80 bytes of data)",
	}
}
