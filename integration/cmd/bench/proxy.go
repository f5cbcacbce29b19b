package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/env"
)

// tlsFiles is the HTTPS broker's self-signed pair and a pool trusting it.
type tlsFiles struct {
	Cert, Key string
	Pool      *x509.CertPool
}

// writeSelfSigned makes an ECDSA P-256 certificate for 127.0.0.1 in dir
// (its own directory: the broker watches the directory of the files).
func writeSelfSigned(dir string) (*tlsFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "secrets-broker-bench"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	f := &tlsFiles{Cert: filepath.Join(dir, "tls.crt"), Key: filepath.Join(dir, "tls.key"), Pool: x509.NewCertPool()}
	if err := os.WriteFile(f.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f.Key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	f.Pool.AddCert(cert)
	return f, nil
}

func (f *tlsFiles) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: f.Pool, MinVersion: tls.VersionTLS12}
}

// proxyConfig is a per-pod Vault Proxy as a user would otherwise deploy
// it: kubernetes auto-auth with the pod's bound token, every request sent
// with the auto-auth token, a unix listener, no response cache.
const proxyConfig = `pid_file = %q
vault {
  address = %q
}
auto_auth {
  method "kubernetes" {
    mount_path = "auth/kubernetes"
    config = {
      role       = %q
      token_path = %q
    }
  }
}
api_proxy {
  use_auto_auth_token = true
}
listener "unix" {
  address     = %q
  tls_disable = true
}
`

// vaultProxy is a running `vault proxy`.
type vaultProxy struct {
	cmd    *exec.Cmd
	socket string
	done   chan struct{}
}

func (r *rig) startProxy(ctx context.Context) error {
	bin, err := vaultBinary()
	if err != nil {
		return err
	}
	dir := filepath.Join(r.dir, "proxy")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	sdir, err := os.MkdirTemp("", "sbp") // sun_path is 108 bytes
	if err != nil {
		return err
	}
	tokenPath := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenPath, []byte(r.proxyPod.JWT), 0o600); err != nil {
		return err
	}
	p := &vaultProxy{socket: filepath.Join(sdir, "proxy.sock"), done: make(chan struct{})}
	cfgPath := filepath.Join(dir, "proxy.hcl")
	hcl := fmt.Sprintf(proxyConfig, filepath.Join(dir, "pid"), r.env.VaultAddr(), env.CryptoGenRole, tokenPath, p.socket)
	if err := os.WriteFile(cfgPath, []byte(hcl), 0o600); err != nil {
		return err
	}
	logf2, err := os.Create(filepath.Join(dir, "proxy.log"))
	if err != nil {
		return err
	}
	p.cmd = exec.Command(bin, "proxy", "-config="+cfgPath)
	p.cmd.Stdout, p.cmd.Stderr = logf2, logf2
	// No VAULT_TOKEN or VAULT_ADDR from our environment; a private HOME.
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start vault proxy: %w", err)
	}
	go func() { _ = p.cmd.Wait(); _ = logf2.Close(); close(p.done) }()
	r.proxy = p
	return p.waitServing(ctx, unixClient(p.socket, 1), filepath.Join(dir, "proxy.log"))
}

// waitServing polls until the proxy answers the bench read with 200, i.e.
// auto-auth has logged in.
func (p *vaultProxy) waitServing(ctx context.Context, c *http.Client, logPath string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("vault proxy exited:\n%s", b)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://proxy/v1/kv/data/"+secretPath, nil)
		if resp, err := c.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	b, _ := os.ReadFile(logPath)
	return fmt.Errorf("vault proxy not serving after 60s:\n%s", b)
}

func (p *vaultProxy) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	_ = os.RemoveAll(filepath.Dir(p.socket))
}

// vaultBinary is the Vault the real environment built (it includes
// `vault proxy`), found as integration/env finds it.
func vaultBinary() (string, error) {
	if p := os.Getenv("SECRETS_BROKER_VAULT_BIN"); p != "" {
		return p, nil
	}
	cache := os.Getenv("SECRETS_BROKER_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache", "secrets-broker")
	}
	p := filepath.Join(cache, "bin", "vault")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("vault binary: %w", err)
	}
	return p, nil
}
