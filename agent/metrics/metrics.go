// Package metrics owns the broker's Prometheus collectors. Labels carry only
// bounded, non-secret values (route, op, outcome, cache name, mount); never a
// token, a pod name or a secret path. Every method is safe on a nil
// *Metrics so packages can be tested without a registry.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const namespace = "secrets_broker"

// Metrics groups the collectors; create it once with New.
type Metrics struct {
	Registry *prometheus.Registry

	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	cacheHits     *prometheus.CounterVec
	cacheMisses   *prometheus.CounterVec
	logins        *prometheus.CounterVec
	tokenReviews  *prometheus.CounterVec
	vaultErrors   *prometheus.CounterVec
	policyReloads *prometheus.CounterVec
	attestations  *prometheus.CounterVec
	sessions      prometheus.Gauge
}

// New registers every collector, plus Go and process collectors, on a fresh
// registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "Caller requests by route, operation and outcome.",
		}, []string{"route", "op", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds",
			Help:    "Caller request latency by route and operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "op"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cache_hits_total",
			Help: "Cache hits by cache (tokenreview, tokenreview_negative, session, mount).",
		}, []string{"cache"}),
		cacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cache_misses_total",
			Help: "Cache misses by cache.",
		}, []string{"cache"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "vault_logins_total",
			Help: "Vault kubernetes-auth logins made with callers' tokens, by outcome.",
		}, []string{"outcome"}),
		tokenReviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tokenreviews_total",
			Help: "TokenReview API calls, by outcome.",
		}, []string{"outcome"}),
		vaultErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "vault_errors_total",
			Help: "Vault calls that failed, by kind (denied, not_found, conflict, unavailable, other).",
		}, []string{"kind"}),
		policyReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "policy_reloads_total",
			Help: "Policy file (re)loads by result (ok, error).",
		}, []string{"result"}),
		attestations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "attestations_total",
			Help: "Node attestation decisions by result code.",
		}, []string{"result"}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "vault_sessions",
			Help: "Vault tokens currently cached on this node.",
		}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.cacheHits, m.cacheMisses,
		m.logins, m.tokenReviews, m.vaultErrors, m.policyReloads, m.attestations, m.sessions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Request records one finished caller request.
func (m *Metrics) Request(route, op, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, op, outcome).Inc()
	m.latency.WithLabelValues(route, op).Observe(d.Seconds())
}

// CacheHit counts a hit in the named cache.
func (m *Metrics) CacheHit(cache string) {
	if m != nil {
		m.cacheHits.WithLabelValues(cache).Inc()
	}
}

// CacheMiss counts a miss in the named cache.
func (m *Metrics) CacheMiss(cache string) {
	if m != nil {
		m.cacheMisses.WithLabelValues(cache).Inc()
	}
}

// Login counts a Vault login attempt by outcome (ok, denied, error).
func (m *Metrics) Login(outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

// TokenReview counts a TokenReview call by outcome (authenticated,
// unauthenticated, error).
func (m *Metrics) TokenReview(outcome string) {
	if m != nil {
		m.tokenReviews.WithLabelValues(outcome).Inc()
	}
}

// VaultError counts a failed Vault call by kind.
func (m *Metrics) VaultError(kind string) {
	if m != nil {
		m.vaultErrors.WithLabelValues(kind).Inc()
	}
}

// PolicyReload counts a policy load by result.
func (m *Metrics) PolicyReload(ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "error"
	}
	m.policyReloads.WithLabelValues(result).Inc()
}

// Attestation counts an attestation decision ("ok" or a refusal code).
func (m *Metrics) Attestation(result string) {
	if m != nil {
		m.attestations.WithLabelValues(result).Inc()
	}
}

// Sessions sets the number of cached Vault sessions.
func (m *Metrics) Sessions(n int) {
	if m != nil {
		m.sessions.Set(float64(n))
	}
}
