package env

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// serviceAccountIssuer is the issuer (and API audience) of every
// ServiceAccount token this apiserver mints, as in a real cluster.
const serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// auditPolicy records what tests count: TokenReviews (who asked, how often)
// and pod reads (does the broker use its informer or hammer the apiserver).
// Metadata level keeps tokens out of the log: TokenReview bodies hold them.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: authentication.k8s.io
    resources: ["tokenreviews"]
- level: Metadata
  verbs: ["get", "list", "watch"]
  resources:
  - group: ""
    resources: ["pods"]
- level: None
`

func (e *Env) startEtcd(ctx context.Context) error {
	clientPort, err := freePort()
	if err != nil {
		return err
	}
	peerPort, err := freePort()
	if err != nil {
		return err
	}
	e.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	args := []string{
		"--data-dir=" + filepath.Join(e.dir, "etcd"),
		"--listen-client-url=" + e.etcdURL,
		fmt.Sprintf("--listen-peer-url=http://127.0.0.1:%d", peerPort),
	}
	e.etcd, err = startServer("etcd", e.bins.etcd, args, cleanEnviron(), filepath.Join(e.dir, "etcd.log"))
	if err != nil {
		return err
	}
	return e.etcd.waitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		return httpStatus(ctx, http.DefaultClient, e.etcdURL+"/health", "", http.StatusOK)
	})
}

func (e *Env) startAPIServer(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	files, err := e.writeAPIServerFiles()
	if err != nil {
		return err
	}
	certDir := filepath.Join(e.dir, "apiserver-certs")
	e.caFile = filepath.Join(certDir, "apiserver.crt")
	e.kubeAuditPath = filepath.Join(e.dir, "kube-audit.log")
	e.apiURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	args := []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The default reconciler would publish 127.0.0.1 as the kubernetes
		// Service endpoint, which the apiserver refuses for loopback.
		"--endpoint-reconciler-type=none",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + certDir,
		"--etcd-servers=" + e.etcdURL,
		"--token-auth-file=" + files.tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + serviceAccountIssuer,
		"--api-audiences=" + serviceAccountIssuer,
		"--service-account-key-file=" + files.saKey,
		"--service-account-signing-key-file=" + files.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--audit-policy-file=" + files.auditPolicy,
		"--audit-log-path=" + e.kubeAuditPath,
		// Blocking mode writes the event before the response goes out, so a
		// count taken right after a call already includes it.
		"--audit-log-mode=blocking",
		"--profiling=false",
	}
	e.apiserver, err = startServer("kube-apiserver", e.bins.kubeAPIServer, args, cleanEnviron(), filepath.Join(e.dir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	// The serving cert is generated at startup; wait for it before building
	// clients that trust it.
	err = e.apiserver.waitReady(ctx, 60*time.Second, func(context.Context) error {
		_, err := os.Stat(e.caFile)
		return err
	})
	if err != nil {
		return err
	}
	e.restConfig = &rest.Config{
		Host:            e.apiURL,
		BearerToken:     e.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAFile: e.caFile},
		QPS:             100,
		Burst:           200,
	}
	cs, err := kubernetes.NewForConfig(e.restConfig)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	e.admin = cs
	return e.apiserver.waitReady(ctx, 90*time.Second, func(ctx context.Context) error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

type apiServerFiles struct{ tokens, saKey, auditPolicy string }

// writeAPIServerFiles writes the static admin token, the ServiceAccount
// signing key and the audit policy.
func (e *Env) writeAPIServerFiles() (apiServerFiles, error) {
	f := apiServerFiles{
		tokens:      filepath.Join(e.dir, "tokens.csv"),
		saKey:       filepath.Join(e.dir, "sa.key"),
		auditPolicy: filepath.Join(e.dir, "audit-policy.yaml"),
	}
	e.adminToken = randomHex(24)
	if err := os.WriteFile(f.tokens, []byte(e.adminToken+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return f, fmt.Errorf("write token file: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return f, fmt.Errorf("generate service account key: %w", err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(f.saKey, pemKey, 0o600); err != nil {
		return f, fmt.Errorf("write service account key: %w", err)
	}
	if err := os.WriteFile(f.auditPolicy, []byte(auditPolicy), 0o600); err != nil {
		return f, fmt.Errorf("write audit policy: %w", err)
	}
	return f, nil
}
