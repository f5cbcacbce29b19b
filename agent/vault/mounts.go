package vault

import (
	"context"
	"fmt"
	"sync"
)

// MountKind is how a secrets engine mount stores data.
type MountKind int

const (
	KVv1 MountKind = 1
	KVv2 MountKind = 2
)

// mountCache remembers each mount's KV version. A mount's type is a fact
// about Vault, not about the caller, so one caller's answer serves all;
// only successful answers are cached.
type mountCache struct {
	mu    sync.RWMutex
	kinds map[string]MountKind
}

func newMountCache() *mountCache { return &mountCache{kinds: map[string]MountKind{}} }

// MountKind detects KV v1 or v2 with the caller's token through
// sys/internal/ui/mounts, which any token with access to the mount may read.
func (c *Client) MountKind(ctx context.Context, mount string, call Call) (MountKind, bool, error) {
	c.mounts.mu.RLock()
	k, ok := c.mounts.kinds[mount]
	c.mounts.mu.RUnlock()
	if ok {
		return k, true, nil
	}
	s, err := c.with(call).Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+mount)
	if err != nil {
		return 0, false, fmt.Errorf("detect mount %q: %w", mount, classify(err))
	}
	if s == nil || s.Data == nil {
		return 0, false, fmt.Errorf("detect mount %q: %w", mount, &Error{Kind: ErrNotFound, Reason: "no such mount"})
	}
	if t, _ := s.Data["type"].(string); t != "kv" && t != "generic" {
		return 0, false, fmt.Errorf("detect mount %q: %w", mount, &Error{Kind: ErrUnsupported, Reason: "mount is not a KV engine"})
	}
	k = KVv1
	if opts, _ := s.Data["options"].(map[string]any); opts != nil {
		if v, _ := opts["version"].(string); v == "2" {
			k = KVv2
		}
	}
	c.mounts.mu.Lock()
	c.mounts.kinds[mount] = k
	c.mounts.mu.Unlock()
	return k, false, nil
}

// ForgetMount drops a cached kind, e.g. after Vault said the path is gone.
func (c *Client) ForgetMount(mount string) {
	c.mounts.mu.Lock()
	delete(c.mounts.kinds, mount)
	c.mounts.mu.Unlock()
}
