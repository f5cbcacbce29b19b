// Package brokerproc builds the real secrets-broker binary and runs it as a
// child process against an integration env, exactly as a DaemonSet would
// run it: flags, a policy file in a watched directory, a kubeconfig for its
// least-privilege ServiceAccount, the Unix socket and TCP and admin ports.
package brokerproc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options describe one broker process.
type Options struct {
	Binary          string
	Dir             string // holds policy/, audit.log, broker.log; the socket goes to a short temp dir
	SocketPath      string // default: <short temp>/broker.sock
	VaultAddr       string
	Kubeconfig      string
	NodeName        string
	AttestationMode string // strict, node, off
	Policy          string // policy YAML
	TLSCert, TLSKey string
	ExtraArgs       []string
}

// Broker is a running broker process.
type Broker struct {
	opts       Options
	cmd        *exec.Cmd
	SocketPath string
	TCPAddr    string
	AdminAddr  string
	AuditPath  string
	LogPath    string
	PolicyPath string
	done       chan struct{}
	waitErr    error
	mu         sync.Mutex
}

// Start launches the broker and waits until /readyz says ready.
func Start(ctx context.Context, o Options) (*Broker, error) {
	b := &Broker{opts: o, done: make(chan struct{})}
	if err := b.prepare(); err != nil {
		return nil, err
	}
	if err := b.launch(); err != nil {
		return nil, err
	}
	if err := b.WaitReady(ctx, 30*time.Second); err != nil {
		b.Kill()
		return nil, fmt.Errorf("%w\n--- broker log tail ---\n%s", err, b.LogTail(30))
	}
	return b, nil
}

func (b *Broker) prepare() error {
	o := b.opts
	if b.SocketPath = o.SocketPath; b.SocketPath == "" {
		sdir, err := os.MkdirTemp("", "sb") // sun_path is 108 bytes
		if err != nil {
			return err
		}
		b.SocketPath = filepath.Join(sdir, "broker.sock")
	}
	pdir := filepath.Join(o.Dir, "policy")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return err
	}
	b.PolicyPath = filepath.Join(pdir, "policy.yaml")
	if err := os.WriteFile(b.PolicyPath, []byte(o.Policy), 0o644); err != nil {
		return err
	}
	b.AuditPath = filepath.Join(o.Dir, "audit.log")
	b.LogPath = filepath.Join(o.Dir, "broker.log")
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	b.TCPAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	b.AdminAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	return nil
}

func (b *Broker) args() []string {
	o := b.opts
	mode := o.AttestationMode
	if mode == "" {
		mode = "strict"
	}
	args := []string{
		"--socket-path=" + b.SocketPath, "--listen-addr=" + b.TCPAddr, "--admin-addr=" + b.AdminAddr,
		"--policy-file=" + b.PolicyPath, "--vault-addr=" + o.VaultAddr, "--kubeconfig=" + o.Kubeconfig,
		"--node-name=" + o.NodeName, "--attestation-mode=" + mode, "--audit-log=" + b.AuditPath,
		"--log-level=debug", "--shutdown-timeout=10s",
	}
	if o.TLSCert != "" {
		args = append(args, "--tls-cert="+o.TLSCert, "--tls-key="+o.TLSKey)
	}
	return append(args, o.ExtraArgs...)
}

func (b *Broker) launch() error {
	logf, err := os.OpenFile(b.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(b.opts.Binary, b.args()...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// A clean environment: no VAULT_TOKEN or KUBECONFIG leaks in from the test.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start broker: %w", err)
	}
	b.cmd = cmd
	go func() {
		b.waitErr = cmd.Wait()
		_ = logf.Close()
		close(b.done)
	}()
	return nil
}

// WaitReady polls /readyz.
func (b *Broker) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-b.done:
			return fmt.Errorf("broker exited: %v", b.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get("http://" + b.AdminAddr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("broker not ready after %s", timeout)
}

// Signal sends sig to the broker.
func (b *Broker) Signal(sig syscall.Signal) error { return b.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits for a clean exit.
func (b *Broker) Stop() error {
	_ = b.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
		return b.waitErr
	case <-time.After(20 * time.Second):
		b.Kill()
		return fmt.Errorf("broker did not exit within 20s of SIGTERM")
	}
}

// Kill sends SIGKILL and waits.
func (b *Broker) Kill() {
	_ = b.Signal(syscall.SIGKILL)
	<-b.done
}

// Done is closed when the process has exited.
func (b *Broker) Done() <-chan struct{} { return b.done }

// Logs returns the broker's stderr/stdout so far.
func (b *Broker) Logs() string {
	data, _ := os.ReadFile(b.LogPath)
	return string(data)
}

// LogTail returns the last n log lines.
func (b *Broker) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(b.Logs(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// AuditLines returns the audit stream's lines so far.
func (b *Broker) AuditLines() []string {
	f, err := os.Open(b.AuditPath)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// Metrics returns the /metrics text.
func (b *Broker) Metrics() (string, error) {
	resp, err := http.Get("http://" + b.AdminAddr + "/metrics")
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	return string(data), err
}

// WritePolicy replaces the policy file the way kubelet updates a
// ConfigMap volume closely enough for the directory watch: write a temp
// file and rename it over the old one.
func (b *Broker) WritePolicy(policy string) error {
	tmp := b.PolicyPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(policy), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, b.PolicyPath)
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
