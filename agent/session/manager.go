package session

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secrets-broker/secrets-broker/agent/logfield"
	"github.com/secrets-broker/secrets-broker/agent/secret"
	"github.com/secrets-broker/secrets-broker/agent/vault"
)

type entry struct {
	mu         sync.RWMutex
	s          Session
	refreshing atomic.Bool
}

func (e *entry) get() Session {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.s
}

func (e *entry) set(s Session) {
	e.mu.Lock()
	e.s = s
	e.mu.Unlock()
}

// Get returns a valid session for key, logging in with jwt on a miss. A
// session near expiry is still returned while a refresh runs behind it.
func (m *Manager) Get(ctx context.Context, key Key, jwt secret.Token, call vault.Call) (Session, error) {
	now := m.cfg.Clock.Now()
	if e, ok := m.cache.Get(key); ok {
		s := e.get()
		if now.Add(expiryMargin).Before(s.Expires) {
			m.cfg.Metrics.CacheHit("session")
			if now.After(m.refreshAt(s)) && e.refreshing.CompareAndSwap(false, true) {
				go m.refresh(context.WithoutCancel(ctx), key, e, jwt, call)
			}
			return s, nil
		}
	}
	m.cfg.Metrics.CacheMiss("session")
	return m.login(ctx, key, jwt, call)
}

// Do runs fn with the key's session. When Vault denies it, Do asks Vault
// whether the token itself is dead; only then does it log in again, once,
// and retry. A live token that was denied is a policy decision and is
// returned as is, without a login.
func (m *Manager) Do(ctx context.Context, key Key, jwt secret.Token, call vault.Call, fn func(Session) error) error {
	s, err := m.Get(ctx, key, jwt, call)
	if err != nil {
		return err
	}
	err = fn(s)
	if !errors.Is(err, vault.ErrDenied) {
		return err
	}
	call.Token = s.Token
	valid, verr := m.cfg.Vault.TokenValid(ctx, call)
	if verr != nil || valid {
		return err
	}
	m.cfg.Logger.Info().Str(logfield.Accessor, s.Accessor).Msg("vault token no longer valid; logging in again")
	m.invalidate(key, s.Accessor)
	s, lerr := m.Get(ctx, key, jwt, call)
	if lerr != nil {
		return lerr
	}
	return fn(s)
}

func (m *Manager) refreshAt(s Session) time.Time {
	return s.Expires.Add(-time.Duration(float64(s.TTL) * m.cfg.RefreshFraction))
}

// login makes one login per key however many callers miss at once.
func (m *Manager) login(ctx context.Context, key Key, jwt secret.Token, call vault.Call) (Session, error) {
	v, err, _ := m.flight.Do(key.flight(), func() (any, error) {
		// Detach from the first caller's cancellation: others share this login.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.CallTimeout)
		defer cancel()
		l, err := m.cfg.Vault.Login(lctx, key.AuthMount, key.Role, jwt, call)
		if err != nil {
			m.cfg.Metrics.Login(loginOutcome(err))
			return nil, err
		}
		m.cfg.Metrics.Login("ok")
		s := m.sessionFrom(l, call.Pod)
		m.cache.Add(key, &entry{s: s})
		m.cfg.Metrics.Sessions(m.cache.Len())
		return s, nil
	})
	if err != nil {
		return Session{}, err
	}
	return v.(Session), nil
}

func loginOutcome(err error) string {
	if errors.Is(err, vault.ErrDenied) {
		return "denied"
	}
	return "error"
}

func (m *Manager) sessionFrom(l vault.Login, pod string) Session {
	return Session{
		Token: l.Token, Accessor: l.Accessor, Renewable: l.Renewable, TTL: l.TTL,
		Expires: m.cfg.Clock.Now().Add(l.TTL), Pod: pod,
	}
}

// refresh renews a renewable token, or logs in again with the caller's
// current JWT, while callers keep using the still-valid token.
func (m *Manager) refresh(ctx context.Context, key Key, e *entry, jwt secret.Token, call vault.Call) {
	defer e.refreshing.Store(false)
	ctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	old := e.get()
	if old.Renewable {
		call.Token = old.Token
		l, err := m.cfg.Vault.RenewSelf(ctx, call)
		// A renewal capped by max_ttl that buys too little is not worth
		// keeping: fall through to a fresh login.
		if err == nil && l.TTL > time.Duration(float64(old.TTL)*m.cfg.RefreshFraction) {
			s := m.sessionFrom(l, old.Pod)
			s.TTL = old.TTL
			s.Accessor = old.Accessor
			e.set(s)
			return
		}
	}
	call.Token = ""
	if _, err := m.login(ctx, key, jwt, call); err != nil {
		m.cfg.Logger.Warn().Err(err).Str(logfield.PodUID, key.PodUID).Msg("background session refresh failed")
	}
}

// invalidate drops key's session if it still holds the given accessor, so
// a concurrent re-login's fresh token is not thrown away.
func (m *Manager) invalidate(key Key, accessor string) {
	if e, ok := m.cache.Peek(key); ok && e.get().Accessor == accessor {
		m.cache.Remove(key)
		m.cfg.Metrics.Sessions(m.cache.Len())
	}
}

// EvictPod drops every session of a pod that is gone and, when revoke is
// set, revokes their Vault tokens so they cannot outlive the pod.
func (m *Manager) EvictPod(ctx context.Context, podUID string, revoke bool) int {
	var gone []Session
	for _, k := range m.cache.Keys() {
		if k.PodUID != podUID {
			continue
		}
		if e, ok := m.cache.Peek(k); ok {
			gone = append(gone, e.get())
		}
		m.cache.Remove(k)
	}
	m.cfg.Metrics.Sessions(m.cache.Len())
	if revoke {
		for _, s := range gone {
			m.revoke(ctx, s)
		}
	}
	return len(gone)
}

func (m *Manager) revoke(ctx context.Context, s Session) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.CallTimeout)
	defer cancel()
	err := m.cfg.Vault.RevokeSelf(ctx, vault.Call{Token: s.Token, Pod: s.Pod})
	ev := m.cfg.Logger.Info()
	if err != nil {
		ev = m.cfg.Logger.Warn().Err(err)
	}
	ev.Str(logfield.Accessor, s.Accessor).Str(logfield.Pod, s.Pod).Bool("revoked", err == nil).Msg("revoke session of deleted pod")
}
