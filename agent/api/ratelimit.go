package api

import (
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// podLimiter is a token bucket per pod UID (golang.org/x/time/rate), in an
// LRU so pods that went away do not accumulate.
type podLimiter struct {
	limit rate.Limit
	burst int
	cache *lru.Cache[string, *rate.Limiter]
}

func newPodLimiter(perSecond float64, burst int) *podLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(perSecond * 2)
	}
	c, _ := lru.New[string, *rate.Limiter](16384) // only errors on size <= 0
	return &podLimiter{limit: rate.Limit(perSecond), burst: burst, cache: c}
}

// Allow reports whether podUID may make one more request now.
func (p *podLimiter) Allow(podUID string) bool {
	if p == nil {
		return true
	}
	l, ok := p.cache.Get(podUID)
	if !ok {
		l = rate.NewLimiter(p.limit, p.burst)
		// Another request may have raced us here; keep the first limiter.
		if prev, loaded, _ := p.cache.PeekOrAdd(podUID, l); loaded {
			l = prev
		}
	}
	return l.Allow()
}
