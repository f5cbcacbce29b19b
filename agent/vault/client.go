// Package vault performs the broker's Vault calls through
// github.com/hashicorp/vault/api: kubernetes-auth logins with a caller's own
// JWT, token renew/lookup/revoke, and KV v1/v2 operations. The broker never
// holds a Vault token of its own: the shared client has none, and every call
// carries the caller's session token set per request. Errors are classified
// into a few sentinels so the HTTP layer can map them honestly.
package vault

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/secrets-broker/secrets-broker/agent/secret"
)

// PodHeader names the request header that carries "<namespace>/<pod>" to
// Vault, so Vault's audit log names the pod and not only its ServiceAccount.
const PodHeader = "X-Secrets-Broker-Pod"

// RequestIDHeader carries the broker's request id to Vault's audit log.
const RequestIDHeader = "X-Secrets-Broker-Request-Id"

// Config is how to reach Vault.
type Config struct {
	Addr    string
	CACert  string // PEM file; empty means system roots
	Timeout time.Duration
	// MaxIdleConnsPerHost bounds the pooled keep-alive connections to Vault.
	MaxIdleConnsPerHost int
}

// Client is safe for concurrent use; it holds no token.
type Client struct {
	api    *vaultapi.Client
	mounts *mountCache
	addr   *url.URL
	http   *http.Client
}

// New builds the pooled client. VAULT_TOKEN is ignored on purpose: the broker
// must never act with a token of its own.
func New(cfg Config) (*Client, error) {
	vc := vaultapi.DefaultConfig()
	if vc.Error != nil {
		return nil, fmt.Errorf("vault config: %w", vc.Error)
	}
	vc.Address = cfg.Addr
	vc.MaxRetries = 0 // a retried write could be stored twice; callers retry.
	if cfg.Timeout > 0 {
		vc.Timeout = cfg.Timeout
	}
	vc.HttpClient = &http.Client{Transport: transport(cfg)}
	if cfg.CACert != "" {
		if err := vc.ConfigureTLS(&vaultapi.TLSConfig{CACert: cfg.CACert}); err != nil {
			return nil, fmt.Errorf("vault tls: %w", err)
		}
	}
	c, err := vaultapi.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	c.ClearToken()
	c.SetCloneToken(false)
	addr, err := url.Parse(c.Address())
	if err != nil {
		return nil, fmt.Errorf("vault address: %w", err)
	}
	return &Client{api: c, mounts: newMountCache(), addr: addr, http: vc.HttpClient}, nil
}

func transport(cfg Config) *http.Transport {
	// Idle connections to Vault cost memory (two goroutines and buffers
	// each) long after a boot storm; 64 covers steady traffic on a node,
	// and a burst above it opens extra connections that close when done.
	perHost := cfg.MaxIdleConnsPerHost
	if perHost <= 0 {
		perHost = 64
	}
	return &http.Transport{
		Proxy:               nil, // node-local traffic to Vault never goes through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		MaxIdleConns:        perHost,
		MaxIdleConnsPerHost: perHost,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   true,
	}
}

// API exposes the token-less client for the Vault-compatible passthrough,
// which forwards with a per-request token via WithToken.
func (c *Client) API() *vaultapi.Client { return c.api }

// Call carries the per-request facts every Vault call needs.
type Call struct {
	Token     secret.Token
	Pod       string // "<namespace>/<pod>", for Vault's audit
	RequestID string
}

// with returns a shallow copy of the shared client that sends call's token
// and headers; WithRequestCallbacks copies only the client struct.
func (c *Client) with(call Call) *vaultapi.Client {
	return c.api.WithRequestCallbacks(func(r *vaultapi.Request) {
		r.ClientToken = call.Token.Reveal()
		if call.Pod != "" {
			r.Headers.Set(PodHeader, call.Pod)
		}
		if call.RequestID != "" {
			r.Headers.Set(RequestIDHeader, call.RequestID)
		}
	})
}

// Ping asks Vault's unauthenticated health endpoint once, for readiness.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.api.Sys().HealthWithContext(ctx)
	if err != nil {
		return classify(err)
	}
	return nil
}
