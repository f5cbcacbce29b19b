package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/secrets-broker/secrets-broker/agent/secret"
	"github.com/secrets-broker/secrets-broker/agent/vault"
)

// relayedHeaders are the only response headers passed back from Vault:
// a fixed list, so nothing Vault or a proxy in front of it adds (cookies,
// tokens) can reach the caller.
var relayedHeaders = []string{"Content-Type", "Cache-Control", "X-Vault-Index", "Retry-After"}

// relayVault passes Vault's answer on after checking it: top-level "auth"
// and "wrap_info" blocks are nulled (second line of defence: auth/* and
// wrapping requests are refused, but a Vault policy can force wrapping), and
// an answer that still holds a session token or the caller's JWT is
// withheld. Vault's status is kept; the audit outcome uses the same codes
// as /api/v1.
func (s *Server) relayVault(w http.ResponseWriter, x *exchange, reply vaultReply, tokens []secret.Token) {
	body, info := scrubAuth(reply.body)
	h := http.Header{}
	for _, k := range relayedHeaders {
		if v := reply.header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	if retryable(reply.status) && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "2")
	}
	if leaks(body, h, append(tokens, x.jwt)) {
		s.cfg.Logger.Error().Str("request_id", x.rec.RequestID).Msg("vault response withheld: it contained a credential")
		s.failVault(w, x, &apiError{Status: http.StatusBadGateway, Code: "token_in_response", Message: "vault response withheld: it contained a credential"})
		return
	}
	x.rec.VaultRequestID = info.RequestID
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(reply.status)
	_, _ = w.Write(body)
	outcome := "ok"
	if reply.status >= http.StatusBadRequest {
		outcome = toAPIError(vault.StatusError(reply.status, strings.Join(info.Errors, "; "))).Code
	}
	s.finish(x, reply.status, outcome)
}

func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// leaks reports whether any credential appears in the body or a header.
func leaks(body []byte, h http.Header, creds []secret.Token) bool {
	for _, c := range creds {
		if c.Empty() {
			continue
		}
		raw := c.Reveal()
		if bytes.Contains(body, []byte(raw)) {
			return true
		}
		for _, vs := range h {
			for _, v := range vs {
				if strings.Contains(v, raw) {
					return true
				}
			}
		}
	}
	return false
}

// replyInfo is what the broker reads from Vault's JSON for audit.
type replyInfo struct {
	RequestID string   `json:"request_id"`
	Errors    []string `json:"errors"`
}

// tokenBlocks are the top-level response fields in which Vault hands out
// tokens: a login's or token create's "auth", a wrapped answer's "wrap_info".
var tokenBlocks = []string{"auth", "wrap_info"}

// scrubAuth nulls the token blocks; KV answers never carry them, so this
// only fires if something unexpected got through. It also returns Vault's
// request id and error texts. A body that is not a JSON object is passed
// on as is (the credential check in relayVault still applies).
func scrubAuth(body []byte) ([]byte, replyInfo) {
	var info replyInfo
	// Vault sends "auth":null on every KV answer; a struct decode reads the
	// few fields we need without copying the data, and only a non-null
	// token block takes the slower map rewrite below.
	var head struct {
		RequestID string          `json:"request_id"`
		Errors    []string        `json:"errors"`
		Auth      json.RawMessage `json:"auth"`
		WrapInfo  json.RawMessage `json:"wrap_info"`
	}
	if json.Unmarshal(body, &head) != nil {
		return body, info
	}
	info.RequestID, info.Errors = head.RequestID, head.Errors
	if isNull(head.Auth) && isNull(head.WrapInfo) {
		return body, info
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body, info
	}
	scrubbed := false
	// Case-insensitive, as Go's and most JSON decoders match field names.
	for k, a := range m {
		for _, block := range tokenBlocks {
			if strings.EqualFold(k, block) && !isNull(a) {
				m[k], scrubbed = json.RawMessage("null"), true
			}
		}
	}
	if !scrubbed {
		return body, info
	}
	out, err := json.Marshal(m)
	if err != nil {
		return []byte(`{"errors":["secrets-broker: response withheld"]}`), info
	}
	return out, info
}

// failVault answers in Vault's error shape ({"errors":[...]}) so Vault SDKs
// and the CLI show the message; status, code, Retry-After, logging and the
// audit line are those of /api/v1 (toAPIError, finish).
func (s *Server) failVault(w http.ResponseWriter, x *exchange, err error) {
	ae := toAPIError(err)
	if ae.Status >= 500 {
		s.cfg.Logger.Warn().Err(err).Str("request_id", x.rec.RequestID).Str("code", ae.Code).Msg("request failed")
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	if ae.Status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", strings.TrimPrefix(ae.Message, "allowed: "))
	}
	msg := fmt.Sprintf("secrets-broker: %s: %s (request_id %s)", ae.Code, ae.Message, x.rec.RequestID)
	writeJSON(w, ae.Status, map[string][]string{"errors": {msg}})
	s.finish(x, ae.Status, ae.Code)
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }
