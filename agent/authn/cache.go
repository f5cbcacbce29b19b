package authn

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

type positiveEntry struct {
	id    Identity
	until time.Time
}

type negativeEntry struct {
	err   error
	until time.Time
}

// cache holds both LRUs and an index from pod UID to cache keys, all under
// one mutex: simplelru calls the eviction callback synchronously, so the
// index can never disagree with the LRU.
type cache struct {
	mu     sync.Mutex
	pos    *simplelru.LRU[string, positiveEntry]
	neg    *simplelru.LRU[string, negativeEntry]
	byPod  map[string]map[string]struct{}
	forget uint64 // bumped by forgetPod; see putPositive
}

func newCache(size, negSize int) (*cache, error) {
	c := &cache{byPod: map[string]map[string]struct{}{}}
	var err error
	if c.pos, err = simplelru.NewLRU(size, c.unindex); err != nil {
		return nil, err
	}
	if c.neg, err = simplelru.NewLRU[string, negativeEntry](negSize, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// unindex is the positive LRU's eviction callback; c.mu is held.
func (c *cache) unindex(key string, e positiveEntry) {
	keys := c.byPod[e.id.PodUID]
	delete(keys, key)
	if len(keys) == 0 {
		delete(c.byPod, e.id.PodUID)
	}
}

func (c *cache) positive(key string, now time.Time) (Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.pos.Get(key)
	if !ok {
		return Identity{}, false
	}
	if !now.Before(e.until) {
		c.pos.Remove(key)
		return Identity{}, false
	}
	return e.id, true
}

func (c *cache) negative(key string, now time.Time) (error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.neg.Get(key)
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		c.neg.Remove(key)
		return nil, false
	}
	return e.err, true
}

// epoch is read before a review starts and handed to putPositive.
func (c *cache) epoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.forget
}

// putPositive stores an identity unless a pod was forgotten while the
// review was in flight: that answer may predate the pod's deletion, and
// the cost of not caching it is one more review.
func (c *cache) putPositive(key string, id Identity, until time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.forget {
		return
	}
	c.pos.Add(key, positiveEntry{id: id, until: until})
	keys := c.byPod[id.PodUID]
	if keys == nil {
		keys = map[string]struct{}{}
		c.byPod[id.PodUID] = keys
	}
	keys[key] = struct{}{}
	c.neg.Remove(key)
}

func (c *cache) putNegative(key string, err error, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.neg.Add(key, negativeEntry{err: err, until: until})
}

func (c *cache) forgetPod(podUID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget++
	for key := range c.byPod[podUID] {
		c.pos.Remove(key) // calls unindex
	}
	delete(c.byPod, podUID)
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos.Len()
}
