package env

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
)

// freePort asks the kernel for an unused loopback port. Another process
// could take it before the server binds; on a test machine that is rare and
// shows up as a clear "address in use" in the server log.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// httpStatus GETs url (with an optional bearer token) and wants one of codes.
func httpStatus(ctx context.Context, c *http.Client, url, bearer string, codes ...int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	for _, code := range codes {
		if resp.StatusCode == code {
			return nil
		}
	}
	return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
}
