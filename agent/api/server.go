// Package api is the caller-facing HTTP API of the broker, the same on the
// Unix socket and the TCP port. Every request goes through one pipeline:
// parse and refuse ambiguous paths → authenticate the bearer token
// (TokenReview) → attest that the connection's peer is that pod on this
// node → policy (namespace, serviceaccount) → Vault role and allow-list →
// per-pod rate limit → the pod's Vault session → the KV call → one audit
// line. What it defends against: path tricks that widen an allow-list,
// stolen tokens used from another process, oversized bodies, floods from
// one pod, and leaks: tokens and secret values travel in redacting types,
// and errors carry codes, never credentials.
package api

import (
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/secrets-broker/secrets-broker/agent/audit"
	"github.com/secrets-broker/secrets-broker/agent/authn"
	"github.com/secrets-broker/secrets-broker/agent/metrics"
	"github.com/secrets-broker/secrets-broker/agent/policy"
	"github.com/secrets-broker/secrets-broker/agent/secret"
	"github.com/secrets-broker/secrets-broker/agent/session"
	"github.com/secrets-broker/secrets-broker/agent/vault"
	"github.com/secrets-broker/secrets-broker/node/attest"
	"github.com/secrets-broker/secrets-broker/node/peer"
)

// Authenticator verifies a bearer token.
type Authenticator interface {
	Authenticate(ctx context.Context, tok secret.Token) (authn.Identity, error)
}

// Attestor checks that the connection's peer is the token's pod.
type Attestor interface {
	Attest(ctx context.Context, p *peer.Info, c attest.Claim) error
}

// Policies maps a ServiceAccount to its Vault role.
type Policies interface {
	Lookup(namespace, serviceaccount string) (policy.Entry, bool)
}

// Sessions runs a call with the pod's Vault session.
type Sessions interface {
	Do(ctx context.Context, key session.Key, jwt secret.Token, call vault.Call, fn func(session.Session) error) error
}

// KV performs Vault KV operations with a session token.
type KV interface {
	MountKind(ctx context.Context, mount string, call vault.Call) (vault.MountKind, bool, error)
	Read(ctx context.Context, call vault.Call, op vault.Op) (vault.Result, error)
	Write(ctx context.Context, call vault.Call, op vault.Op) (vault.Result, error)
	Patch(ctx context.Context, call vault.Call, op vault.Op) (vault.Result, error)
	List(ctx context.Context, call vault.Call, op vault.Op) (vault.Result, error)
	Delete(ctx context.Context, call vault.Call, op vault.Op) (vault.Result, error)
	Versions(ctx context.Context, call vault.Call, op vault.Op) (vault.Result, error)
}

var (
	_ Authenticator = (*authn.Authenticator)(nil)
	_ Attestor      = (*attest.Attestor)(nil)
	_ Sessions      = (*session.Manager)(nil)
	_ KV            = (*vault.Client)(nil)
)

// Config wires a Server.
type Config struct {
	Authn          Authenticator
	Attest         Attestor
	Policies       Policies
	Sessions       Sessions
	KV             KV
	Audit          *audit.Logger
	Metrics        *metrics.Metrics
	Logger         zerolog.Logger
	MaxBodyBytes   int64         // default 1 MiB
	RequestTimeout time.Duration // default 30 s
	RateLimit      float64       // per pod, requests/s; 0 = unlimited
	RateBurst      int
	// Forwarder enables the Vault-compatible /v1/... route when set.
	Forwarder Forwarder
}

// Server is the caller API handler.
type Server struct {
	cfg     Config
	limiter *podLimiter
}

// New builds the handler.
func New(cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	return &Server{cfg: cfg, limiter: newPodLimiter(cfg.RateLimit, cfg.RateBurst)}
}

// ServeHTTP routes without http.ServeMux on purpose: ServeMux "cleans"
// paths with redirects, and a redirect would turn "a/../b" into a
// different secret instead of a 400.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case hasPrefix(r.URL.Path, "/api/v1/"):
		s.serveAPI(w, r)
	case hasPrefix(r.URL.Path, "/v1/") && s.cfg.Forwarder != nil:
		s.servePassthrough(w, r)
	default:
		s.fail(w, s.begin(r, "none"), errUnknownRoute())
	}
}

func hasPrefix(p, prefix string) bool { return len(p) >= len(prefix) && p[:len(prefix)] == prefix }
