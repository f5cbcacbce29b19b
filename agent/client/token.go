package client

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// reloadMargin: a token this close to its exp is re-read from the file
// (kubelet rotates at 80% of the lifetime, long before).
const reloadMargin = 30 * time.Second

// tokenFile hands out the projected token, re-reading the file whenever it
// changed (kubelet swaps the ..data symlink, so the inode changes) or the
// cached token nears its exp. It never returns a token past its exp.
type tokenFile struct {
	path string
	now  func() time.Time

	mu   sync.Mutex
	tok  string
	exp  time.Time // zero when the token has no readable exp
	stat os.FileInfo
}

func (t *tokenFile) get(force bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fi, err := os.Stat(t.path)
	if err != nil {
		return "", t.fail("stat token file", err)
	}
	stale := force || t.tok == "" || t.stat == nil || !os.SameFile(fi, t.stat) ||
		!fi.ModTime().Equal(t.stat.ModTime()) || fi.Size() != t.stat.Size() ||
		(!t.exp.IsZero() && t.now().Add(reloadMargin).After(t.exp))
	if stale {
		if err := t.load(fi); err != nil {
			return "", err
		}
	}
	if !t.exp.IsZero() && !t.now().Before(t.exp) {
		return "", &Error{Kind: ErrUnauthenticated, Code: "token_expired", Message: "the token file holds an expired token (not rotated?)"}
	}
	return t.tok, nil
}

func (t *tokenFile) load(fi os.FileInfo) error {
	b, err := os.ReadFile(t.path)
	if err != nil {
		return t.fail("read token file", err)
	}
	tok := string(bytes.TrimSpace(b))
	if tok == "" {
		return &Error{Kind: ErrUnauthenticated, Code: "token_missing", Message: "the token file is empty"}
	}
	t.tok, t.exp, t.stat = tok, jwtExpiry(tok), fi
	return nil
}

func (t *tokenFile) fail(what string, err error) error {
	// The path is configuration, not a secret; the error never holds the token.
	return &Error{Kind: ErrUnauthenticated, Code: "token_missing", Message: fmt.Sprintf("%s %s", what, t.path), cause: err}
}

// jwtExpiry reads the exp claim without verifying the token (the broker
// verifies it with TokenReview); zero when absent or unreadable.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}
	}
	n, err := claims.Exp.Int64()
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}
