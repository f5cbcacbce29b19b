package peer

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// serve runs an http.Server with ConnContext over l and returns what the
// handler saw of the peer.
func serve(t *testing.T, l net.Listener) {
	t.Helper()
	srv := &http.Server{
		ConnContext: ConnContext,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info, ok := FromContext(r.Context())
			if !ok {
				http.Error(w, "no peer", http.StatusInternalServerError)
				return
			}
			rev := ""
			if err := info.Revalidate(); err != nil {
				rev = err.Error()
			}
			json.NewEncoder(w).Encode(seen{info.Transport, info.PID, info.UID, info.GID, info.RemoteIP.String(), rev})
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

type seen struct {
	Transport  Transport
	PID        int32
	UID, GID   uint32
	RemoteIP   string
	Revalidate string
}

func get(t *testing.T, network, addr string) seen {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	resp, err := c.Get("http://broker/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// shortSocket returns a socket path well under the 108-byte sun_path limit.
func shortSocket(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s.sock")
}

func TestUnixPeerCredentialsOverHTTP(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pidfd bool
	}{{"SO_PEERPIDFD handle", true}, {"proc dir handle", false}} {
		t.Run(tt.name, func(t *testing.T) {
			setPeerPIDFD(t, tt.pidfd)
			path := shortSocket(t)
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			serve(t, NewListener(l, "/proc"))
			got := get(t, "unix", path)
			want := seen{Unix, int32(os.Getpid()), uint32(os.Geteuid()), uint32(os.Getegid()), "invalid IP", ""}
			if got != want {
				t.Fatalf("peer = %+v, want %+v", got, want)
			}
		})
	}
}

func TestTCPRemoteIP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, NewListener(l, "/proc"))
	got := get(t, "tcp", l.Addr().String())
	want := seen{Transport: TCP, RemoteIP: "127.0.0.1"}
	if got != want {
		t.Fatalf("peer = %+v, want %+v", got, want)
	}
}

func TestFromConnUnwraps(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	raw, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tests := []struct {
		name string
		conn net.Conn
	}{
		{"plain TCP, not from NewListener", raw},
		{"TLS over plain TCP", tls.Server(raw, &tls.Config{})},
		{"TLS over NewListener conn", tls.Server(&conn{Conn: raw, info: infoFromAddr(raw.RemoteAddr())}, &tls.Config{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, ok := FromContext(ConnContext(context.Background(), tt.conn))
			if !ok || info.Transport != TCP || info.RemoteIP != netip.MustParseAddr("127.0.0.1") || info.Err() != nil {
				t.Fatalf("info = %+v, ok %v", info, ok)
			}
		})
	}
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("FromContext on an empty context reported a peer")
	}
}

// TestListenerSurvivesUnreadablePeer: a peer whose process cannot be found
// under procRoot gets a connection with Err set; the listener keeps serving.
func TestListenerSurvivesUnreadablePeer(t *testing.T) {
	path := shortSocket(t)
	inner, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, t.TempDir())
	defer l.Close()
	for i := range 2 {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sc, err := l.Accept()
		if err != nil {
			t.Fatalf("accept %d: %v", i, err)
		}
		info := FromConn(sc)
		if info.Err() == nil || !errors.Is(info.Revalidate(), ErrProcessChanged) {
			t.Fatalf("accept %d: Err() = %v, Revalidate() = %v", i, info.Err(), info.Revalidate())
		}
		sc.Close()
	}
}

func TestCloseReleasesHandle(t *testing.T) {
	path := shortSocket(t)
	inner, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, "/proc")
	defer l.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	info := FromConn(sc)
	if err := info.Revalidate(); err != nil {
		t.Fatalf("Revalidate() before close = %v", err)
	}
	sc.Close()
	if err := info.Revalidate(); !errors.Is(err, ErrProcessChanged) {
		t.Fatalf("Revalidate() after close = %v, want ErrProcessChanged", err)
	}
}

func setPeerPIDFD(t *testing.T, on bool) {
	old := usePeerPIDFD
	usePeerPIDFD = on
	t.Cleanup(func() { usePeerPIDFD = old })
}
