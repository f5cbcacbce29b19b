// Package config holds the broker's configuration in two shapes: Flags, the
// wire form filled from command-line flags with environment fallbacks, and
// Config, the typed runtime form produced by Validate, which reports every
// problem at once so an operator fixes a broken DaemonSet in one round.
package config

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Flags is the wire form. Every field has a flag; envs are listed in Bind.
type Flags struct {
	SocketPath  string
	SocketMode  string
	SocketGroup int
	ListenAddr  string
	TLSCert     string
	TLSKey      string
	AdminAddr   string

	PolicyFile string
	Audience   string

	VaultAddr    string
	VaultCACert  string
	VaultTimeout time.Duration

	AttestationMode   string
	NodeName          string
	HostProc          string
	RevokeOnPodDelete bool
	Kubeconfig        string

	ReviewCacheTTL    time.Duration
	ReviewNegativeTTL time.Duration
	ReviewCacheSize   int
	AllowUnbound      bool
	SessionCacheSize  int

	MaxBodyBytes      int64
	RequestTimeout    time.Duration
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	RateLimit         float64
	RateBurst         int

	LogLevel    string
	AuditLog    string
	EnablePprof bool

	envErrs []error // unparsable environment values, reported by Validate
}

// Bind registers every flag on fs. Each flag's default comes from its
// environment variable when set: SECRETS_BROKER_<FLAG_IN_UPPER_SNAKE>, and
// the conventional VAULT_ADDR, VAULT_CACERT, NODE_NAME and KUBECONFIG.
func (f *Flags) Bind(fs *flag.FlagSet) {
	e := &envDefaults{}
	defer func() { f.envErrs = e.errs }()
	fs.StringVar(&f.SocketPath, "socket-path", e.str("socket-path", "/var/run/secrets-broker/broker.sock"), "Unix socket to serve on (\"\" disables); bound at a temp name and renamed into place")
	fs.StringVar(&f.SocketMode, "socket-mode", e.str("socket-mode", "0666"), "permissions of the socket file; every request is still authenticated and attested")
	fs.IntVar(&f.SocketGroup, "socket-group", e.int("socket-group", -1), "group id to own the socket (-1 keeps the process group)")
	fs.StringVar(&f.ListenAddr, "listen-addr", e.str("listen-addr", ":8080"), "node-local TCP address (\"\" disables); HTTPS when --tls-cert and --tls-key are set")
	fs.StringVar(&f.TLSCert, "tls-cert", e.str("tls-cert", ""), "PEM certificate for the TCP listener; reloaded on change")
	fs.StringVar(&f.TLSKey, "tls-key", e.str("tls-key", ""), "PEM private key for the TCP listener; reloaded on change")
	fs.StringVar(&f.AdminAddr, "admin-addr", e.str("admin-addr", ":8081"), "address for /healthz, /readyz and /metrics (\"\" disables)")
	fs.StringVar(&f.PolicyFile, "policy-file", e.str("policy-file", "/etc/secrets-broker/policy.yaml"), "policy file mapping (namespace, serviceaccount) to a Vault role; its directory is watched")
	fs.StringVar(&f.Audience, "audience", e.str("audience", "secrets-broker"), "audience callers' projected tokens must carry")
	fs.StringVar(&f.VaultAddr, "vault-addr", e.strAlt("vault-addr", "VAULT_ADDR", ""), "Vault address (env VAULT_ADDR)")
	fs.StringVar(&f.VaultCACert, "vault-cacert", e.strAlt("vault-cacert", "VAULT_CACERT", ""), "PEM CA bundle for Vault's certificate (env VAULT_CACERT)")
	fs.DurationVar(&f.VaultTimeout, "vault-timeout", e.dur("vault-timeout", 10*time.Second), "timeout of one Vault call")
	fs.StringVar(&f.AttestationMode, "attestation-mode", e.str("attestation-mode", "strict"), "strict (peer process must be in the token's pod), node (pod must be on this node) or off (development only)")
	fs.StringVar(&f.NodeName, "node-name", e.strAlt("node-name", "NODE_NAME", ""), "this node's name (env NODE_NAME, from the downward API)")
	fs.StringVar(&f.HostProc, "host-proc", e.str("host-proc", "/proc"), "host /proc, to resolve socket peers' cgroups (needs hostPID)")
	fs.BoolVar(&f.RevokeOnPodDelete, "revoke-on-pod-delete", e.bool("revoke-on-pod-delete", true), "revoke a pod's Vault tokens when the pod is deleted")
	fs.StringVar(&f.Kubeconfig, "kubeconfig", e.strAlt("kubeconfig", "KUBECONFIG", ""), "kubeconfig file; in-cluster config when empty")
	fs.DurationVar(&f.ReviewCacheTTL, "review-cache-ttl", e.dur("review-cache-ttl", 60*time.Second), "how long a successful TokenReview is reused (capped by the token's exp)")
	fs.DurationVar(&f.ReviewNegativeTTL, "review-negative-ttl", e.dur("review-negative-ttl", 5*time.Second), "how long a rejected token is remembered")
	fs.IntVar(&f.ReviewCacheSize, "review-cache-size", e.int("review-cache-size", 10000), "TokenReview cache entries")
	fs.BoolVar(&f.AllowUnbound, "allow-unbound-tokens", e.bool("allow-unbound-tokens", false), "accept tokens not bound to a pod (weakens attestation)")
	fs.IntVar(&f.SessionCacheSize, "session-cache-size", e.int("session-cache-size", 4096), "Vault sessions (pod, role) kept on this node")
	fs.Int64Var(&f.MaxBodyBytes, "max-body-bytes", int64(e.int("max-body-bytes", 1<<20)), "largest accepted request body")
	fs.DurationVar(&f.RequestTimeout, "request-timeout", e.dur("request-timeout", 30*time.Second), "deadline of one caller request")
	fs.DurationVar(&f.ReadHeaderTimeout, "read-header-timeout", e.dur("read-header-timeout", 5*time.Second), "time a client has to send its headers")
	fs.DurationVar(&f.IdleTimeout, "idle-timeout", e.dur("idle-timeout", 120*time.Second), "keep-alive connections idle longer are closed")
	fs.DurationVar(&f.ShutdownTimeout, "shutdown-timeout", e.dur("shutdown-timeout", 20*time.Second), "time to drain in-flight requests on SIGTERM")
	fs.Float64Var(&f.RateLimit, "rate-limit", e.float("rate-limit", 50), "requests per second per pod (0 = unlimited)")
	fs.IntVar(&f.RateBurst, "rate-burst", e.int("rate-burst", 100), "burst per pod")
	fs.StringVar(&f.LogLevel, "log-level", e.str("log-level", "info"), "debug, info, warn or error")
	fs.BoolVar(&f.EnablePprof, "enable-pprof", e.bool("enable-pprof", false), "serve Go profiles at /debug/pprof/ on the admin address (for diagnosis; keep the admin port private)")
	fs.StringVar(&f.AuditLog, "audit-log", e.str("audit-log", "-"), "audit stream: - for stdout, or a file path (logs go to stderr)")
}

type envDefaults struct{ errs []error }

func envName(flagName string) string {
	return "SECRETS_BROKER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (e *envDefaults) str(name, def string) string {
	if v, ok := os.LookupEnv(envName(name)); ok {
		return v
	}
	return def
}

func (e *envDefaults) strAlt(name, alt, def string) string {
	if v, ok := os.LookupEnv(envName(name)); ok {
		return v
	}
	if v, ok := os.LookupEnv(alt); ok {
		return v
	}
	return def
}

func (e *envDefaults) int(name string, def int) int {
	v, ok := os.LookupEnv(envName(name))
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: not an integer", envName(name)))
		return def
	}
	return n
}

func (e *envDefaults) float(name string, def float64) float64 {
	v, ok := os.LookupEnv(envName(name))
	if !ok {
		return def
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: not a number", envName(name)))
		return def
	}
	return n
}

func (e *envDefaults) bool(name string, def bool) bool {
	v, ok := os.LookupEnv(envName(name))
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: not a boolean", envName(name)))
		return def
	}
	return b
}

func (e *envDefaults) dur(name string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(envName(name))
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: not a duration", envName(name)))
		return def
	}
	return d
}
