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
// open fds return to their baseline afterwards; RSS stays bounded.
func TestLoad1000Connections(t *testing.T) {
	const conns, dur = 1000, 5 * time.Second
	b := startBroker(t, brokerOpts{extra: []string{"--rate-limit=0", "--log-level=info"}})
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
	time.Sleep(500 * time.Millisecond)
	base := sample(t, b)

	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", b.SocketPath)
		},
		MaxIdleConnsPerHost: conns,
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				s := time.Now()
				r, err := brokerproc.Do(client, "GET", url, toks[i%len(toks)], "")
				if ctx.Err() != nil && err != nil {
					return // the bound hit mid-request: not a broker failure
				}
				if err != nil || r.Status != 200 {
					failed.Add(1)
					if err == nil {
						canaries.addResponse(r)
						firstErr.CompareAndSwap(nil, r.String())
					} else {
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				ok.Add(1)
				mu.Lock()
				lat = append(lat, time.Since(s))
				mu.Unlock()
			}
		})
	}
	peak := base
	for ctx.Err() == nil {
		time.Sleep(time.Second)
		peak = peak.max(sample(t, b))
	}
	wg.Wait()
	tr.CloseIdleConnections()

	var after procSample
	settled, back := poll(10*time.Second, 250*time.Millisecond, func() bool {
		after = sample(t, b)
		return after.goroutines <= base.goroutines+10 && after.fds <= base.fds+10
	})
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed; first: %v", n, n+ok.Load(), firstErr.Load())
	}
	if !back {
		t.Errorf("not back to baseline 10s after the load: goroutines %v → %v, fds %v → %v", base.goroutines, after.goroutines, base.fds, after.fds)
	}
	if peak.rssMiB > 512 {
		t.Errorf("RSS peaked at %.0f MiB, want under 512", peak.rssMiB)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) int64 {
		if len(lat) == 0 {
			return -1
		}
		return lat[int(q*float64(len(lat)-1))].Milliseconds()
	}
	t.Logf("FIGURE load conns=%d duration_s=%.0f requests=%d errors=%d rps=%.0f p50_ms=%d p99_ms=%d goroutines_base=%.0f goroutines_peak=%.0f goroutines_after=%.0f fds_base=%.0f fds_peak=%.0f fds_after=%.0f rss_base_mib=%.0f rss_peak_mib=%.0f rss_after_mib=%.0f settled_ms=%d",
		conns, dur.Seconds(), ok.Load()+failed.Load(), failed.Load(), float64(ok.Load())/dur.Seconds(), p(0.5), p(0.99),
		base.goroutines, peak.goroutines, after.goroutines, base.fds, peak.fds, after.fds, base.rssMiB, peak.rssMiB, after.rssMiB, settled.Milliseconds())
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
