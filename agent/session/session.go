// Package session is the per-node Vault token cache. A session is the Vault
// token a pod obtained by logging in to kubernetes auth with its own JWT;
// it is keyed by (pod UID, auth mount, role) so a pod logs in once and
// reuses the token until it nears expiry, across JWT rotations.
//
// What it defends against: login storms (singleflight per key, so 100
// concurrent first calls make one login), re-login loops on policy denials
// (a 403 triggers a new login only when lookup-self proves the token dead),
// and tokens outliving their pod (EvictPod drops and revokes them). Tokens
// are held only in memory, in redacting secret.Token values.
package session

import (
	"context"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
	"k8s.io/utils/clock"

	"github.com/secrets-broker/secrets-broker/agent/metrics"
	"github.com/secrets-broker/secrets-broker/agent/secret"
	"github.com/secrets-broker/secrets-broker/agent/vault"
)

// Vault is what the cache needs from Vault.
type Vault interface {
	Login(ctx context.Context, mount, role string, jwt secret.Token, call vault.Call) (vault.Login, error)
	RenewSelf(ctx context.Context, call vault.Call) (vault.Login, error)
	TokenValid(ctx context.Context, call vault.Call) (bool, error)
	RevokeSelf(ctx context.Context, call vault.Call) error
}

var _ Vault = (*vault.Client)(nil)

// Key identifies one pod's session for one role.
type Key struct {
	PodUID    string
	AuthMount string
	Role      string
}

func (k Key) flight() string { return k.PodUID + "\x00" + k.AuthMount + "\x00" + k.Role }

// Session is a usable Vault token and its facts.
type Session struct {
	Token     secret.Token
	Accessor  string
	Expires   time.Time
	Renewable bool
	TTL       time.Duration
	Pod       string // "<namespace>/<name>", for Vault's audit on revoke
}

// Config wires a Manager.
type Config struct {
	Vault   Vault
	MaxSize int // default 4096
	// RefreshFraction of the TTL left at which a refresh starts in the
	// background (default 1/3); callers keep using the valid token.
	RefreshFraction float64
	Clock           clock.PassiveClock
	Metrics         *metrics.Metrics
	Logger          zerolog.Logger
	// CallTimeout bounds background refreshes and revocations.
	CallTimeout time.Duration
}

// Manager is the cache. Safe for concurrent use.
type Manager struct {
	cfg    Config
	cache  *lru.Cache[Key, *entry]
	flight singleflight.Group
}

// New builds a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Vault == nil {
		return nil, fmt.Errorf("session: vault is required")
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 4096
	}
	if cfg.RefreshFraction <= 0 || cfg.RefreshFraction >= 1 {
		cfg.RefreshFraction = 1.0 / 3
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	m := &Manager{cfg: cfg}
	c, err := lru.NewWithEvict[Key, *entry](cfg.MaxSize, func(Key, *entry) {
		// Capacity evictions do not revoke: the token simply ages out in
		// Vault, and the pod logs in again if it comes back.
	})
	if err != nil {
		return nil, fmt.Errorf("session cache: %w", err)
	}
	m.cache = c
	return m, nil
}

// Len is the number of cached sessions.
func (m *Manager) Len() int { return m.cache.Len() }

// expiryMargin: a token this close to expiry is not handed out, so a call
// in flight does not fail on a token that dies mid-request.
const expiryMargin = 5 * time.Second
