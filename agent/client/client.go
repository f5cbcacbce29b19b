// Package client is the Go client of the secrets-broker caller API
// (/api/v1) for TOKENIZER services. It reads SECRETS_BROKER_URL
// (unix:///path/broker.sock or http(s)://host:port) and
// SECRETS_BROKER_TOKEN_PATH (the projected ServiceAccount token), re-reads
// the token file when kubelet rotates it and never sends a token past its
// exp, retries idempotent calls with jittered backoff honouring
// Retry-After, and returns errors of a few classes (ErrDenied, ErrNotFound,
// ErrConflict, ErrBadRequest, ErrUnauthenticated, ErrUnavailable) that
// carry the broker's error code and request id. It never logs, and its
// errors never hold the token or a secret value.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Environment variables read by FromEnv.
const (
	EnvURL       = "SECRETS_BROKER_URL"
	EnvTokenPath = "SECRETS_BROKER_TOKEN_PATH"
	// DefaultTokenPath is where the secrets-broker-client chart mounts the token.
	DefaultTokenPath = "/var/run/secrets/broker-token/token"
)

// Config configures a Client; zero values take the defaults.
type Config struct {
	URL         string      // unix:///path/to/broker.sock, http://… or https://…
	TokenPath   string      // projected SA token file
	TLS         *tls.Config // for https URLs; nil = system roots
	MaxAttempts int         // per call, including the first; default 5
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	Timeout     time.Duration // per attempt; default 30 s
	now         func() time.Time
}

// Client calls the broker; safe for concurrent use.
type Client struct {
	cfg   Config
	base  string // scheme://host the requests go to
	http  *http.Client
	token *tokenFile
}

// FromEnv builds a client from SECRETS_BROKER_URL and
// SECRETS_BROKER_TOKEN_PATH (default DefaultTokenPath).
func FromEnv() (*Client, error) {
	return New(Config{URL: os.Getenv(EnvURL), TokenPath: os.Getenv(EnvTokenPath)})
}

// New validates cfg and builds a client.
func New(cfg Config) (*Client, error) {
	if cfg.TokenPath == "" {
		cfg.TokenPath = DefaultTokenPath
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	base, tr, err := transportFor(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, base: base, http: &http.Client{Transport: tr, Timeout: cfg.Timeout},
		token: &tokenFile{path: cfg.TokenPath, now: cfg.now}}, nil
}

// transportFor turns the URL into a base and a transport. The broker is
// node-local: no proxy, ever.
func transportFor(cfg Config) (string, *http.Transport, error) {
	if cfg.URL == "" {
		return "", nil, fmt.Errorf("%s is empty: want unix:///path/broker.sock or http(s)://host:port", EnvURL)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return "", nil, fmt.Errorf("parse %s: %w", EnvURL, err)
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: 60 * time.Second, TLSClientConfig: cfg.TLS}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		if sock == "" {
			return "", nil, fmt.Errorf("%s: unix URL without a socket path", EnvURL)
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		return "http://secrets-broker", tr, nil
	case "http", "https":
		if u.Host == "" {
			return "", nil, fmt.Errorf("%s: URL without a host", EnvURL)
		}
		return u.Scheme + "://" + u.Host, tr, nil
	}
	return "", nil, fmt.Errorf("%s: scheme %q not supported (unix, http, https)", EnvURL, u.Scheme)
}

// request is one logical call; do may send it several times.
type request struct {
	method, route, path string
	query               url.Values
	body                any
	idempotent          bool
}

// do runs the call with retries and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, r request, out any) error {
	u, err := c.urlFor(r)
	if err != nil {
		return err
	}
	var payload []byte
	if r.body != nil {
		if payload, err = json.Marshal(r.body); err != nil {
			return &Error{Kind: ErrBadRequest, Code: "bad_data", Message: "data is not JSON-encodable"}
		}
	}
	var last error
	for attempt := 1; ; attempt++ {
		last = c.attempt(ctx, r.method, u, payload, out)
		if last == nil || attempt >= c.cfg.MaxAttempts || !retryable(last, r.idempotent) {
			return last
		}
		if !sleep(ctx, c.backoff(attempt, last)) {
			return last
		}
	}
}

// attempt sends once; a 401 is retried once at once with a re-read token
// file, since kubelet may have rotated it between our read and the call.
func (c *Client) attempt(ctx context.Context, method, u string, payload []byte, out any) error {
	tok, err := c.token.get(false)
	if err != nil {
		return err
	}
	err = c.send(ctx, method, u, tok, payload, out)
	if !errors.Is(err, ErrUnauthenticated) {
		return err
	}
	fresh, ferr := c.token.get(true)
	if ferr != nil || fresh == tok {
		return err
	}
	return c.send(ctx, method, u, fresh, payload, out)
}

func (c *Client) send(ctx context.Context, method, u, tok string, payload []byte, out any) error {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return &Error{Kind: ErrBadRequest, Code: "bad_request", Message: "cannot build request", cause: err}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Kind: ErrUnavailable, Code: "unreachable", Message: "cannot reach the broker", cause: unwrapURL(err)}
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &Error{Kind: ErrUnavailable, Status: resp.StatusCode, Code: "read_failed", Message: "reading the broker's answer failed", cause: err}
	}
	if resp.StatusCode/100 != 2 {
		return errorFrom(resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &Error{Kind: ErrUnavailable, Status: resp.StatusCode, Code: "bad_response", Message: "broker answer is not the expected JSON"}
	}
	return nil
}

// unwrapURL drops *url.Error, whose text repeats the URL; the cause stays.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func errorFrom(resp *http.Response, data []byte) error {
	var b struct {
		Error struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &b)
	e := &Error{Kind: kindOf(resp.StatusCode), Status: resp.StatusCode, Code: b.Error.Code, Message: b.Error.Message,
		RequestID: b.Error.RequestID, RetryAfter: resp.Header.Get("Retry-After")}
	if e.Code == "" {
		e.Code = strings.ReplaceAll(strings.ToLower(http.StatusText(resp.StatusCode)), " ", "_")
	}
	return e
}
