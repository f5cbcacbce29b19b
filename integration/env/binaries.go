package env

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// binaries are the real servers built by integration/servers/build.sh.
type binaries struct {
	vault, kubeAPIServer, etcd string
}

// locateBinaries finds each server via its env var, else in the build cache.
// A missing binary is an error, never a skip: a test that did not run must
// not look like a test that passed.
func locateBinaries() (binaries, error) {
	cache := os.Getenv("SECRETS_BROKER_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return binaries{}, fmt.Errorf("find build cache: %w", err)
		}
		cache = filepath.Join(home, ".cache", "secrets-broker")
	}
	var errs []error
	find := func(envVar, name string) string {
		p := os.Getenv(envVar)
		if p == "" {
			p = filepath.Join(cache, "bin", name)
		}
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("%s: no executable at %s (set %s or build it)", name, p, envVar))
			return ""
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return p
	}
	b := binaries{
		vault:         find("SECRETS_BROKER_VAULT_BIN", "vault"),
		kubeAPIServer: find("SECRETS_BROKER_KUBE_APISERVER_BIN", "kube-apiserver"),
		etcd:          find("SECRETS_BROKER_ETCD_BIN", "etcd"),
	}
	if len(errs) > 0 {
		errs = append(errs, errors.New("run integration/servers/build.sh (first build ≈30 min; cached afterwards)"))
		return binaries{}, fmt.Errorf("locate server binaries: %w", errors.Join(errs...))
	}
	return b, nil
}
