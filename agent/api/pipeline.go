package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/secrets-broker/secrets-broker/agent/audit"
	"github.com/secrets-broker/secrets-broker/agent/authn"
	"github.com/secrets-broker/secrets-broker/agent/policy"
	"github.com/secrets-broker/secrets-broker/agent/secret"
	"github.com/secrets-broker/secrets-broker/agent/session"
	"github.com/secrets-broker/secrets-broker/agent/vault"
	"github.com/secrets-broker/secrets-broker/node/attest"
	"github.com/secrets-broker/secrets-broker/node/peer"
)

// exchange is one request's state as it moves through the pipeline; it is
// also what the audit line and metrics are made of.
type exchange struct {
	rec   audit.Record
	start time.Time
	peer  *peer.Info
	jwt   secret.Token
	id    authn.Identity
	entry policy.Entry
	// sessionToken is kept to check that no response ever carries it.
	sessionToken secret.Token
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// begin records peer facts and opens the audit record.
func (s *Server) begin(r *http.Request, route string) *exchange {
	x := &exchange{start: time.Now(), rec: audit.Record{RequestID: newRequestID(), Route: route, PeerUID: -1}}
	if p, ok := peer.FromContext(r.Context()); ok {
		x.peer = p
		x.rec.Transport = string(p.Transport)
		if p.Transport == peer.Unix {
			x.rec.PeerPID, x.rec.PeerUID = p.PID, int64(p.UID)
		} else if p.RemoteIP.IsValid() {
			x.rec.RemoteIP = p.RemoteIP.String()
		}
	}
	return x
}

// finish writes the audit line and the metrics; exactly once per request.
func (s *Server) finish(x *exchange, status int, outcome string) {
	x.rec.Status, x.rec.Outcome = status, outcome
	x.rec.Duration = time.Since(x.start)
	s.cfg.Audit.Write(x.rec)
	op := x.rec.Op
	if op == "" {
		op = "none"
	}
	s.cfg.Metrics.Request(x.rec.Route, op, outcome, x.rec.Duration)
}

func (s *Server) fail(w http.ResponseWriter, x *exchange, err error) {
	ae := toAPIError(err)
	if ae.Status >= 500 {
		s.cfg.Logger.Warn().Err(err).Str("request_id", x.rec.RequestID).Str("code", ae.Code).Msg("request failed")
	}
	writeError(w, ae, x.rec.RequestID)
	s.finish(x, ae.Status, ae.Code)
}

// authorize runs authentication, attestation, policy lookup and the rate
// limit: all that must hold before the broker touches Vault for a pod.
// The allow-list is checked separately (allow) once the path is known.
func (s *Server) authorize(ctx context.Context, r *http.Request, x *exchange) error {
	jwt, ok := bearer(r)
	if !ok {
		return &apiError{Status: http.StatusUnauthorized, Code: "missing_token", Message: "send the projected ServiceAccount token as 'Authorization: Bearer <token>'"}
	}
	x.jwt = jwt
	id, err := s.cfg.Authn.Authenticate(ctx, jwt)
	if err != nil {
		return err
	}
	x.id = id
	x.rec.Namespace, x.rec.ServiceAccount, x.rec.Pod, x.rec.PodUID, x.rec.Node = id.Namespace, id.ServiceAccount, id.PodName, id.PodUID, id.NodeName
	claim := attest.Claim{Namespace: id.Namespace, ServiceAccount: id.ServiceAccount, PodName: id.PodName, PodUID: id.PodUID, NodeName: id.NodeName}
	if err := s.cfg.Attest.Attest(ctx, x.peer, claim); err != nil {
		s.cfg.Metrics.Attestation(attest.CodeOf(err))
		return err
	}
	s.cfg.Metrics.Attestation("ok")
	entry, ok := s.cfg.Policies.Lookup(id.Namespace, id.ServiceAccount)
	if !ok {
		return &apiError{Status: http.StatusForbidden, Code: "no_policy", Message: "no policy entry maps this namespace and serviceaccount to a vault role"}
	}
	x.entry = entry
	x.rec.VaultRole = entry.VaultRole
	if !s.limiter.Allow(id.PodUID) {
		return &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "per-pod request rate exceeded", RetryAfter: 1}
	}
	return nil
}

// allow applies the policy entry's optional allow-list (defence in depth;
// Vault's policy still decides).
func allow(x *exchange, op, full string) error {
	if !x.entry.Allows(op, full) {
		return &apiError{Status: http.StatusForbidden, Code: "not_allowed_by_policy", Message: "the broker policy's allow-list excludes this operation on this path"}
	}
	return nil
}

func bearer(r *http.Request) (secret.Token, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return secret.Token(tok), tok != ""
}

// withSession runs fn with the pod's Vault session, re-checking the peer
// process right before Vault is called (PID reuse between attestation and
// the call would otherwise go unnoticed).
func (s *Server) withSession(ctx context.Context, x *exchange, fn func(call vault.Call) error) error {
	key := session.Key{PodUID: x.id.PodUID, AuthMount: x.entry.AuthMount, Role: x.entry.VaultRole}
	call := vault.Call{Pod: x.id.Namespace + "/" + x.id.PodName, RequestID: x.rec.RequestID}
	return s.cfg.Sessions.Do(ctx, key, x.jwt, call, func(sess session.Session) error {
		x.rec.Accessor = sess.Accessor
		if x.peer != nil {
			if err := x.peer.Revalidate(); err != nil {
				return &attest.Error{Code: attest.CodeProcessChanged, Reason: "peer process changed before the vault call"}
			}
		}
		call.Token = sess.Token
		x.sessionToken = sess.Token
		return fn(call)
	})
}
