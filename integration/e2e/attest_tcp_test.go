package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

// tcpClientFrom dials the broker's TCP port from a chosen loopback source
// address, the way a pod's traffic arrives from its pod IP. The whole of
// 127.0.0.0/8 is on lo, so no network namespace is needed.
func tcpClientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
	}
}

// podWithIPToken creates a Running pod with a pod IP on node and mints its
// bound token.
func podWithIPToken(t *testing.T, ns, sa, node, ip string) string {
	t.Helper()
	ctx := context.Background()
	pod, err := testEnv.CreatePodWithIP(ctx, ns, fmt.Sprintf("ip-%d", time.Now().UnixNano()), sa, node, ip)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := testEnv.MintToken(ctx, ns, sa, pod, env.Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestStrictAttestationOverTCP: on the node-local port the remote address
// must be the token's pod's IP, as the real apiserver reports it.
func TestStrictAttestationOverTCP(t *testing.T) {
	b := startBroker(t, "strict")
	if _, err := rootKV(t).Put(context.Background(), "tokenizer/crypto-gen/tcp-attested", map[string]any{"v": "ok"}); err != nil {
		t.Fatal(err)
	}
	url := "http://" + b.TCPAddr + "/api/v1/read/kv/tokenizer/crypto-gen/tcp-attested"
	const podIP, otherIP = "127.0.0.7", "127.0.0.8"
	tok := podWithIPToken(t, env.CryptoGenNamespace, env.CryptoGenSA, nodeName, podIP)
	otherTok := podWithIPToken(t, env.CryptoGenNamespace, env.CryptoGenSA, nodeName, otherIP)

	// Each pod is created, then its status (the IP) is written: the broker's
	// index may see the two events a moment apart, so wait until both pods
	// are served from their own IPs before asserting refusals.
	waitServed(t, podIP, url, tok)
	waitServed(t, otherIP, url, otherTok)

	cases := []struct {
		name, from, token string
		status            int
		code              string
	}{
		{"the token's pod IP is served", podIP, tok, 200, ""},
		{"the same token from another pod's IP is refused", otherIP, tok, 403, "ip_mismatch"},
		{"the same token from an address no pod has is refused", "127.0.0.9", tok, 403, "ip_mismatch"},
		{"another pod's token from this pod's IP is refused", podIP, otherTok, 403, "ip_mismatch"},
		{"the other pod from its own IP is served", otherIP, otherTok, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := brokerproc.Do(tcpClientFrom(c.from), "GET", url, c.token, "")
			if err != nil || r.Status != c.status || r.Code() != c.code {
				t.Fatalf("got %v %v, want %d %q", r, err, c.status, c.code)
			}
		})
	}
}

// waitServed polls (at most 10 s) until token is served from src.
func waitServed(t *testing.T, src, url, token string) {
	t.Helper()
	var r brokerproc.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r, err = brokerproc.Do(tcpClientFrom(src), "GET", url, token, ""); err == nil && r.Status == 200 {
			return
		}
	}
	t.Fatalf("from %s, the pod's own IP: got %v %v, want 200", src, r, err)
}
