// Package authn turns a caller's projected ServiceAccount token into an
// Identity by asking the apiserver (TokenReview) with the broker's audience.
//
// It defends against: tokens minted for another audience (the apiserver's
// own, or another service's) being replayed at the broker; tokens not bound
// to a pod; a flood of requests — good or bad — turning into a flood of
// TokenReviews (positive and negative caches, singleflight per token); and
// tokens leaking through cache keys, logs or errors (caches are keyed by the
// token's SHA-256 and no error or log line ever carries the token).
package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/secrets-broker/secrets-broker/agent/metrics"
	"github.com/secrets-broker/secrets-broker/agent/secret"
)

// Sentinel errors; the HTTP layer maps them to statuses in one place.
var (
	// ErrUnauthenticated: bad, expired or wrong-audience token (401).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrNotPodBound: a valid token that is not bound to a pod (401,
	// token_not_pod_bound).
	ErrNotPodBound = errors.New("token not bound to a pod")
	// ErrUnavailable: the apiserver could not give an answer (503).
	ErrUnavailable = errors.New("token review unavailable")
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAudience    = "secrets-broker"
	DefaultTTL         = 60 * time.Second
	DefaultNegativeTTL = 5 * time.Second
	DefaultMaxEntries  = 10000

	// negativeEntries bounds the negative cache: it only needs to absorb a
	// burst of the same few bad tokens, not remember every one.
	negativeEntries = 1024
	// reviewTimeout bounds one TokenReview. The review runs detached from
	// the first caller's context because other callers share its result.
	reviewTimeout = 10 * time.Second
)

// TokenReviewer is the one client-go method the package needs; it is
// satisfied by clientset.AuthenticationV1().TokenReviews().
type TokenReviewer interface {
	Create(ctx context.Context, tr *authenticationv1.TokenReview, opts metav1.CreateOptions) (*authenticationv1.TokenReview, error)
}

// Identity is who the apiserver says the caller is.
type Identity struct {
	Namespace      string
	ServiceAccount string
	PodName        string
	PodUID         string
	NodeName       string
	// Expiry is the token's exp claim (now+TTL when it cannot be read).
	Expiry time.Time
}

// Config holds the Authenticator's dependencies and limits.
type Config struct {
	Reviews      TokenReviewer
	Audience     string        // default "secrets-broker"
	TTL          time.Duration // positive cache lifetime cap, default 60s
	NegativeTTL  time.Duration // negative cache lifetime, default 5s
	MaxEntries   int           // positive cache bound, default 10000
	AllowUnbound bool          // accept tokens without a pod binding
	Clock        clock.PassiveClock
	Metrics      *metrics.Metrics
	Logger       zerolog.Logger
}

// Authenticator verifies tokens and caches the answers. Safe for
// concurrent use.
type Authenticator struct {
	cfg    Config
	cache  *cache
	flight singleflight.Group
}

// New validates cfg, fills defaults and builds the caches.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Reviews == nil {
		return nil, errors.New("token reviewer is required")
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	c, err := newCache(cfg.MaxEntries, negativeEntries)
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	return &Authenticator{cfg: cfg, cache: c}, nil
}

// Authenticate returns the caller's Identity or an error wrapping one of
// ErrUnauthenticated, ErrNotPodBound or ErrUnavailable.
func (a *Authenticator) Authenticate(ctx context.Context, tok secret.Token) (Identity, error) {
	if err := precheck(tok); err != nil {
		return Identity{}, err
	}
	key := tok.Hash()
	if id, err, ok := a.cached(key); ok {
		return id, err
	}
	ch := a.flight.DoChan(key, func() (any, error) {
		return a.review(context.WithoutCancel(ctx), key, tok)
	})
	select {
	case <-ctx.Done():
		return Identity{}, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return Identity{}, res.Err
		}
		return res.Val.(Identity), nil
	}
}

// cached answers from the positive or negative cache and counts the result.
func (a *Authenticator) cached(key string) (Identity, error, bool) {
	now := a.cfg.Clock.Now()
	if id, ok := a.cache.positive(key, now); ok {
		a.cfg.Metrics.CacheHit("tokenreview")
		return id, nil, true
	}
	a.cfg.Metrics.CacheMiss("tokenreview")
	if err, ok := a.cache.negative(key, now); ok {
		a.cfg.Metrics.CacheHit("tokenreview_negative")
		return Identity{}, err, true
	}
	return Identity{}, nil, false
}

// ForgetPod drops every cached identity of the pod, so a deleted pod's
// tokens are reviewed again (and refused) instead of served from cache.
func (a *Authenticator) ForgetPod(podUID string) {
	if podUID == "" {
		return
	}
	a.cache.forgetPod(podUID)
}

// Len is the number of cached positive entries.
func (a *Authenticator) Len() int { return a.cache.len() }
