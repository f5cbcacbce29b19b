package clients

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeVaultVersion exists on the npm registry (checked against the
// registry's package list); pinned so a new release cannot change the test.
const nodeVaultVersion = "0.12.0"

// nodeScript drives node-vault (axios underneath) over the Unix socket via
// an http.Agent whose connections go to the socket; node-vault itself is
// unmodified. It prints one JSON line per step.
const nodeScript = `
const http = require('http');
const net = require('net');
const nodeVault = require('node-vault');
class SocketAgent extends http.Agent {
  createConnection(_opts, _cb) { return net.connect(process.env.SOCK); }
}
const requestOptions = { httpAgent: new SocketAgent() };
const mk = (token, extra) => nodeVault({ apiVersion: 'v1', endpoint: 'http://broker', token, requestOptions, ...extra });
const cg = mk(process.env.CG_TOKEN);
const cgGetList = mk(process.env.CG_TOKEN, { noCustomHTTPVerbs: true });
const dp = mk(process.env.DP_TOKEN);
const steps = [
  ['cg write', () => cg.write('kv/data/tokenizer/crypto-gen/node', { data: { k: 'node-v1' } })],
  ['cg read', () => cg.read('kv/data/tokenizer/crypto-gen/node')],
  ['cg list (LIST)', () => cg.list('kv/metadata/tokenizer/crypto-gen/')],
  ['cg list (GET ?list=1)', () => cgGetList.list('kv/metadata/tokenizer/crypto-gen/')],
  ['dp read own', () => dp.read('kv/data/tokenizer/data-plane/config')],
  ['dp write denied', () => dp.write('kv/data/tokenizer/data-plane/x', { data: { a: 'b' } })],
  ['dp read crypto-gen denied', () => dp.read('kv/data/tokenizer/crypto-gen/node')],
  ['dp read control-plane denied', () => dp.read('kv/data/tokenizer/control-plane/key')],
  ['lookup-self refused', () => cg.tokenLookupSelf()],
  ['token create refused', () => cg.tokenCreate()],
  ['unwrap refused', () => cg.unwrap({ token: 'hvs.x' })],
  ['kubernetes login refused', () => cg.kubernetesLogin({ role: 'tokenizer-cg-role', jwt: process.env.CG_TOKEN })],
];
(async () => {
  for (const [name, fn] of steps) {
    try {
      const res = await fn();
      console.log(JSON.stringify({ name, ok: true, status: 200, body: res }));
    } catch (e) {
      const status = e.response ? e.response.statusCode : 0;
      console.log(JSON.stringify({ name, ok: false, status, body: e.response ? e.response.body : null, message: String(e.message) }));
    }
  }
})();
`

type nodeStep struct {
	Name    string          `json:"name"`
	OK      bool            `json:"ok"`
	Status  int             `json:"status"`
	Body    json.RawMessage `json:"body"`
	Message string          `json:"message"`
}

// installNodeVault installs node-vault from npm into a temp dir. A missing
// npm is a failure, never a skip: .ci/run installs nodejs and npm.
func installNodeVault(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm not found on PATH: install nodejs and npm (apt-get install -y nodejs npm); the node-vault client test cannot run without it")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found on PATH: install nodejs")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", dir, "node-vault@"+nodeVaultVersion)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install node-vault@%s: %v\n%s", nodeVaultVersion, err, out)
	}
	return dir
}

// TestNodeVault: the tenancy matrix and refused routes through node-vault.
func TestNodeVault(t *testing.T) {
	dir := installNodeVault(t)
	script := filepath.Join(dir, "run.js")
	if err := os.WriteFile(script, []byte(nodeScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cg, dp := cgPod(t), dpPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SOCK=" + broker.SocketPath, "CG_TOKEN=" + cg.token, "DP_TOKEN=" + dp.token}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	assertNoCredential(t, "node-vault output", string(out), cg.token, dp.token)
	steps := map[string]nodeStep{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var s nodeStep
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Name != "" {
			steps[s.Name] = s
		}
	}
	want := []struct {
		name   string
		status int
		text   string
	}{
		{"cg write", 200, ""},
		{"cg read", 200, "node-v1"},
		{"cg list (LIST)", 200, "node"},
		{"cg list (GET ?list=1)", 200, "node"},
		{"dp read own", 200, dpValue},
		{"dp write denied", 403, "permission denied"},
		{"dp read crypto-gen denied", 403, ""},
		{"dp read control-plane denied", 403, ""},
		{"lookup-self refused", 403, "route_refused"},
		{"token create refused", 403, "route_refused"},
		{"unwrap refused", 403, "route_refused"},
		{"kubernetes login refused", 403, "route_refused"},
	}
	for _, w := range want {
		t.Run(w.name, func(t *testing.T) {
			s, ok := steps[w.name]
			if !ok {
				t.Fatalf("step missing from node output:\n%s", out)
			}
			if s.Status != w.status || !strings.Contains(string(s.Body)+s.Message, w.text) {
				t.Fatalf("got status %d body %s message %q; want %d containing %q", s.Status, s.Body, s.Message, w.status, w.text)
			}
		})
	}
}
