package env

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// persistentConfig is a minimal production-shaped Vault: file storage, one
// plain-HTTP loopback listener. TLS is off because everything is loopback
// and the tests are about Vault's authorisation, not its transport.
const persistentConfig = `storage "file" {
  path = %q
}
listener "tcp" {
  address     = "127.0.0.1:%d"
  tls_disable = true
}
api_addr      = "http://127.0.0.1:%d"
disable_mlock = true
ui            = false
`

func (e *Env) startVault(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	e.vaultAddr = fmt.Sprintf("http://127.0.0.1:%d", port)
	e.vaultAuditPath = filepath.Join(e.dir, "vault-audit.log")
	if err := os.MkdirAll(e.vaultHome(), 0o700); err != nil {
		return fmt.Errorf("vault home: %w", err)
	}
	e.vaultMu.Lock()
	defer e.vaultMu.Unlock()
	if !e.opts.PersistentVault {
		e.vaultRootToken = randomHex(16)
		args := []string{"server", "-dev",
			"-dev-root-token-id=" + e.vaultRootToken,
			fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", port),
			// Otherwise dev mode writes ~/.vault-token, which the CLI then
			// silently uses when no token is given.
			"-dev-no-store-token",
		}
		e.vault, err = startServer("vault", e.bins.vault, args, e.vaultEnviron(""), filepath.Join(e.dir, "vault.log"))
		if err != nil {
			return err
		}
		return e.vault.waitReady(ctx, 30*time.Second, e.vaultHealth(http.StatusOK))
	}
	cfg := fmt.Sprintf(persistentConfig, filepath.Join(e.dir, "vault-data"), port, port)
	if err := os.WriteFile(e.vaultConfigPath(), []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("write vault config: %w", err)
	}
	return e.startPersistentVault(ctx)
}

// startPersistentVault starts the file-storage Vault, initialises it the
// first time (one key share: a test needs no Shamir ceremony) and unseals it.
// Callers hold vaultMu.
func (e *Env) startPersistentVault(ctx context.Context) error {
	var err error
	e.vault, err = startServer("vault", e.bins.vault, []string{"server", "-config=" + e.vaultConfigPath()},
		e.vaultEnviron(""), filepath.Join(e.dir, "vault.log"))
	if err != nil {
		return err
	}
	// Any health answer means the listener is up: 501 uninitialised, 503 sealed.
	listening := e.vaultHealth(http.StatusOK, http.StatusNotImplemented, http.StatusServiceUnavailable)
	if err := e.vault.waitReady(ctx, 30*time.Second, listening); err != nil {
		return err
	}
	c, err := e.VaultClient("")
	if err != nil {
		return err
	}
	if e.vaultUnsealKey == "" {
		resp, err := c.Sys().InitWithContext(ctx, &vaultapi.InitRequest{SecretShares: 1, SecretThreshold: 1})
		if err != nil {
			return fmt.Errorf("vault operator init: %w", err)
		}
		if len(resp.KeysB64) != 1 {
			return fmt.Errorf("vault operator init: got %d unseal keys, want 1", len(resp.KeysB64))
		}
		e.vaultUnsealKey, e.vaultRootToken = resp.KeysB64[0], resp.RootToken
	}
	st, err := c.Sys().UnsealWithContext(ctx, e.vaultUnsealKey)
	if err != nil {
		return fmt.Errorf("vault operator unseal: %w", err)
	}
	if st.Sealed {
		return errors.New("vault operator unseal: still sealed")
	}
	return e.vault.waitReady(ctx, 30*time.Second, e.vaultHealth(http.StatusOK))
}

// StopVault stops Vault (SIGTERM). Only with PersistentVault: a dev-mode
// Vault would lose its configuration.
func (e *Env) StopVault() error {
	if !e.opts.PersistentVault {
		return errors.New("stop vault: needs Options.PersistentVault")
	}
	e.vaultMu.Lock()
	defer e.vaultMu.Unlock()
	e.vault.stop(10 * time.Second)
	return nil
}

// StartVault starts a stopped persistent Vault on the same address and
// unseals it; data, auth config, policies and the audit device survive.
func (e *Env) StartVault(ctx context.Context) error {
	if !e.opts.PersistentVault {
		return errors.New("start vault: needs Options.PersistentVault")
	}
	e.vaultMu.Lock()
	defer e.vaultMu.Unlock()
	if e.vault != nil && e.vault.exited() == nil {
		return errors.New("start vault: already running")
	}
	if err := e.startPersistentVault(ctx); err != nil {
		if e.vault != nil {
			err = fmt.Errorf("%w\n--- vault log ---\n%s", err, e.vault.tail(30))
		}
		return fmt.Errorf("start vault: %w", err)
	}
	return nil
}

// RestartVault is StopVault then StartVault.
func (e *Env) RestartVault(ctx context.Context) error {
	if err := e.StopVault(); err != nil {
		return err
	}
	return e.StartVault(ctx)
}

// VaultClient returns a vault/api client for this Vault holding exactly
// token (none if empty). NewClient reads VAULT_TOKEN from the process
// environment; that is cleared so a developer's shell never leaks in.
func (e *Env) VaultClient(token string) (*vaultapi.Client, error) {
	c, err := vaultapi.NewClient(&vaultapi.Config{Address: e.vaultAddr})
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	c.ClearToken()
	c.ClearNamespace()
	if token != "" {
		c.SetToken(token)
	}
	return c, nil
}

// VaultCLI runs the real vault binary against this Vault with exactly token
// (none if empty) and returns its stdout. VAULT_TOKEN is set for the child
// only, never in the test process.
func (e *Env) VaultCLI(ctx context.Context, token string, args ...string) (string, error) {
	out, err := runCmd(ctx, e.vaultEnviron(token), e.bins.vault, args...)
	if err != nil {
		return out, fmt.Errorf("vault %s: %w", firstArgs(args, 2), err)
	}
	return out, nil
}

// vaultEnviron is the environment of every vault process: our address, the
// given token, and a private HOME so no ~/.vault-token is read or written.
func (e *Env) vaultEnviron(token string) []string {
	env := cleanEnviron("HOME="+e.vaultHome(), "VAULT_ADDR="+e.vaultAddr)
	if token != "" {
		env = append(env, "VAULT_TOKEN="+token)
	}
	return env
}

func (e *Env) vaultHealth(codes ...int) func(context.Context) error {
	return func(ctx context.Context) error {
		return httpStatus(ctx, http.DefaultClient, e.vaultAddr+"/v1/sys/health", "", codes...)
	}
}

func (e *Env) vaultHome() string       { return filepath.Join(e.dir, "vault-home") }
func (e *Env) vaultConfigPath() string { return filepath.Join(e.dir, "vault.hcl") }

func firstArgs(args []string, n int) string {
	if len(args) < n {
		n = len(args)
	}
	return fmt.Sprint(args[:n])
}
