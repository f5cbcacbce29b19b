package reliability

import (
	"context"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
)

// TestLoad1000Connections keeps 1,000 connections busy for 5s (reads by
// four pods, per-pod rate limit off): no request fails, and goroutines and
// open fds return to their baseline afterwards; RSS stays bounded. A 2s
// warm-up first fills the broker's pooled keep-alive connections to Vault
// (bounded at 256 idle, closed after 90s idle), which belong to the
// baseline, not to the load.
func TestLoad1000Connections(t *testing.T) {
	const conns, dur = 1000, 5 * time.Second
	b := startBroker(t, brokerOpts{extra: []string{"--log-level=info"}})
	seed(t, "tokenizer/crypto-gen/rel-load/read")
	url := api + "/read/kv/tokenizer/crypto-gen/rel-load/read"
	var toks []string
	warm := keepAlive(b)()
	for range 4 {
		tok, _ := cgPod(t)
		mustDo(t, warm, "GET", url, tok, "", 200)
		toks = append(toks, tok)
	}
	warm.CloseIdleConnections()
	h := hammer{socket: b.SocketPath, conns: conns, url: url, toks: toks}
	h.run(2*time.Second, nil)
	time.Sleep(time.Second)
	base := sample(t, b)

	peak := base
	st := h.run(dur, func() { peak = peak.max(sample(t, b)) })
	var after procSample
	settled, back := poll(10*time.Second, 250*time.Millisecond, func() bool {
		after = sample(t, b)
		// Margins: the pooled Vault connections (2 goroutines, 1 fd each)
		// vary by a few between samples.
		return after.goroutines <= base.goroutines+40 && after.fds <= base.fds+20
	})
	peak = peak.max(after)
	if st.failed != 0 {
		t.Errorf("%d of %d requests failed; first: %v", st.failed, st.failed+st.ok, st.firstErr)
	}
	if !back {
		t.Errorf("not back to baseline 10s after the load: goroutines %v → %v, fds %v → %v", base.goroutines, after.goroutines, base.fds, after.fds)
	}
	if peak.rssMiB > 512 {
		t.Errorf("RSS peaked at %.0f MiB, want under 512", peak.rssMiB)
	}
	t.Logf("FIGURE load conns=%d duration_s=%.0f requests=%d errors=%d rps=%.0f p50_ms=%d p99_ms=%d goroutines_base=%.0f goroutines_peak=%.0f goroutines_after=%.0f fds_base=%.0f fds_peak=%.0f fds_after=%.0f rss_base_mib=%.0f rss_peak_mib=%.0f rss_after_mib=%.0f settled_ms=%d",
		conns, dur.Seconds(), st.ok+st.failed, st.failed, float64(st.ok)/dur.Seconds(), st.pct(0.5), st.pct(0.99),
		base.goroutines, peak.goroutines, after.goroutines, base.fds, peak.fds, after.fds, base.rssMiB, peak.rssMiB, after.rssMiB, settled.Milliseconds())
}

// hammer keeps conns keep-alive connections busy with reads.
type hammer struct {
	socket string
	conns  int
	url    string
	toks   []string
}

type hammerStats struct {
	ok, failed int64
	firstErr   any
	lat        []time.Duration
}

func (s hammerStats) pct(q float64) int64 {
	if len(s.lat) == 0 {
		return -1
	}
	return s.lat[int(q*float64(len(s.lat)-1))].Milliseconds()
}

// run loads for dur, calling tick once a second; it closes its connections
// before returning.
func (h hammer) run(dur time.Duration, tick func()) hammerStats {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", h.socket)
		},
		MaxIdleConnsPerHost: h.conns,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var st hammerStats
	var wg sync.WaitGroup
	for i := range h.conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				s := time.Now()
				r, err := brokerproc.Do(client, "GET", h.url, h.toks[i%len(h.toks)], "")
				if err == nil && r.Status == 200 {
					ok.Add(1)
					mu.Lock()
					st.lat = append(st.lat, time.Since(s))
					mu.Unlock()
					continue
				}
				if ctx.Err() != nil && err != nil {
					return // the bound hit mid-request: not a broker failure
				}
				failed.Add(1)
				mu.Lock()
				if st.firstErr == nil {
					st.firstErr = err
					if err == nil {
						canaries.addResponse(r)
						st.firstErr = r.String()
					}
				}
				mu.Unlock()
			}
		})
	}
	for ctx.Err() == nil && tick != nil {
		time.Sleep(time.Second)
		tick()
	}
	wg.Wait()
	st.ok, st.failed = ok.Load(), failed.Load()
	sort.Slice(st.lat, func(i, j int) bool { return st.lat[i] < st.lat[j] })
	return st
}

type procSample struct{ goroutines, fds, rssMiB float64 }

func sample(t *testing.T, b *brokerproc.Broker) procSample {
	t.Helper()
	m, err := b.Metrics()
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	return procSample{
		goroutines: metric(m, "go_goroutines"),
		fds:        metric(m, "process_open_fds"),
		rssMiB:     metric(m, "process_resident_memory_bytes") / (1 << 20),
	}
}

func (s procSample) max(o procSample) procSample {
	return procSample{max(s.goroutines, o.goroutines), max(s.fds, o.fds), max(s.rssMiB, o.rssMiB)}
}
