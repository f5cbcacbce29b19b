package api

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/secrets-broker/secrets-broker/agent/secret"
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

// vaultReply is Vault's answer, read in full so it can be checked.
type vaultReply struct {
	status int
	header http.Header
	body   []byte
}

// deniedReply carries Vault's own 403 through session.Do, which treats it
// as a denial (and checks whether the token died, then logs in again and
// retries once) before the broker relays it.
type deniedReply struct{ reply vaultReply }

func (d *deniedReply) Error() string { return "vault denied the request" }
func (d *deniedReply) Unwrap() error { return vault.ErrDenied }

// servePassthrough is the Vault-compatible route: unmodified Vault SDKs
// and the vault CLI send their projected SA token as the Vault token; the
// broker authenticates, attests, applies policy and the per-pod limit
// exactly as on /api/v1, then forwards with the pod's session token.
// auth/* and sys/* are refused (nothing may hand the session token, or a
// child of it, to the caller) and every answer is checked for the session
// token before it leaves (relayVault).
func (s *Server) servePassthrough(w http.ResponseWriter, r *http.Request) {
	x := s.begin(r, "vault")
	req, aerr := parseVaultRequest(r)
	if aerr != nil {
		s.failVault(w, x, aerr)
		return
	}
	x.rec.Op, x.rec.Mount, x.rec.Path = req.Op, firstSegment(req.Clean), req.Clean
	vaultTokenAsBearer(r)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	// The allow-list is checked inside, once the mount's KV version is known.
	if err := s.authorize(ctx, r, x); err != nil {
		s.failVault(w, x, err)
		return
	}
	body, err := readVaultBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		s.failVault(w, x, err)
		return
	}
	reply, tokens, err := s.forward(ctx, x, r, req, body)
	if err != nil {
		s.failVault(w, x, err)
		return
	}
	s.relayVault(w, x, reply, tokens)
}

// vaultTokenAsBearer lets Vault clients authenticate the Vault way: their
// X-Vault-Token is the projected SA token. An Authorization header wins.
func vaultTokenAsBearer(r *http.Request) {
	if tok := r.Header.Get("X-Vault-Token"); tok != "" && r.Header.Get("Authorization") == "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
}

func readVaultBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "request body exceeds the limit"}
		}
		return nil, errBadRequest("bad_body", "cannot read request body")
	}
	return body, nil
}

// forward runs the request with the pod's session. It returns every
// session token used (a dead token leads to one re-login and retry), so the
// reply can be checked against each of them.
func (s *Server) forward(ctx context.Context, x *exchange, r *http.Request, req vaultRequest, body []byte) (vaultReply, []secret.Token, error) {
	var reply vaultReply
	var tokens []secret.Token
	err := s.withSession(ctx, x, func(call vault.Call) error {
		tokens = append(tokens, call.Token)
		if err := s.checkVaultAllowList(ctx, call, x, req); err != nil {
			return err
		}
		resp, err := s.cfg.Forwarder.Forward(ctx, call, r, req.Path, body)
		if err != nil {
			return err
		}
		reply, err = readReply(resp)
		if err != nil {
			return err
		}
		if reply.status == http.StatusForbidden {
			return &deniedReply{reply: reply}
		}
		return nil
	})
	var denied *deniedReply
	if errors.As(err, &denied) {
		return denied.reply, tokens, nil
	}
	return reply, tokens, err
}

func readReply(resp *http.Response) (vaultReply, error) {
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxVaultResponse+1))
	if err != nil || len(body) > maxVaultResponse {
		return vaultReply{}, &apiError{Status: http.StatusBadGateway, Code: "vault_error", Message: "vault response unreadable or too large", RetryAfter: 2}
	}
	return vaultReply{status: resp.StatusCode, header: resp.Header, body: body}, nil
}
