package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
)

// GrowthRow is the warm read cost with a given number of cached sessions.
type GrowthRow struct {
	Sessions int    `json:"sessions"`
	Stats    Stats  `json:"latency"` // reads cycling over every cached pod
	Memory   Memory `json:"memory"`
	// ReReviews are broker TokenReviews during the measurement: review
	// entries older than the 60 s cache TTL are re-checked on use.
	ReReviews int `json:"tokenreviews_during_measurement"`
}

// growthConc is the read concurrency of the growth measurement.
const growthConc = 8

// growth primes a fresh broker to each session count in turn (one first
// request per new pod, 16 at a time), then measures reads that cycle
// through all cached pods, and the broker's memory.
func (r *rig) growth(ctx context.Context, res *Results) error {
	levels := slices.Sorted(slices.Values(r.cfg.Growth))
	if top := levels[len(levels)-1]; top > len(r.pool) {
		return fmt.Errorf("growth to %d sessions needs %d pods, have %d", top, top, len(r.pool))
	}
	b, err := r.startBroker(ctx, "growth", brokerproc.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = b.Stop() }()
	c := unixClient(b.SocketPath, 16)
	ops := make([]opFunc, len(r.pool))
	for i, p := range r.pool {
		ops[i] = readOp(c, p)
	}
	cached := 0
	for _, n := range levels {
		prime := ops[cached:n]
		var idx atomic.Int64
		s := runCount(ctx, 16, len(prime), func(ctx context.Context, w int) error {
			return prime[idx.Add(1)-1](ctx, w)
		})
		if s.errs > 0 {
			return fmt.Errorf("priming to %d sessions: %d errors, first: %s", n, s.errs, s.firstErr)
		}
		cached = n
		settle()
		row, err := r.growthStep(ctx, b, ops[:n])
		if err != nil {
			return err
		}
		res.Growth = append(res.Growth, row)
		logf("growth %4d sessions: p50 %6.0fµs p99 %6.0fµs %6.0f req/s RSS %.1f MiB heap %.1f MiB (gauge %0.f)",
			n, row.Stats.P50, row.Stats.P99, row.Stats.RPS, row.Memory.RSSMiB, row.Memory.HeapInuseMiB, row.Memory.Sessions)
	}
	return nil
}

func (r *rig) growthStep(ctx context.Context, b *brokerproc.Broker, ops []opFunc) (GrowthRow, error) {
	row := GrowthRow{Sessions: len(ops)}
	k0, err := r.kubeCounts()
	if err != nil {
		return row, err
	}
	// Worker w reads as pods w, w+8, w+16, … so every cached session is used.
	next := make([]int, growthConc)
	for w := range next {
		next[w] = w
	}
	s := runFor(ctx, growthConc, r.cfg.GrowthSlice, func(ctx context.Context, w int) error {
		i := next[w] % len(ops)
		next[w] += growthConc
		return ops[i](ctx, w)
	})
	if s.errs > 0 {
		return row, fmt.Errorf("reads with %d sessions: %d errors, first: %s", len(ops), s.errs, s.firstErr)
	}
	row.Stats = s.stats()
	k1, err := r.kubeCounts()
	if err != nil {
		return row, err
	}
	row.ReReviews = k1.minus(k0).BrokerTokenReviews
	row.Memory, err = memoryOf(b)
	return row, err
}
