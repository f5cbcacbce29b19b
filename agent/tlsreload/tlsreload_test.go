package tlsreload

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// selfSigned returns a PEM certificate and key whose serial is serial.
func selfSigned(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "secrets-broker"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// secretDir lays out a directory the way kubelet mounts a TLS Secret:
// tls.crt -> ..data/tls.crt, ..data -> ..<version>.
type secretDir struct {
	t   *testing.T
	dir string
	n   int
}

func newSecretDir(t *testing.T, cert, key []byte) *secretDir {
	s := &secretDir{t: t, dir: t.TempDir()}
	s.swap(cert, key)
	for _, name := range []string{"tls.crt", "tls.key"} {
		must(t, os.Symlink(filepath.Join("..data", name), filepath.Join(s.dir, name)))
	}
	return s
}

// swap is kubelet's atomic update: new versioned dir, rename ..data_tmp
// over ..data, remove the old version.
func (s *secretDir) swap(cert, key []byte) {
	old := filepath.Join(s.dir, "..v"+string(rune('0'+s.n)))
	s.n++
	ver := "..v" + string(rune('0'+s.n))
	must(s.t, os.Mkdir(filepath.Join(s.dir, ver), 0o700))
	must(s.t, os.WriteFile(filepath.Join(s.dir, ver, "tls.crt"), cert, 0o600))
	must(s.t, os.WriteFile(filepath.Join(s.dir, ver, "tls.key"), key, 0o600))
	must(s.t, os.Symlink(ver, filepath.Join(s.dir, "..data_tmp")))
	must(s.t, os.Rename(filepath.Join(s.dir, "..data_tmp"), filepath.Join(s.dir, "..data")))
	if s.n > 1 {
		must(s.t, os.RemoveAll(old))
	}
}

func (s *secretDir) files() (string, string) {
	return filepath.Join(s.dir, "tls.crt"), filepath.Join(s.dir, "tls.key")
}

// serve runs a TLS listener on loopback using r and the watcher, both
// stopped when the test ends.
func serve(t *testing.T, r *Reloader) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.TLSConfig())
	must(t, err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		_ = ln.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	time.Sleep(50 * time.Millisecond) // let the watch start
	return ln.Addr().String()
}

// servedSerial connects and returns the serial of the certificate served.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	must(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func waitServed(t *testing.T, addr string, want int64) {
	t.Helper()
	var got int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = servedSerial(t, addr); got == want {
			return
		}
	}
	t.Fatalf("served serial %d, want %d", got, want)
}

// syncBuffer is a log sink the watcher goroutine and the test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newReloader(t *testing.T, certFile, keyFile string, logs *syncBuffer) *Reloader {
	t.Helper()
	r, err := New(certFile, keyFile, zerolog.New(logs))
	must(t, err)
	r.debounce = 20 * time.Millisecond
	return r
}

func TestSecretSwapAndBrokenPair(t *testing.T) {
	var logs syncBuffer
	c1, k1 := selfSigned(t, 1)
	sd := newSecretDir(t, c1, k1)
	certFile, keyFile := sd.files()
	r := newReloader(t, certFile, keyFile, &logs)
	addr := serve(t, r)
	if got := servedSerial(t, addr); got != 1 {
		t.Fatalf("served serial %d, want 1", got)
	}

	c2, k2 := selfSigned(t, 2)
	sd.swap(c2, k2)
	waitServed(t, addr, 2)

	c3, _ := selfSigned(t, 3)
	_, k4 := selfSigned(t, 4)
	before := r.failures.Load()
	sd.swap(c3, k4) // certificate and key do not match
	deadline := time.Now().Add(5 * time.Second)
	for r.failures.Load() == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r.failures.Load() == before {
		t.Fatal("broken pair was never tried")
	}
	if got := servedSerial(t, addr); got != 2 {
		t.Errorf("after broken pair served serial %d, want 2", got)
	}
	if !strings.Contains(logs.String(), "tls certificate reload failed") {
		t.Errorf("broken pair not logged:\n%s", logs.String())
	}

	c5, k5 := selfSigned(t, 5)
	sd.swap(c5, k5)
	waitServed(t, addr, 5)
}

func TestPlainFilesRewritten(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c1, k1 := selfSigned(t, 1)
	must(t, os.WriteFile(certFile, c1, 0o600))
	must(t, os.WriteFile(keyFile, k1, 0o600))
	r := newReloader(t, certFile, keyFile, &syncBuffer{})
	addr := serve(t, r)

	c2, k2 := selfSigned(t, 2)
	must(t, os.WriteFile(certFile, c2, 0o600))
	must(t, os.WriteFile(keyFile, k2, 0o600))
	waitServed(t, addr, 2)
}

func TestNewRefusesBadPair(t *testing.T) {
	dir := t.TempDir()
	c1, k1 := selfSigned(t, 1)
	_, k2 := selfSigned(t, 2)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, data, 0o600))
		return p
	}
	cert, key, otherKey := write("c.pem", c1), write("k.pem", k1), write("k2.pem", k2)
	garbage := write("garbage.pem", []byte("not pem"))
	tests := []struct{ name, cert, key string }{
		{"missing cert", filepath.Join(dir, "nope"), key},
		{"missing key", cert, filepath.Join(dir, "nope")},
		{"garbage cert", garbage, key},
		{"mismatched key", cert, otherKey},
		{"empty names", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cert, tt.key, zerolog.Nop()); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
	r, err := New(cert, key, zerolog.Nop())
	must(t, err)
	cfg := r.TLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 || cfg.GetCertificate == nil {
		t.Errorf("TLSConfig = MinVersion %x, GetCertificate set %v", cfg.MinVersion, cfg.GetCertificate != nil)
	}
}
