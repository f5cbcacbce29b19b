package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/secrets-broker/secrets-broker/node/attest"
)

// Config is the validated runtime form.
type Config struct {
	Flags
	SocketPerm      fs.FileMode
	AttestationMode attest.Mode
	LogLevel        zerolog.Level
}

// Validate checks every field and returns all problems joined.
func (f Flags) Validate() (Config, error) {
	errs := append([]error(nil), f.envErrs...)
	c := Config{Flags: f}
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if f.SocketPath == "" && f.ListenAddr == "" {
		bad("--socket-path and --listen-addr are both empty: nothing to serve on")
	}
	if len(f.SocketPath) > 100 { // sun_path is 108 bytes including the temp suffix
		bad("--socket-path: longer than 100 bytes")
	}
	if m, err := strconv.ParseUint(f.SocketMode, 8, 32); err != nil || m > 0o777 {
		bad("--socket-mode: %q is not an octal mode like 0660", f.SocketMode)
	} else {
		c.SocketPerm = fs.FileMode(m)
	}
	for name, addr := range map[string]string{"--listen-addr": f.ListenAddr, "--admin-addr": f.AdminAddr} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("%s: %q is not host:port", name, addr)
		}
	}
	if (f.TLSCert == "") != (f.TLSKey == "") {
		bad("--tls-cert and --tls-key must be given together")
	}
	if f.PolicyFile == "" {
		bad("--policy-file is required")
	}
	if f.Audience == "" {
		bad("--audience is required")
	}
	if u, err := url.Parse(f.VaultAddr); f.VaultAddr == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("--vault-addr (VAULT_ADDR): %q is not an http(s) URL", f.VaultAddr)
	}
	mode, err := attest.ParseMode(f.AttestationMode)
	if err != nil {
		bad("--attestation-mode: %v", err)
	}
	c.AttestationMode = mode
	if mode != attest.Off && f.NodeName == "" {
		bad("--node-name (NODE_NAME) is required unless --attestation-mode=off")
	}
	positive := map[string]time.Duration{
		"--vault-timeout": f.VaultTimeout, "--review-cache-ttl": f.ReviewCacheTTL,
		"--request-timeout": f.RequestTimeout, "--read-header-timeout": f.ReadHeaderTimeout,
		"--shutdown-timeout": f.ShutdownTimeout, "--idle-timeout": f.IdleTimeout,
	}
	for name, d := range positive {
		if d <= 0 {
			bad("%s must be positive", name)
		}
	}
	if f.ReviewNegativeTTL < 0 {
		bad("--review-negative-ttl must not be negative")
	}
	if f.ReviewCacheSize < 1 || f.SessionCacheSize < 1 {
		bad("--review-cache-size and --session-cache-size must be at least 1")
	}
	if f.MaxBodyBytes < 1 {
		bad("--max-body-bytes must be at least 1")
	}
	if f.RateLimit < 0 || f.RateBurst < 0 {
		bad("--rate-limit and --rate-burst must not be negative")
	}
	lvl, err := zerolog.ParseLevel(f.LogLevel)
	if err != nil || f.LogLevel == "" {
		bad("--log-level: %q is not debug, info, warn or error", f.LogLevel)
	}
	c.LogLevel = lvl
	if f.AuditLog == "" {
		bad("--audit-log: use - for stdout or a file path")
	}
	return c, errors.Join(errs...)
}
