package reliability

import (
	"bufio"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
)

// rawRequest sends bytes exactly as given (no client-side cleaning or
// validation of the request line) over the socket and reads one response.
func rawRequest(socket, req string) (brokerproc.Response, error) {
	conn, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return brokerproc.Response{}, err
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	// Write while reading: for oversized input the server answers (413,
	// 431) and closes before it has read everything we send.
	werr := make(chan error, 1)
	go func() { _, err := io.WriteString(conn, req); werr <- err }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return brokerproc.Response{}, fmt.Errorf("read response: %w (write: %v)", err, <-werr)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return brokerproc.Response{}, err
	}
	out := brokerproc.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	_ = json.Unmarshal(body, &out.JSON)
	canaries.addResponse(out)
	return out, nil
}

// buildRaw formats an HTTP/1.1 request with Connection: close.
func buildRaw(method, target, token string, headers []string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: broker\r\nConnection: close\r\n", method, target)
	if token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", token)
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" || method == "POST" || method == "PUT" || method == "PATCH" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// forgeToken re-signs a real token's claims, changed by mutate, with the
// apiserver's own ServiceAccount signing key: a correctly signed token the
// apiserver must still refuse (e.g. expired). With resign false the
// signature is left as is (a tampered token).
func forgeToken(t *testing.T, real string, resign bool, mutate func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(real, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	mutate(claims)
	np, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signed := parts[0] + "." + base64.RawURLEncoding.EncodeToString(np)
	sig := parts[2]
	if resign {
		sig = base64.RawURLEncoding.EncodeToString(signRS256(t, signed))
	}
	tok := signed + "." + sig
	canaries.addJWT(tok)
	return tok
}

func signRS256(t *testing.T, input string) []byte {
	t.Helper()
	pemKey, err := os.ReadFile(filepath.Join(testEnv.Dir(), "sa.key"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemKey)
	if blk == nil {
		t.Fatal("sa.key: no PEM block")
	}
	key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
