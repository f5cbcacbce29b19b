package clients

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/agent/client"
)

// tokenFile is a projected-token file the test rotates like kubelet does.
type tokenFile struct{ path string }

func newTokenFile(t *testing.T, tok string) tokenFile {
	t.Helper()
	f := tokenFile{path: filepath.Join(t.TempDir(), "token")}
	f.rotate(t, tok)
	return f
}

// rotate replaces the file atomically (write aside, rename).
func (f tokenFile) rotate(t *testing.T, tok string) {
	t.Helper()
	tmp := f.path + ".new"
	if err := os.WriteFile(tmp, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		t.Fatal(err)
	}
}

func goClient(t *testing.T, f tokenFile) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: "unix://" + broker.SocketPath, TokenPath: f.path, BaseBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGoClient: the tenancy matrix and error classes through agent/client.
func TestGoClient(t *testing.T) {
	ctx := context.Background()
	cg, dp := goClient(t, newTokenFile(t, cgPod(t).token)), goClient(t, newTokenFile(t, dpPod(t).token))
	path := "kv/tokenizer/crypto-gen/goclient-" + time.Now().Format("150405.000")
	res, err := cg.Write(ctx, path, map[string]any{"k": "gc-v1"}, client.WriteOptions{CAS: client.CAS(0)})
	if err != nil || res.Version != 1 {
		t.Fatalf("write: %+v %v", res, err)
	}
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"cg read", func() error { s, err := cg.Read(ctx, path, 0); return expect(err, s != nil && s.Data["k"] == "gc-v1") }, nil},
		{"cg patch", func() error {
			_, err := cg.Patch(ctx, path, map[string]any{"p": "x"}, client.WriteOptions{})
			return err
		}, nil},
		{"cg read version 1", func() error { s, err := cg.Read(ctx, path, 1); return expect(err, s != nil && s.Data["p"] == nil) }, nil},
		{"cg list", func() error {
			keys, err := cg.List(ctx, "kv/tokenizer/crypto-gen/")
			return expect(err, strings.Contains(strings.Join(keys, ","), filepath.Base(path)))
		}, nil},
		{"cg versions", func() error { m, err := cg.Versions(ctx, path); return expect(err, m["current_version"] == float64(2)) }, nil},
		{"cg cas conflict", func() error {
			_, err := cg.Write(ctx, path, map[string]any{"k": "v"}, client.WriteOptions{CAS: client.CAS(0)})
			return err
		}, client.ErrConflict},
		{"cg delete denied by vault policy", func() error { return cg.Delete(ctx, path) }, client.ErrDenied},
		{"cg missing", func() error { _, err := cg.Read(ctx, "kv/tokenizer/crypto-gen/absent", 0); return err }, client.ErrNotFound},
		{"dp reads own", func() error {
			s, err := dp.Read(ctx, "kv/tokenizer/data-plane/config", 0)
			return expect(err, s != nil && s.Data["dsn"] == dpValue)
		}, nil},
		{"dp write denied", func() error {
			_, err := dp.Write(ctx, "kv/tokenizer/data-plane/x", map[string]any{"a": "b"}, client.WriteOptions{})
			return err
		}, client.ErrDenied},
		{"dp cannot read crypto-gen", func() error { _, err := dp.Read(ctx, path, 0); return err }, client.ErrDenied},
		{"dp cannot read control-plane", func() error { _, err := dp.Read(ctx, "kv/tokenizer/control-plane/key", 0); return err }, client.ErrDenied},
		{"bad path", func() error { _, err := dp.Read(ctx, "kv/tokenizer/data-plane/../crypto-gen/x", 0); return err }, client.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			var e *client.Error
			if tt.want != nil && (!errors.As(err, &e) || e.Code == "" || (e.Status != 0 && e.RequestID == "")) {
				t.Fatalf("error %v lacks the broker's code or request id", err)
			}
			assertNoCredential(t, "client error", errString(err))
		})
	}
}

var errUnexpected = errors.New("unexpected result")

func expect(err error, ok bool) error {
	if err == nil && !ok {
		return errUnexpected
	}
	return err
}

// TestTokenRotation: the token file is replaced mid-run while reads keep
// going; the client picks up each new file (a garbage token is refused, a
// token of another pod is that pod, the re-minted token works).
func TestTokenRotation(t *testing.T) {
	ctx := context.Background()
	cgp := cgPod(t)
	f := newTokenFile(t, cgp.token)
	c := goClient(t, f)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Read(ctx, "kv/tokenizer/crypto-gen/seeded", 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	second := cgp.remint(t)
	f.rotate(t, second)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("read during rotation: %v", err)
	}
	steps := []struct {
		name, token string
		want        error
	}{
		{"garbage token", "not-a-jwt", client.ErrUnauthenticated},
		{"another pod's token", dpPod(t).token, client.ErrDenied},
		{"re-minted token of the same pod", second, nil},
	}
	for _, s := range steps {
		f.rotate(t, s.token)
		_, err := c.Read(ctx, "kv/tokenizer/crypto-gen/seeded", 0)
		if (s.want == nil && err != nil) || (s.want != nil && !errors.Is(err, s.want)) {
			t.Fatalf("%s: err %v, want %v", s.name, err, s.want)
		}
	}
}

// brokerctl runs the real binary with an explicit environment.
func brokerctl(t *testing.T, tokenPath string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, brokerctlBin, args...)
	cmd.Env = []string{"SECRETS_BROKER_URL=unix://" + broker.SocketPath, "SECRETS_BROKER_TOKEN_PATH=" + tokenPath, "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	assertNoCredential(t, "brokerctl output", string(out))
	return string(out), code
}

// TestBrokerctl: exit codes per error class against the real broker, with
// the token file rotated between invocations.
func TestBrokerctl(t *testing.T) {
	cgp := cgPod(t)
	cgFile, dpFile := newTokenFile(t, cgp.token), newTokenFile(t, dpPod(t).token)
	path := "kv/tokenizer/crypto-gen/ctl-" + time.Now().Format("150405.000")
	tests := []struct {
		name     string
		file     tokenFile
		rotateTo string
		args     []string
		wantCode int
		want     string
	}{
		{"write", cgFile, "", []string{"write", path, "user=u1", "pass=p1", "-cas", "0"}, 0, "version 1"},
		{"read field", cgFile, "", []string{"read", path, "-field", "pass"}, 0, "p1"},
		{"read json", cgFile, "", []string{"--json", "read", path}, 0, `"user": "u1"`},
		{"list", cgFile, "", []string{"list", "kv/tokenizer/crypto-gen/"}, 0, filepath.Base(path)},
		{"versions", cgFile, "", []string{"versions", path}, 0, `"current_version": 1`},
		{"cas conflict", cgFile, "", []string{"write", path, "a=b", "-cas", "0"}, 5, "cas_conflict"},
		{"after rotation", cgFile, cgp.remint(t), []string{"patch", path, "extra=x"}, 0, "version 2"},
		{"delete denied by vault policy", cgFile, "", []string{"delete", path}, 4, "vault_denied"},
		{"missing", cgFile, "", []string{"read", "kv/tokenizer/crypto-gen/absent"}, 3, "not_found"},
		{"dp reads own", dpFile, "", []string{"read", "kv/tokenizer/data-plane/config"}, 0, "dsn=" + dpValue},
		{"dp write denied", dpFile, "", []string{"write", "kv/tokenizer/data-plane/x", "a=b"}, 4, "vault_denied"},
		{"dp cannot read crypto-gen", dpFile, "", []string{"read", path}, 4, "vault_denied"},
		{"bad path", dpFile, "", []string{"read", "kv/a//b"}, 7, "bad_path"},
		{"garbage token", dpFile, "garbage", []string{"read", "kv/tokenizer/data-plane/config"}, 6, "unauthenticated"},
		{"usage", dpFile, "", []string{"read"}, 2, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rotateTo != "" {
				tt.file.rotate(t, tt.rotateTo)
			}
			out, code := brokerctl(t, tt.file.path, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d output %q; want %d containing %q", code, out, tt.wantCode, tt.want)
			}
		})
	}
}
