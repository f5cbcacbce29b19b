package reliability

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

const api = "http://broker/api/v1"

// brokerOpts adjusts one broker process.
type brokerOpts struct {
	socket string // "" = a fresh temp path
	dir    string // "" = workDir/<test name>
	policy string // "" = adrPolicy
	extra  []string
}

var brokerSeq atomic.Int64

// startBroker runs a broker without a rate limit, in attestation mode
// "node" (the test process
// cannot sit in many pods' cgroups at once; strict mode is covered by the
// e2e package) and stops it at cleanup after saving its /metrics for the
// canary scan.
func startBroker(t *testing.T, o brokerOpts) *brokerproc.Broker {
	t.Helper()
	b, err := launchBroker(t, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopBroker(t, b) })
	return b
}

func launchBroker(t *testing.T, o brokerOpts) (*brokerproc.Broker, error) {
	if o.dir == "" {
		o.dir = filepath.Join(workDir, fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), brokerSeq.Add(1)))
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return nil, err
	}
	if o.policy == "" {
		o.policy = adrPolicy
	}
	// The per-pod rate limit (50/s by default) would answer these loads
	// with 429s; it is a separate control. Tests may pass their own.
	o.extra = append([]string{"--rate-limit=0"}, o.extra...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := brokerproc.Start(ctx, brokerproc.Options{
		Binary: brokerBin, Dir: o.dir, SocketPath: o.socket, VaultAddr: testEnv.VaultAddr(), Kubeconfig: kubeconfig,
		NodeName: nodeName, AttestationMode: "node", Policy: o.policy, ExtraArgs: o.extra,
	})
	if err != nil {
		return nil, err
	}
	canaries.addBroker(b)
	return b, nil
}

// stopBroker saves /metrics for the canary scan, then stops the broker if
// it still runs.
func stopBroker(t *testing.T, b *brokerproc.Broker) {
	select {
	case <-b.Done():
		return
	default:
	}
	if m, err := b.Metrics(); err == nil {
		canaries.addText("metrics of "+b.AdminAddr, m)
	}
	if err := b.Stop(); err != nil {
		t.Errorf("broker stop: %v", err)
	}
	if t.Failed() {
		t.Logf("broker log tail:\n%s", b.LogTail(40))
	}
}

// newPod creates a pod of ns/sa on node and mints its bound token, which is
// registered as a canary: it must never show up in any output.
func newPod(t *testing.T, ns, sa, node string) (string, *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	name := "rel-" + randHex(6)
	pod, err := testEnv.CreatePod(ctx, ns, name, sa, node)
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, ns, sa, pod, env.Audience)
	return tok, pod
}

// mint mints a token (bound to pod when non-nil) and registers it as a canary.
func mint(t *testing.T, ns, sa string, pod *corev1.Pod, audience string) string {
	t.Helper()
	tok, err := testEnv.MintToken(context.Background(), ns, sa, pod, audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	canaries.addJWT(tok)
	return tok
}

func cgPod(t *testing.T) (string, *corev1.Pod) {
	return newPod(t, env.CryptoGenNamespace, env.CryptoGenSA, nodeName)
}

// do sends one request and records the response for the leak scan.
func do(c *http.Client, method, url, tok, body string) (brokerproc.Response, error) {
	r, err := brokerproc.Do(c, method, url, tok, body)
	if err == nil {
		canaries.addResponse(r)
	}
	return r, err
}

// mustDo is do with an expected status.
func mustDo(t *testing.T, c *http.Client, method, url, tok, body string, want int) brokerproc.Response {
	t.Helper()
	r, err := do(c, method, url, tok, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if r.Status != want {
		t.Fatalf("%s %s: got %s, want %d", method, url, r, want)
	}
	return r
}

// rootKV is Vault's KV v2 mount "kv" with the root token: test setup and
// verification only, never given to the broker.
func rootKV(t *testing.T) *vaultapi.KVv2 {
	t.Helper()
	c, err := testEnv.VaultClient(testEnv.VaultRootToken())
	if err != nil {
		t.Fatal(err)
	}
	return c.KVv2("kv")
}

// seed writes a secret whose value is the canary, with the root token.
func seed(t *testing.T, path string) {
	t.Helper()
	if _, err := rootKV(t).Put(context.Background(), path, map[string]any{"v": canaryValue("seed")}); err != nil {
		t.Fatal(err)
	}
}

// poll calls f every interval until it returns true or timeout passes; it
// returns the time it took and whether f succeeded.
func poll(timeout, interval time.Duration, f func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if f() {
			return time.Since(start), true
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(interval)
	}
}

func count(t *testing.T, f func() (int, error)) int {
	t.Helper()
	n, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// lastAccessor is the vault_accessor of the broker's newest audit line that
// has one.
func lastAccessor(t *testing.T, b *brokerproc.Broker) string {
	t.Helper()
	lines := b.AuditLines()
	for i := len(lines) - 1; i >= 0; i-- {
		if a := jsonField(lines[i], "vault_accessor"); a != "" {
			return a
		}
	}
	t.Fatal("no audit line carries vault_accessor")
	return ""
}

// jsonField extracts a top-level string field without a full decode.
func jsonField(line, field string) string {
	key := `"` + field + `":"`
	i := strings.Index(line, key)
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// metric returns the value of the first sample of name whose label set
// contains every labels substring (e.g. `result="error"`), or -1.
func metric(text, name string, labels ...string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			return v
		}
	}
	return -1
}

func brokerMetric(t *testing.T, b *brokerproc.Broker, name string, labels ...string) float64 {
	t.Helper()
	m, err := b.Metrics()
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	return metric(m, name, labels...)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// canaryRegistry collects what must never leak (JWTs, the canary secret
// value, Vault tokens) and what must be scanned (broker logs and audit
// files, error bodies, /metrics).
type canaryRegistry struct {
	mu       sync.Mutex
	jwts     []string
	brokers  []*brokerproc.Broker
	texts    map[string]string // name -> scanned text
	errBody  []string
	hvsLeaks []string
	nResp    int
}

var canaries = &canaryRegistry{texts: map[string]string{}}

// canaryPrefix marks every secret value the suite writes or seeds.
const canaryPrefix = "CANARY-SECRET-"

func canaryValue(tag string) string { return canaryPrefix + tag + "-" + randHex(4) }

func (c *canaryRegistry) addJWT(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jwts = append(c.jwts, tok)
}

func (c *canaryRegistry) addBroker(b *brokerproc.Broker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.brokers = append(c.brokers, b)
}

func (c *canaryRegistry) addText(name, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.texts[name] += text
}

func (c *canaryRegistry) addResponse(r brokerproc.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nResp++
	raw := string(r.Body) + fmt.Sprint(r.Header)
	if strings.Contains(raw, "hvs.") || strings.Contains(raw, "hvb.") {
		c.hvsLeaks = append(c.hvsLeaks, fmt.Sprintf("%d %.200s", r.Status, raw))
	}
	if r.Status >= 300 && len(c.errBody) < 20000 {
		c.errBody = append(c.errBody, string(r.Body))
	}
}
