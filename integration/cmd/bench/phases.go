package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
)

// Amortization: N pods × M requests, 32 callers per pod on first contact.
type Amortization struct {
	Pods          int         `json:"pods"`
	ReqsPerPod    int         `json:"requests_per_pod"`
	CallersPerPod int         `json:"callers_per_pod"`
	PodsAtOnce    int         `json:"pods_at_once"`
	Requests      int         `json:"requests"`
	Vault         vaultCounts `json:"vault"`
	Kube          kubeCounts  `json:"apiserver"`
	Duration      string      `json:"duration"`
	Stats         Stats       `json:"latency"`
}

// amortPodsAtOnce bounds how many pods start together, so this phase is
// about per-pod amortization; the boot storm is the all-at-once case.
const amortPodsAtOnce = 8

// amortization runs on a fresh broker so that every pod is a first contact
// and the counts belong to this phase alone.
func (r *rig) amortization(ctx context.Context, res *Results) error {
	b, err := r.startBroker(ctx, "amort", brokerproc.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = b.Stop() }()
	pods := r.pool[:r.cfg.AmortPods]
	settle()
	vm := r.markVault()
	k0, err := r.kubeCounts()
	if err != nil {
		return err
	}
	t := time.Now()
	var mu sync.Mutex
	var all sample
	sem := make(chan struct{}, amortPodsAtOnce)
	var wg sync.WaitGroup
	for _, p := range pods {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := unixClient(b.SocketPath, r.cfg.AmortCalls)
			s := runCount(ctx, r.cfg.AmortCalls, r.cfg.AmortReqs, readOp(c, p))
			c.CloseIdleConnections()
			mu.Lock()
			all.merge(s)
			mu.Unlock()
		})
	}
	wg.Wait()
	el := time.Since(t)
	all.wall = el
	settle()
	a := Amortization{Pods: len(pods), ReqsPerPod: r.cfg.AmortReqs, CallersPerPod: r.cfg.AmortCalls,
		PodsAtOnce: amortPodsAtOnce, Requests: len(all.lat) + all.errs, Duration: el.Round(time.Millisecond).String(), Stats: all.stats()}
	if a.Vault, err = vm.since(); err != nil {
		return err
	}
	k1, err := r.kubeCounts()
	if err != nil {
		return err
	}
	a.Kube = k1.minus(k0)
	res.Amortization = &a
	logf("amortization: %d pods × %d req: %d logins, %d broker TokenReviews, %d errors", a.Pods, a.ReqsPerPod, a.Vault.Logins, a.Kube.BrokerTokenReviews, a.Stats.Errors)
	if all.errs > 0 {
		return fmt.Errorf("%d errors, first: %s", all.errs, all.firstErr)
	}
	return nil
}

// BootStorm: every pod's first request released at the same instant.
type BootStorm struct {
	Pods        int         `json:"pods"`
	AllServedIn string      `json:"all_served_in"`
	Errors      int         `json:"errors"`
	FirstErr    string      `json:"first_error,omitempty"`
	Stats       Stats       `json:"latency"`
	Vault       vaultCounts `json:"vault"`
	Kube        kubeCounts  `json:"apiserver"`
	MemIdle     Memory      `json:"memory_idle"`
	MemLoaded   Memory      `json:"memory_after"`
	HeapPerSess float64     `json:"heap_per_session_kib"`
	RSSPerSess  float64     `json:"rss_per_session_kib"`
}

// bootStorm starts a fresh broker, reads its idle memory, releases
// StormPods first requests at once (each on its own connection, built
// beforehand), then reads its memory with those sessions and review
// entries live.
func (r *rig) bootStorm(ctx context.Context, res *Results) error {
	b, err := r.startBroker(ctx, "storm", brokerproc.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = b.Stop() }()
	pods := r.pool[:r.cfg.StormPods]
	settle()
	bs := BootStorm{Pods: len(pods)}
	if bs.MemIdle, err = memoryOf(b); err != nil {
		return err
	}
	ops := make([]opFunc, len(pods))
	clients := make([]*http.Client, len(pods))
	for i, p := range pods {
		clients[i] = unixClient(b.SocketPath, 1)
		ops[i] = readOp(clients[i], p)
	}
	vm := r.markVault()
	k0, err := r.kubeCounts()
	if err != nil {
		return err
	}
	lat := make([]time.Duration, len(pods))
	errs := make([]error, len(pods))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range pods {
		wg.Go(func() {
			<-start
			t := time.Now()
			errs[i] = ops[i](ctx, 0)
			lat[i] = time.Since(t)
		})
	}
	time.Sleep(100 * time.Millisecond) // every goroutine parked on start
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	s := sample{wall: el}
	for i, e := range errs {
		if e != nil {
			s.errs++
			if s.firstErr == "" {
				s.firstErr = e.Error()
			}
			continue
		}
		s.lat = append(s.lat, lat[i])
	}
	bs.AllServedIn, bs.Errors, bs.FirstErr, bs.Stats = el.Round(time.Millisecond).String(), s.errs, s.firstErr, s.stats()
	// Memory "with sessions live" should not count 250 idle keep-alive
	// connections (their buffers and goroutines): a pod's SDK would not
	// normally hold one open between reads.
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	settle()
	if bs.Vault, err = vm.since(); err != nil {
		return err
	}
	k1, err := r.kubeCounts()
	if err != nil {
		return err
	}
	bs.Kube = k1.minus(k0)
	if bs.MemLoaded, err = memoryOf(b); err != nil {
		return err
	}
	if n := bs.MemLoaded.Sessions; n > 0 {
		bs.HeapPerSess = (bs.MemLoaded.HeapInuseMiB - bs.MemIdle.HeapInuseMiB) * 1024 / n
		bs.RSSPerSess = (bs.MemLoaded.RSSMiB - bs.MemIdle.RSSMiB) * 1024 / n
	}
	res.BootStorm = &bs
	logf("boot storm: %d pods served in %s, %d errors, %d logins, RSS %.1f → %.1f MiB", bs.Pods, bs.AllServedIn, bs.Errors, bs.Vault.Logins, bs.MemIdle.RSSMiB, bs.MemLoaded.RSSMiB)
	if s.errs > 0 {
		return fmt.Errorf("%d errors, first: %s", s.errs, s.firstErr)
	}
	return nil
}
