package reliability

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestSlowlorisAndIdleConnections: a client dribbling its headers is cut
// by ReadHeaderTimeout (1s here), and 1,000 idle connections neither stop
// a normal caller nor outlive the timeout (open fds return to baseline).
func TestSlowlorisAndIdleConnections(t *testing.T) {
	b := startBroker(t, brokerOpts{extra: []string{"--read-header-timeout=1s"}})
	tok, _ := cgPod(t)
	seed(t, "tokenizer/crypto-gen/rel-slow/read")
	url := api + "/read/kv/tokenizer/crypto-gen/rel-slow/read"
	c := keepAlive(b)()
	mustDo(t, c, "GET", url, tok, "", 200)
	auditBefore := len(b.AuditLines())

	cut := slowloris(t, b.SocketPath)
	if cut > 3*time.Second {
		t.Errorf("slowloris connection cut after %s, want ~1s (ReadHeaderTimeout)", cut)
	}

	fdBase := brokerMetric(t, b, "process_open_fds")
	conns := make([]net.Conn, 0, 1000)
	defer func() {
		for _, cn := range conns {
			_ = cn.Close()
		}
	}()
	for range 1000 {
		cn, err := net.Dial("unix", b.SocketPath)
		if err != nil {
			t.Fatalf("idle connection %d: %v", len(conns), err)
		}
		conns = append(conns, cn)
	}
	fdPeak := brokerMetric(t, b, "process_open_fds")
	start := time.Now()
	mustDo(t, c, "GET", url, tok, "", 200)
	servedWithIdle := time.Since(start)
	assertHealthy(t, b)
	// ReadHeaderTimeout also bounds a connection that never sends a byte.
	closedIn, ok := poll(10*time.Second, 100*time.Millisecond, func() bool {
		return brokerMetric(t, b, "process_open_fds") <= fdBase+5
	})
	fdAfter := brokerMetric(t, b, "process_open_fds")
	if !ok {
		t.Errorf("open fds %v → %v with 1,000 idle connections, still %v after 10s (baseline %v)", fdBase, fdPeak, fdAfter, fdBase)
	}
	if n := len(b.AuditLines()) - auditBefore; n != 1 {
		t.Errorf("%d audit lines for 1 real request among slowloris and idle connections", n)
	}
	mustDo(t, c, "GET", url, tok, "", 200)
	t.Logf("FIGURE slowloris_idle slowloris_cut_ms=%d idle_conns=1000 fds_base=%.0f fds_with_idle=%.0f fds_after=%.0f idle_closed_after_ms=%d read_with_idle_ms=%d",
		cut.Milliseconds(), fdBase, fdPeak, fdAfter, closedIn.Milliseconds(), servedWithIdle.Milliseconds())
}

// slowloris sends a request line and then one header byte every 200ms; it
// returns how long the broker kept the connection open.
func slowloris(t *testing.T, socket string) time.Duration {
	t.Helper()
	cn, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cn.Close() }()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, cn) // returns when the broker closes
		closed <- time.Since(start)
	}()
	if _, err := io.WriteString(cn, "GET /api/v1/read/kv/tokenizer/crypto-gen/x HTTP/1.1\r\nHost: broker\r\n"); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case d := <-closed:
			return d
		case <-deadline:
			t.Fatal("slowloris connection still open after 10s")
		case <-tick.C:
			if _, err := io.WriteString(cn, "X"); err != nil {
				return time.Since(start)
			}
		}
	}
}
