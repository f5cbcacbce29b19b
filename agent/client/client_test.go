// Unit tests: an httptest server plays the broker's /api/v1 (our own API,
// not a Vault stand-in). The real broker is exercised in integration/clients.
package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func jwt(sub string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(fmt.Appendf(nil, `{"sub":%q,"exp":%d}`, sub, exp.Unix())) + ".sig"
}

// writeAtomic replaces the file the way kubelet does: write aside, rename.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// fakeBroker answers each request with the next canned reply and records
// the bearer tokens it saw.
type fakeBroker struct {
	mu      sync.Mutex
	replies []reply
	seen    []string
	paths   []string
}

type reply struct {
	status int
	body   string
	header map[string]string
}

func (f *fakeBroker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	f.paths = append(f.paths, r.Method+" "+r.URL.RequestURI())
	rep := reply{status: 200, body: `{}`}
	if len(f.replies) > 0 {
		rep, f.replies = f.replies[0], f.replies[1:]
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write([]byte(rep.body))
}

func (f *fakeBroker) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

func newTestClient(t *testing.T, fb *fakeBroker) (*Client, string) {
	t.Helper()
	srv := httptest.NewServer(fb)
	t.Cleanup(srv.Close)
	tokPath := filepath.Join(t.TempDir(), "token")
	writeAtomic(t, tokPath, jwt("a", time.Now().Add(time.Hour)))
	c, err := New(Config{URL: srv.URL, TokenPath: tokPath, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	return c, tokPath
}

func brokerError(status int, code string) reply {
	return reply{status: status, body: fmt.Sprintf(`{"error":{"code":%q,"message":"m","request_id":"rid-%d"}}`, code, status)}
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   error
	}{
		{400, "bad_path", ErrBadRequest},
		{401, "unauthenticated", ErrUnauthenticated},
		{403, "vault_denied", ErrDenied},
		{404, "not_found", ErrNotFound},
		{405, "method_not_allowed", ErrBadRequest},
		{409, "cas_conflict", ErrConflict},
		{413, "body_too_large", ErrBadRequest},
		{429, "rate_limited", ErrUnavailable},
		{502, "vault_error", ErrUnavailable},
		{503, "vault_unavailable", ErrUnavailable},
		{504, "vault_timeout", ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			fb := &fakeBroker{}
			for range 3 {
				fb.replies = append(fb.replies, brokerError(tt.status, tt.code))
			}
			c, _ := newTestClient(t, fb)
			_, err := c.Read(context.Background(), "kv/a", 0)
			var e *Error
			if !errors.Is(err, tt.want) || !errors.As(err, &e) || e.Code != tt.code || e.RequestID != fmt.Sprintf("rid-%d", tt.status) {
				t.Fatalf("err %v, want class %v with code %s and request id", err, tt.want, tt.code)
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Fatalf("error holds the token: %v", err)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	unavailable := brokerError(503, "vault_unavailable")
	tests := []struct {
		name      string
		call      func(*Client) error
		replies   []reply
		wantCalls int
		wantErr   error
	}{
		{"read retried until ok", func(c *Client) error { _, err := c.Read(context.Background(), "kv/a", 0); return err },
			[]reply{unavailable, unavailable, {status: 200, body: `{"data":{"k":"v"},"version":1}`}}, 3, nil},
		{"read gives up after max attempts", func(c *Client) error { _, err := c.Read(context.Background(), "kv/a", 0); return err },
			[]reply{unavailable, unavailable, unavailable, unavailable}, 3, ErrUnavailable},
		{"read not retried on 403", func(c *Client) error { _, err := c.Read(context.Background(), "kv/a", 0); return err },
			[]reply{brokerError(403, "vault_denied")}, 1, ErrDenied},
		{"write without cas sent once", func(c *Client) error {
			_, err := c.Write(context.Background(), "kv/a", map[string]any{"k": "v"}, WriteOptions{})
			return err
		}, []reply{unavailable, {status: 200}}, 1, ErrUnavailable},
		{"write with cas retried", func(c *Client) error {
			_, err := c.Write(context.Background(), "kv/a", map[string]any{"k": "v"}, WriteOptions{CAS: CAS(0)})
			return err
		}, []reply{unavailable, {status: 200, body: `{"status":"written","version":1}`}}, 2, nil},
		{"patch without cas sent once", func(c *Client) error {
			_, err := c.Patch(context.Background(), "kv/a", map[string]any{"k": "v"}, WriteOptions{})
			return err
		}, []reply{brokerError(429, "rate_limited"), {status: 200}}, 1, ErrUnavailable},
		{"list retried on 429", func(c *Client) error { _, err := c.List(context.Background(), "kv/"); return err },
			[]reply{brokerError(429, "rate_limited"), {status: 200, body: `{"keys":["a"]}`}}, 2, nil},
		{"delete retried on 504", func(c *Client) error { return c.Delete(context.Background(), "kv/a") },
			[]reply{brokerError(504, "vault_timeout"), {status: 200}}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := &fakeBroker{replies: tt.replies}
			c, _ := newTestClient(t, fb)
			err := tt.call(c)
			if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if fb.calls() != tt.wantCalls {
				t.Fatalf("%d calls, want %d", fb.calls(), tt.wantCalls)
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	fb := &fakeBroker{replies: []reply{{status: 503, body: `{}`, header: map[string]string{"Retry-After": "1"}}, {status: 200, body: `{}`}}}
	c, _ := newTestClient(t, fb)
	start := time.Now()
	if _, err := c.Read(context.Background(), "kv/a", 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("retried after %v, want at least the 1 s Retry-After", d)
	}
	// A deadline shorter than Retry-After ends the call at once.
	fb.replies = []reply{{status: 503, body: `{}`, header: map[string]string{"Retry-After": "10"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := c.Read(ctx, "kv/a", 0); !errors.Is(err, ErrUnavailable) || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestRetryableClassification(t *testing.T) {
	refused := &Error{Kind: ErrUnavailable, cause: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	reset := &Error{Kind: ErrUnavailable, cause: &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}
	noToken := &Error{Kind: ErrUnauthenticated, cause: os.ErrNotExist}
	tests := []struct {
		name       string
		err        error
		idempotent bool
		want       bool
	}{
		{"refused, write without cas", refused, false, true},
		{"reset, write without cas", reset, false, false},
		{"reset, read", reset, true, true},
		{"no token file", noToken, true, false},
		{"503 write", &Error{Kind: ErrUnavailable, Status: 503}, false, false},
		{"500 read", &Error{Kind: ErrUnavailable, Status: 500}, true, false},
		{"plain error", errors.New("x"), true, false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err, tt.idempotent); got != tt.want {
			t.Errorf("%s: retryable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestTokenRotation(t *testing.T) {
	fb := &fakeBroker{}
	c, tokPath := newTestClient(t, fb)
	first, second := jwt("first", time.Now().Add(time.Hour)), jwt("second", time.Now().Add(2*time.Hour))
	writeAtomic(t, tokPath, first+"\n")
	if _, err := c.Read(context.Background(), "kv/a", 0); err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, tokPath, second)
	if _, err := c.Read(context.Background(), "kv/a", 0); err != nil {
		t.Fatal(err)
	}
	if fb.seen[0] != first || fb.seen[1] != second {
		t.Fatalf("tokens sent %q, want first then second", fb.seen)
	}
	t.Run("expired token never sent", func(t *testing.T) {
		writeAtomic(t, tokPath, jwt("old", time.Now().Add(-time.Second)))
		n := fb.calls()
		_, err := c.Read(context.Background(), "kv/a", 0)
		if !errors.Is(err, ErrUnauthenticated) || fb.calls() != n {
			t.Fatalf("err %v, %d calls made", err, fb.calls()-n)
		}
	})
	t.Run("401 re-reads a rotated file once", func(t *testing.T) {
		third := jwt("third", time.Now().Add(time.Hour))
		writeAtomic(t, tokPath, third)
		// Pretend the rotation raced the stat check: the cache still holds
		// "first" with the new file's stat, and the broker refuses "first".
		fi, err := os.Stat(tokPath)
		if err != nil {
			t.Fatal(err)
		}
		c.token.mu.Lock()
		c.token.stat, c.token.tok, c.token.exp = fi, first, time.Time{}
		c.token.mu.Unlock()
		fb.mu.Lock()
		fb.replies = []reply{brokerError(401, "unauthenticated")}
		n := len(fb.seen)
		fb.mu.Unlock()
		if _, err := c.Read(context.Background(), "kv/a", 0); err != nil {
			t.Fatal(err)
		}
		if got := fb.seen[n:]; len(got) != 2 || got[0] != first || got[1] != third {
			t.Fatalf("tokens %q, want first then third", got)
		}
	})
}

func TestUnixSocketAndPaths(t *testing.T) {
	fb := &fakeBroker{replies: []reply{{status: 200, body: `{"data":{"k":"v"},"version":3}`}}}
	dir, err := os.MkdirTemp("", "sbc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "b.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: fb}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	tok := filepath.Join(dir, "token")
	writeAtomic(t, tok, jwt("a", time.Now().Add(time.Hour)))
	c, err := New(Config{URL: "unix://" + sock, TokenPath: tok})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Read(context.Background(), "kv/tokenizer/a b?x", 3)
	if err != nil || s.Data["k"] != "v" || s.Version != 3 {
		t.Fatalf("read %+v %v", s, err)
	}
	if fb.paths[0] != "GET /api/v1/read/kv/tokenizer/a%20b%3Fx?version=3" {
		t.Fatalf("request line %q", fb.paths[0])
	}
	for _, bad := range []string{"", "/", "kv//a", "kv/../a", "kv/./a"} {
		if _, err := c.Read(context.Background(), bad, 0); !errors.Is(err, ErrBadRequest) {
			t.Errorf("path %q: err %v, want ErrBadRequest", bad, err)
		}
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "unix://", "http://", "::"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}
