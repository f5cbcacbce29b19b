// Package agent is the one place that wires the broker: it builds every
// part from a validated config.Config and runs the long-lived ones under
// an errgroup. Nothing else constructs dependencies.
package agent

import (
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"
	"k8s.io/client-go/kubernetes"

	"github.com/secrets-broker/secrets-broker/agent/api"
	"github.com/secrets-broker/secrets-broker/agent/audit"
	"github.com/secrets-broker/secrets-broker/agent/authn"
	"github.com/secrets-broker/secrets-broker/agent/config"
	"github.com/secrets-broker/secrets-broker/agent/metrics"
	"github.com/secrets-broker/secrets-broker/agent/policy"
	"github.com/secrets-broker/secrets-broker/agent/session"
	"github.com/secrets-broker/secrets-broker/agent/tlsreload"
	"github.com/secrets-broker/secrets-broker/agent/vault"
	"github.com/secrets-broker/secrets-broker/node/attest"
	"github.com/secrets-broker/secrets-broker/node/podindex"
)

// Deps are the outside-world handles; zero values are built from config.
type Deps struct {
	Kube      kubernetes.Interface
	LogOutput io.Writer // default stderr
}

// Agent is a wired broker, ready to Run.
type Agent struct {
	cfg      config.Config
	base     zerolog.Logger // no component field; component loggers derive from it
	log      zerolog.Logger
	metrics  *metrics.Metrics
	kube     kubernetes.Interface
	vault    *vault.Client
	policies *policy.Store
	authn    *authn.Authenticator
	sessions *session.Manager
	pods     *podindex.Index // nil when attestation is off
	attestor *attest.Attestor
	tls      *tlsreload.Reloader // nil without --tls-cert
	audit    *audit.Logger
	auditOut io.Closer
	handler  *api.Server
	ready    readiness
}

// New builds every part; it fails on the first part that cannot start, and
// loads the policy once so a broken policy file stops the rollout.
func New(cfg config.Config, deps Deps) (*Agent, error) {
	out := deps.LogOutput
	if out == nil {
		out = os.Stderr
	}
	a := &Agent{cfg: cfg, metrics: metrics.New(), kube: deps.Kube}
	a.base = zerolog.New(out).Level(cfg.LogLevel).With().Timestamp().Logger()
	a.log = a.component("agent")
	steps := []func() error{a.buildAudit, a.buildKube, a.buildVault, a.buildPolicy, a.buildAuthn, a.buildNode, a.buildTLS}
	for _, step := range steps {
		if err := step(); err != nil {
			a.closeAudit()
			return nil, err
		}
	}
	a.handler = api.New(api.Config{
		Authn: a.authn, Attest: a.attestor, Policies: a.policies, Sessions: a.sessions, KV: a.vault, Forwarder: a.vault,
		Audit: a.audit, Metrics: a.metrics, Logger: a.component("api"),
		MaxBodyBytes: cfg.MaxBodyBytes, RequestTimeout: cfg.RequestTimeout,
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
	})
	a.ready.policy = a.policies.Loaded
	return a, nil
}

func (a *Agent) component(name string) zerolog.Logger {
	return a.base.With().Str("component", name).Logger()
}

func (a *Agent) buildAudit() error {
	if a.cfg.AuditLog == "-" {
		a.audit = audit.New(os.Stdout)
		return nil
	}
	f, err := os.OpenFile(a.cfg.AuditLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	a.audit, a.auditOut = audit.New(f), f
	return nil
}

func (a *Agent) closeAudit() {
	if a.auditOut != nil {
		_ = a.auditOut.Close()
	}
}

func (a *Agent) buildVault() error {
	v, err := vault.New(vault.Config{Addr: a.cfg.VaultAddr, CACert: a.cfg.VaultCACert, Timeout: a.cfg.VaultTimeout})
	if err != nil {
		return err
	}
	a.vault = v
	s, err := session.New(session.Config{
		Vault: v, MaxSize: a.cfg.SessionCacheSize, Metrics: a.metrics,
		Logger: a.component("session"), CallTimeout: a.cfg.VaultTimeout,
	})
	if err != nil {
		return err
	}
	a.sessions = s
	return nil
}

func (a *Agent) buildPolicy() error {
	a.policies = policy.NewStore(a.cfg.PolicyFile, a.component("policy"), a.metrics)
	if err := a.policies.Load(); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	return nil
}

func (a *Agent) buildAuthn() error {
	au, err := authn.New(authn.Config{
		Reviews: a.kube.AuthenticationV1().TokenReviews(), Audience: a.cfg.Audience,
		TTL: a.cfg.ReviewCacheTTL, NegativeTTL: a.cfg.ReviewNegativeTTL, MaxEntries: a.cfg.ReviewCacheSize,
		AllowUnbound: a.cfg.AllowUnbound, Metrics: a.metrics, Logger: a.component("authn"),
	})
	if err != nil {
		return fmt.Errorf("authn: %w", err)
	}
	a.authn = au
	return nil
}

func (a *Agent) buildTLS() error {
	if a.cfg.TLSCert == "" {
		return nil
	}
	r, err := tlsreload.New(a.cfg.TLSCert, a.cfg.TLSKey, a.component("tls"))
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	a.tls = r
	return nil
}

// Handler exposes the caller API handler (for in-process benchmarks).
func (a *Agent) Handler() *api.Server { return a.handler }
