package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"
)

// maxRetryAfter caps how long one Retry-After can make the client wait.
const maxRetryAfter = 30 * time.Second

// retryable reports whether a failed attempt may be repeated. A request
// that never reached the broker (connection refused, socket missing during
// a rollout) is safe to repeat for every call. Anything else is repeated
// only for idempotent calls (reads, lists, deletes of the latest version,
// and writes with check-and-set) and only for 429/502/503/504.
func retryable(err error, idempotent bool) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.Status == 0 { // the broker did not answer (or the token file failed)
		return errors.Is(e, ErrUnavailable) && (idempotent || neverSent(e.cause))
	}
	if !idempotent {
		return false
	}
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// neverSent: the connection could not be opened, so nothing was sent.
func neverSent(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) || errors.Is(err, os.ErrNotExist)
}

// backoff is the wait before attempt n (1-based retry count): full jitter
// over an exponential ceiling, but never less than the broker's Retry-After.
func (c *Client) backoff(n int, err error) time.Duration {
	ceil := c.cfg.BaseBackoff << min(n-1, 16)
	if ceil > c.cfg.MaxBackoff || ceil <= 0 {
		ceil = c.cfg.MaxBackoff
	}
	d := time.Duration(rand.Int64N(int64(ceil) + 1))
	var e *Error
	if errors.As(err, &e) {
		if ra := parseRetryAfter(e.RetryAfter, c.cfg.now()); ra > d {
			// Spread callers that were all told the same Retry-After.
			d = ra + time.Duration(rand.Int64N(int64(ra)/10+1))
		}
	}
	return d
}

// parseRetryAfter accepts delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// sleep waits d, or returns false when ctx ends first or its deadline
// would pass before the wait is over (no point in a retry that cannot run).
func sleep(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
