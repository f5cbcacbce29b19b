package env

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// server is one child process. It runs in its own process group so that Stop
// also reaches anything it forks, and with Pdeathsig so that a test binary
// killed by `go test -timeout` does not leave servers holding ports.
type server struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error // valid once done is closed
}

// startServer starts bin with args; stdout and stderr append to logPath.
func startServer(name, bin string, args, environ []string, logPath string) (*server, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = environ
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		f.Close()
		close(s.done)
	}()
	return s, nil
}

// exited reports a non-nil error once the process has ended.
func (s *server) exited() error {
	select {
	case <-s.done:
		if s.waitErr != nil {
			return fmt.Errorf("%s exited: %w", s.name, s.waitErr)
		}
		return fmt.Errorf("%s exited", s.name)
	default:
		return nil
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (s *server) stop(grace time.Duration) {
	if s == nil || s.exited() != nil {
		// Already reaped: its pid may belong to someone else by now.
		return
	}
	pgid := -s.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(grace):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-s.done
	}
	// Children that ignored SIGTERM must not outlive the leader.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
}

// tail returns roughly the last n lines of the server's log.
func (s *server) tail(n int) string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const maxBytes = 16 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxBytes {
		_, _ = f.Seek(st.Size()-maxBytes, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady polls check every 100 ms until it succeeds, the server exits,
// timeout passes or ctx ends. The last check error explains a timeout.
func (s *server) waitReady(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if err := s.exited(); err != nil {
			return err
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w", s.name, timeout, errors.Join(ctx.Err(), last))
		case <-tick.C:
		}
	}
}

// runCmd runs a short command and returns its stdout; stderr goes into the error.
func runCmd(ctx context.Context, environ []string, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// cleanEnviron is os.Environ without VAULT_* and KUBECONFIG, so a developer's
// shell never leaks a token or cluster into the servers or the CLI.
func cleanEnviron(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VAULT_") || strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}
