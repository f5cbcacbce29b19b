package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

// childEnv makes the test binary act as a pod's process: it waits on stdin
// until the parent has moved it into the pod's cgroup, then calls the
// broker once and prints the outcome as JSON.
const childEnv = "SECRETS_BROKER_E2E_CHILD"

type childResult struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Err    string `json:"err,omitempty"`
}

// runChildIfAsked is called from TestMain before anything else.
func runChildIfAsked() bool {
	if os.Getenv(childEnv) == "" {
		return false
	}
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // parent: "go" once we are in the cgroup
	tok, _ := os.ReadFile(os.Getenv("SB_TOKEN_FILE"))
	r, err := brokerproc.Do(brokerproc.UnixClient(os.Getenv("SB_SOCKET")), "GET", os.Getenv("SB_URL"), string(tok), "")
	res := childResult{Status: r.Status, Code: r.Code()}
	if err != nil {
		res.Err = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return true
}

// callFromPod runs one broker call from a process placed in podUID's
// cgroup (as kubelet and containerd would place a container).
func callFromPod(t *testing.T, b *brokerproc.Broker, podUID, token, url string) childResult {
	t.Helper()
	cg, err := env.CgroupForPod(podUID)
	if err != nil {
		t.Fatalf("cgroup: %v", err)
	}
	defer func() {
		if err := cg.Remove(); err != nil {
			t.Errorf("remove cgroup: %v", err)
		}
	}()
	tokFile := fmt.Sprintf("%s/tok-%d", workDir, time.Now().UnixNano())
	if err := os.WriteFile(tokFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "SB_TOKEN_FILE="+tokFile, "SB_SOCKET="+b.SocketPath, "SB_URL="+url)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cg.Add(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	_, _ = stdin.Write([]byte("go\n"))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v (%s)", err, out.String())
	}
	var res childResult
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("child output %q: %v", out.String(), err)
	}
	return res
}

// TestStrictAttestationWithRealCgroups: the token's pod and the calling
// process must agree, checked through real cgroups and the real apiserver.
func TestStrictAttestationWithRealCgroups(t *testing.T) {
	b := startBroker(t, "strict")
	ctx := context.Background()
	if _, err := rootKV(t).Put(ctx, "tokenizer/crypto-gen/attested", map[string]any{"v": "ok"}); err != nil {
		t.Fatal(err)
	}
	url := "http://broker/api/v1/read/kv/tokenizer/crypto-gen/attested"
	tok, uid, name := podTokenNamed(t, env.CryptoGenNamespace, env.CryptoGenSA, nodeName)
	_, otherUID, _ := podTokenNamed(t, env.CryptoGenNamespace, env.CryptoGenSA, nodeName)
	farTok, _, _ := podTokenNamed(t, env.CryptoGenNamespace, env.CryptoGenSA, "node-b")

	t.Run("the pod's own process is served", func(t *testing.T) {
		if r := callFromPod(t, b, uid, tok, url); r.Status != 200 {
			t.Fatalf("got %+v, want 200", r)
		}
	})
	t.Run("the same token from a process outside any pod is refused", func(t *testing.T) {
		r, err := brokerproc.Do(brokerproc.UnixClient(b.SocketPath), "GET", url, tok, "")
		if err != nil || r.Status != 403 || r.Code() != "peer_not_a_pod" {
			t.Fatalf("got %v %v, want 403 peer_not_a_pod", r, err)
		}
	})
	t.Run("the same token from another pod's process is refused", func(t *testing.T) {
		if r := callFromPod(t, b, otherUID, tok, url); r.Status != 403 || r.Code != "cgroup_mismatch" {
			t.Fatalf("got %+v, want 403 cgroup_mismatch", r)
		}
	})
	t.Run("a pod of another node is refused", func(t *testing.T) {
		if r := callFromPod(t, b, uid, farTok, url); r.Status != 403 || r.Code != "pod_not_on_node" {
			t.Fatalf("got %+v, want 403 pod_not_on_node", r)
		}
	})
	t.Run("a deleted pod is refused and its vault token revoked", func(t *testing.T) {
		revokesBefore := count(t, testEnv.CountVaultRevokes)
		if err := testEnv.DeletePod(ctx, env.CryptoGenNamespace, name); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		var r childResult
		for time.Now().Before(deadline) {
			if r = callFromPod(t, b, uid, tok, url); r.Status != 200 {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if r.Status != 403 && r.Status != 401 {
			t.Fatalf("after delete got %+v, want a refusal", r)
		}
		for time.Now().Before(deadline) && count(t, testEnv.CountVaultRevokes) == revokesBefore {
			time.Sleep(200 * time.Millisecond)
		}
		if got := count(t, testEnv.CountVaultRevokes) - revokesBefore; got < 1 {
			t.Fatalf("vault saw %d revocations, want the deleted pod's token revoked", got)
		}
	})
}

// podTokenNamed is podToken that also returns the pod's name.
func podTokenNamed(t *testing.T, ns, sa, node string) (token, uid, name string) {
	t.Helper()
	ctx := context.Background()
	name = fmt.Sprintf("p-%d", time.Now().UnixNano())
	pod, err := testEnv.CreatePod(ctx, ns, name, sa, node)
	if err != nil {
		t.Fatal(err)
	}
	token, err = testEnv.MintToken(ctx, ns, sa, pod, env.Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return token, string(pod.UID), name
}
