package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/secrets-broker/secrets-broker/agent/vault"
)

// Forwarder sends a caller's Vault API request with a session token.
type Forwarder interface {
	Forward(ctx context.Context, call vault.Call, in *http.Request, path string, body []byte) (*http.Response, error)
}

var _ Forwarder = (*vault.Client)(nil)

// maxVaultResponse bounds what the broker buffers from Vault; KV values
// are small, and buffering lets the response be checked before it leaves.
const maxVaultResponse = 32 << 20

// deniedResponse carries Vault's own 403 through session.Do, which treats
// it as a denial (and checks whether the token died) before we relay it.
type deniedResponse struct{ body []byte }

func (d *deniedResponse) Error() string { return "vault denied the request" }
func (d *deniedResponse) Unwrap() error { return vault.ErrDenied }

// servePassthrough is the Vault-compatible route: unmodified Vault SDKs
// and the vault CLI send their projected SA token as the Vault token; the
// broker authenticates, attests and applies policy exactly as on /api/v1,
// then forwards with the pod's session token. auth/* and sys/* are refused
// (nothing may hand the session token, or a child of it, to the caller).
func (s *Server) servePassthrough(w http.ResponseWriter, r *http.Request) {
	x := s.begin(r, "vault")
	vpath, aerr := vaultPath(r)
	if aerr != nil {
		s.failVault(w, x, aerr)
		return
	}
	x.rec.Op, x.rec.Mount, x.rec.Path = vaultOp(r, vpath), firstSegment(vpath), vpath
	if tok := r.Header.Get("X-Vault-Token"); tok != "" && r.Header.Get("Authorization") == "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	// The allow-list is checked inside, once the mount's KV version is known.
	if err := s.authorize(ctx, r, x); err != nil {
		s.failVault(w, x, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		s.failVault(w, x, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "request body exceeds the limit"})
		return
	}
	var resp *http.Response
	err = s.withSession(ctx, x, func(call vault.Call) error {
		if err := s.checkVaultAllowList(ctx, call, x, r, vpath); err != nil {
			return err
		}
		var ferr error
		resp, ferr = s.cfg.Forwarder.Forward(ctx, call, r, vpath, body)
		if ferr != nil {
			return ferr
		}
		if resp.StatusCode == http.StatusForbidden {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			return &deniedResponse{body: b}
		}
		return nil
	})
	var denied *deniedResponse
	switch {
	case errors.As(err, &denied):
		relay(w, http.StatusForbidden, http.Header{"Content-Type": {"application/json"}}, denied.body)
		s.finish(x, http.StatusForbidden, "vault_denied")
	case err != nil:
		s.failVault(w, x, err)
	default:
		s.relayVault(w, x, resp)
	}
}

// relayVault copies Vault's answer after scrubbing it: an "auth" block is
// nulled and a response that still contains the session token is refused.
func (s *Server) relayVault(w http.ResponseWriter, x *exchange, resp *http.Response) {
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxVaultResponse+1))
	if err != nil || len(body) > maxVaultResponse {
		s.failVault(w, x, &apiError{Status: http.StatusBadGateway, Code: "vault_error", Message: "vault response unreadable or too large", RetryAfter: 2})
		return
	}
	body = scrubAuth(body)
	if x.sessionToken != "" && bytes.Contains(body, []byte(x.sessionToken.Reveal())) {
		s.failVault(w, x, &apiError{Status: http.StatusBadGateway, Code: "token_in_response", Message: "vault response withheld: it contained the session token"})
		return
	}
	h := http.Header{}
	for _, k := range []string{"Content-Type", "Cache-Control", "X-Vault-Index", "Retry-After"} {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	relay(w, resp.StatusCode, h, body)
	outcome := "ok"
	if resp.StatusCode >= 400 {
		outcome = fmt.Sprintf("vault_%d", resp.StatusCode)
	}
	s.finish(x, resp.StatusCode, outcome)
}

func relay(w http.ResponseWriter, status int, h http.Header, body []byte) {
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// scrubAuth nulls a top-level "auth" object; KV answers never carry one,
// so this only fires if something unexpected got through.
func scrubAuth(body []byte) []byte {
	if !bytes.Contains(body, []byte(`"auth"`)) {
		return body
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	if a, ok := m["auth"]; !ok || string(a) == "null" {
		return body
	}
	m["auth"] = json.RawMessage("null")
	out, err := json.Marshal(m)
	if err != nil {
		return []byte(`{"errors":["response withheld"]}`)
	}
	return out
}

// failVault answers in Vault's error shape so Vault SDKs show the message.
func (s *Server) failVault(w http.ResponseWriter, x *exchange, err error) {
	ae := toAPIError(err)
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(ae.RetryAfter))
	}
	msg := fmt.Sprintf("secrets-broker: %s: %s (request_id %s)", ae.Code, ae.Message, x.rec.RequestID)
	writeJSON(w, ae.Status, map[string][]string{"errors": {msg}})
	s.finish(x, ae.Status, ae.Code)
}

func firstSegment(p string) string {
	seg, _, _ := strings.Cut(p, "/")
	return seg
}
