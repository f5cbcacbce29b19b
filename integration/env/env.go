// Package env starts the real servers the integration tests and the demo run
// against: an embedded etcd, a real kube-apiserver and a real Vault, all on
// loopback in a temp dir, configured as ADR-001 §5B says (with the fixes
// recorded in deploy/vault/). Nothing here is a stand-in: if a claim about
// tenancy, least privilege or audit holds in a test, it held against the
// same Vault and apiserver code that runs in production.
//
// One Env per test package (start it in TestMain): the apiserver takes a few
// seconds to become ready and namespaces never finish deleting without
// kube-controller-manager, so tests share the servers and use unique names.
package env

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Names fixed by the ADR. The Vault roles in deploy/vault/setup.sh bind
// exactly these namespaces and ServiceAccounts.
const (
	Audience = "secrets-broker" // audience of pod tokens meant for the broker

	DataPlaneNamespace    = "tokenizer-dp"
	DataPlaneSA           = "tokenizer-dp-sa"
	DataPlaneRole         = "tokenizer-dp-role"
	CryptoGenNamespace    = "tokenizer-cg"
	CryptoGenSA           = "tokenizer-cg-sa"
	CryptoGenRole         = "tokenizer-cg-role"
	ControlPlaneNamespace = "tokenizer-cp"
	ControlPlaneSA        = "tokenizer-cp-sa"
	ControlPlaneRole      = "tokenizer-cp-role"
)

// Options select what Start builds.
type Options struct {
	// PersistentVault runs Vault with file storage, initialised and unsealed
	// by the harness, instead of dev mode, so that RestartVault keeps data.
	PersistentVault bool
	// SkipADRTenants leaves out the tokenizer-{dp,cg,cp} namespaces and
	// ServiceAccounts, which are created by default.
	SkipADRTenants bool
	// VaultConfigDir holds setup.sh and the policies; default: this
	// repository's deploy/vault (or $SECRETS_BROKER_VAULT_CONFIG_DIR).
	VaultConfigDir string
	// KeepDir keeps the temp dir (server logs, audit logs) after Stop;
	// SECRETS_BROKER_KEEP_ENV=1 does the same.
	KeepDir bool
	// Logf receives progress lines; default: stderr.
	Logf func(format string, args ...any)
}

// Env is a running set of servers. Its methods are safe for concurrent use.
type Env struct {
	opts Options
	dir  string
	bins binaries

	etcd, apiserver *server
	etcdURL         string
	apiURL          string
	caFile          string
	adminToken      string
	kubeAuditPath   string
	restConfig      *rest.Config
	admin           kubernetes.Interface
	reviewerJWT     string

	vaultMu        sync.Mutex // guards vault across Stop/StartVault
	vault          *server
	vaultAddr      string
	vaultRootToken string
	vaultUnsealKey string
	vaultAuditPath string

	brokerMu         sync.Mutex
	brokerKubeconfig string

	stopOnce sync.Once
}

// Start brings up etcd, the kube-apiserver and Vault and configures them.
// On any failure it stops what it started and the error carries the tail of
// each server's log.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.Logf == nil {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, "env: "+format+"\n", args...) }
	}
	if os.Getenv("SECRETS_BROKER_KEEP_ENV") == "1" {
		opts.KeepDir = true
	}
	bins, err := locateBinaries()
	if err != nil {
		return nil, err
	}
	vaultCfg, err := findVaultConfigDir(opts.VaultConfigDir)
	if err != nil {
		return nil, err
	}
	opts.VaultConfigDir = vaultCfg
	dir, err := os.MkdirTemp("", "sb-env-")
	if err != nil {
		return nil, fmt.Errorf("create env dir: %w", err)
	}
	e := &Env{opts: opts, dir: dir, bins: bins}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w%s", err, e.logTails())
			e.Stop()
		}
	}()
	start := time.Now()
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"etcd", e.startEtcd},
		{"kube-apiserver", e.startAPIServer},
		{"kubernetes objects", e.setupKube},
		{"vault", e.startVault},
		{"vault config (deploy/vault/setup.sh)", e.RunVaultSetup},
	}
	for _, s := range steps {
		t := time.Now()
		if err := s.run(ctx); err != nil {
			return nil, fmt.Errorf("start env: %s: %w", s.name, err)
		}
		opts.Logf("%s ready in %s", s.name, time.Since(t).Round(time.Millisecond))
	}
	opts.Logf("environment ready in %s (dir %s)", time.Since(start).Round(time.Millisecond), dir)
	return e, nil
}

// Stop ends every server (Vault, then the apiserver, then etcd) and removes
// the temp dir unless KeepDir. It is safe to call more than once.
func (e *Env) Stop() {
	e.stopOnce.Do(func() {
		e.vaultMu.Lock()
		e.vault.stop(10 * time.Second)
		e.vaultMu.Unlock()
		e.apiserver.stop(10 * time.Second)
		e.etcd.stop(10 * time.Second)
		if e.opts.KeepDir {
			e.opts.Logf("kept %s", e.dir)
			return
		}
		if err := os.RemoveAll(e.dir); err != nil {
			e.opts.Logf("remove %s: %v", e.dir, err)
		}
	})
}

// logTails formats the end of every server log for a failed start.
func (e *Env) logTails() string {
	var b strings.Builder
	for _, s := range []*server{e.etcd, e.apiserver, e.vault} {
		if s == nil {
			continue
		}
		fmt.Fprintf(&b, "\n--- %s log (%s), last lines ---\n%s", s.name, s.logPath, s.tail(30))
	}
	return b.String()
}

// Dir is the environment's temp dir (logs, audit files, kubeconfigs).
func (e *Env) Dir() string { return e.dir }

// APIServerURL is the apiserver's https URL on loopback.
func (e *Env) APIServerURL() string { return e.apiURL }

// CAFile is the PEM file that verifies the apiserver's serving certificate.
func (e *Env) CAFile() string { return e.caFile }

// AdminClient is a clientset acting as a system:masters user: test setup only.
func (e *Env) AdminClient() kubernetes.Interface { return e.admin }

// AdminRESTConfig returns a copy of the admin client's config.
func (e *Env) AdminRESTConfig() *rest.Config { return rest.CopyConfig(e.restConfig) }

// VaultAddr is Vault's http URL on loopback.
func (e *Env) VaultAddr() string { return e.vaultAddr }

// VaultRootToken is for test setup and inspection only; the broker must never
// be given it (it owns no Vault token at all).
func (e *Env) VaultRootToken() string { return e.vaultRootToken }

// VaultAuditLogPath is the file audit device's log.
func (e *Env) VaultAuditLogPath() string { return e.vaultAuditPath }

// KubeAuditLogPath is the apiserver's audit log.
func (e *Env) KubeAuditLogPath() string { return e.kubeAuditPath }
