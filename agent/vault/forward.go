package vault

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
)

// forwardHeaders are the request headers Vault clients use that the
// Vault-compatible route passes on; everything else (notably the caller's
// X-Vault-Token and Authorization, which carry its JWT, Vault's policy
// override and MFA headers, and X-Vault-Wrap-TTL: a wrapped answer is a
// Vault token handed to the caller) is dropped. The api package refuses
// a request asking for wrapping rather than silently unwrapping it.
var forwardHeaders = []string{
	"Content-Type", "Accept", "X-Vault-Request",
	"X-Vault-Namespace", "X-Vault-Index", "X-Vault-Inconsistent", "X-Vault-Forward",
}

// Forward sends one caller request to Vault as is, but with the session
// token in place of the caller's credential. path is the already validated
// path below /v1/ (decoded; it is escaped again here). The caller owns the
// response and must close its body.
func (c *Client) Forward(ctx context.Context, call Call, in *http.Request, path string, body []byte) (*http.Response, error) {
	u := *c.addr
	u.Path = strings.TrimSuffix(c.addr.Path, "/") + "/v1/" + path
	u.RawPath = ""
	u.RawQuery = in.URL.RawQuery
	u.Fragment, u.RawFragment = "", ""
	out, err := http.NewRequestWithContext(ctx, in.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	for _, h := range forwardHeaders {
		if v := in.Header.Values(h); len(v) > 0 {
			out.Header[h] = v
		}
	}
	out.Header.Set("X-Vault-Token", call.Token.Reveal())
	if call.Pod != "" {
		out.Header.Set(PodHeader, call.Pod)
	}
	if call.RequestID != "" {
		out.Header.Set(RequestIDHeader, call.RequestID)
	}
	resp, err := c.http.Do(out)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", classify(err))
	}
	return resp, nil
}

// StatusError classifies a Vault HTTP status (and Vault's error text, which
// tells a CAS mismatch from other 400s) like every other Vault call, so a
// relayed response is audited and counted with the same codes.
func StatusError(status int, reason string) error { return fromStatus(status, reason) }
