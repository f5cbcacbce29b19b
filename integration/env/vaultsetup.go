package env

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// findVaultConfigDir locates deploy/vault, the one copy of the Vault setup
// that operators use too: explicit option, then env var, then this
// repository (walking up from the working directory, then from this file).
func findVaultConfigDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("SECRETS_BROKER_VAULT_CONFIG_DIR")
	}
	var candidates []string
	if dir != "" {
		candidates = []string{dir}
	} else {
		if wd, err := os.Getwd(); err == nil {
			for d := wd; ; d = filepath.Dir(d) {
				candidates = append(candidates, filepath.Join(d, "deploy", "vault"))
				if filepath.Dir(d) == d {
					break
				}
			}
		}
		if _, file, _, ok := runtime.Caller(0); ok {
			candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "..", "deploy", "vault"))
		}
	}
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, "setup.sh")); err == nil {
			return filepath.Abs(c)
		}
	}
	return "", fmt.Errorf("find deploy/vault/setup.sh (looked in %v): set Options.VaultConfigDir or SECRETS_BROKER_VAULT_CONFIG_DIR", candidates)
}

// RunVaultSetup runs deploy/vault/setup.sh exactly as an operator would,
// with the built vault binary first on PATH, so the shipped script is what
// the tests exercise; it also turns on the file audit device. Start runs it
// once; tests may run it again (it is idempotent).
func (e *Env) RunVaultSetup(ctx context.Context) error {
	if e.reviewerJWT == "" {
		return errors.New("no reviewer JWT")
	}
	// setup.sh calls `vault`; the binary may be named anything (env var),
	// so put a link named vault first on PATH.
	binDir := filepath.Join(e.dir, "bin")
	if err := os.MkdirAll(binDir, 0o700); err != nil {
		return fmt.Errorf("bin dir: %w", err)
	}
	if err := os.Symlink(e.bins.vault, filepath.Join(binDir, "vault")); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("link vault binary: %w", err)
	}
	environ := append(e.vaultEnviron(e.vaultRootToken),
		"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"K8S_HOST="+e.apiURL,
		"K8S_CA_FILE="+e.caFile,
		"REVIEWER_JWT="+e.reviewerJWT,
		"AUDIT_FILE_PATH="+e.vaultAuditPath,
	)
	out, err := runCmd(ctx, environ, "bash", filepath.Join(e.opts.VaultConfigDir, "setup.sh"))
	if err := os.WriteFile(filepath.Join(e.dir, "vault-setup.log"), []byte(out), 0o600); err != nil {
		return fmt.Errorf("write setup log: %w", err)
	}
	if err != nil {
		return fmt.Errorf("run setup.sh: %w\n%s", err, out)
	}
	return nil
}
