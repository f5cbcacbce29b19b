package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// opFunc makes one request as worker w and reports whether it succeeded.
type opFunc func(ctx context.Context, w int) error

// unixClient dials socket for every connection; conns bounds idle ones.
func unixClient(socket string, conns int) *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 5 * time.Minute,
	}}
}

// tcpClient is a keep-alive client over loopback TCP (HTTPS with cfg).
func tcpClient(conns int, cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		Proxy:           nil,
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig: cfg, MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 5 * time.Minute,
	}}
}

// getOp is a GET of url with one auth header; the body is read to the end.
func getOp(c *http.Client, url, header, value string) opFunc {
	return func(ctx context.Context, _ int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if header != "" {
			req.Header.Set(header, value)
		}
		_, err = send(c, req)
		return err
	}
}

// send does req and returns the body of a 2xx answer, or an error naming
// the status and the start of the body.
func send(c *http.Client, req *http.Request) ([]byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		if len(body) > 200 {
			body = body[:200]
		}
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return body, nil
}

// sample is what one or more runs of an op measured.
type sample struct {
	lat      []time.Duration
	errs     int
	firstErr string
	wall     time.Duration // time the workers were running
}

func (s *sample) merge(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.errs += o.errs
	s.wall += o.wall
	if s.firstErr == "" {
		s.firstErr = o.firstErr
	}
}

// runFor runs op from conc workers until d has passed.
func runFor(ctx context.Context, conc int, d time.Duration, op opFunc) sample {
	deadline := time.Now().Add(d)
	return runWorkers(ctx, conc, func(int) bool { return time.Now().Before(deadline) }, op)
}

// runCount runs op n times in total from conc workers.
func runCount(ctx context.Context, conc, n int, op opFunc) sample {
	var mu sync.Mutex
	left := n
	return runWorkers(ctx, conc, func(int) bool {
		mu.Lock()
		defer mu.Unlock()
		left--
		return left >= 0
	}, op)
}

func runWorkers(ctx context.Context, conc int, more func(w int) bool, op opFunc) sample {
	lats := make([][]time.Duration, conc)
	errs := make([]int, conc)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			l := make([]time.Duration, 0, 1024)
			for more(w) && ctx.Err() == nil {
				t := time.Now()
				err := op(ctx, w)
				el := time.Since(t)
				if err != nil {
					errs[w]++
					once.Do(func() { firstErr = err })
					continue
				}
				l = append(l, el)
			}
			lats[w] = l
		})
	}
	wg.Wait()
	s := sample{wall: time.Since(start)}
	for w := range conc {
		s.lat = append(s.lat, lats[w]...)
		s.errs += errs[w]
	}
	if firstErr != nil {
		s.firstErr = firstErr.Error()
	}
	return s
}

// Stats summarise a sample; latencies in microseconds.
type Stats struct {
	N        int     `json:"n"`
	Errors   int     `json:"errors"`
	P50      float64 `json:"p50_us"`
	P90      float64 `json:"p90_us"`
	P99      float64 `json:"p99_us"`
	Max      float64 `json:"max_us"`
	Mean     float64 `json:"mean_us"`
	RPS      float64 `json:"rps"`
	FirstErr string  `json:"first_error,omitempty"`
}

func (s sample) stats() Stats {
	st := Stats{N: len(s.lat), Errors: s.errs, FirstErr: s.firstErr}
	if len(s.lat) == 0 {
		return st
	}
	l := slices.Clone(s.lat)
	slices.Sort(l)
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	st.P50, st.P90, st.P99 = us(pct(l, 50)), us(pct(l, 90)), us(pct(l, 99))
	st.Max, st.Mean = us(l[len(l)-1]), us(sum/time.Duration(len(l)))
	if s.wall > 0 {
		st.RPS = float64(len(l)) / s.wall.Seconds()
	}
	return st
}

// pct is the nearest-rank percentile of sorted l.
func pct(l []time.Duration, p float64) time.Duration {
	i := int(float64(len(l))*p/100+0.5) - 1
	return l[max(0, min(i, len(l)-1))]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
