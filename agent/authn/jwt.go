package authn

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/secrets-broker/secrets-broker/agent/secret"
)

// maxTokenBytes caps what we send to the apiserver; projected SA tokens are
// around 1 KiB.
const maxTokenBytes = 16 << 10

// precheck refuses input that cannot be a JWT without calling the
// apiserver, so garbage costs a few string checks, not a TokenReview.
func precheck(tok secret.Token) error {
	raw := tok.Reveal()
	switch {
	case raw == "":
		return fmt.Errorf("%w: empty token", ErrUnauthenticated)
	case len(raw) > maxTokenBytes:
		return fmt.Errorf("%w: token too large", ErrUnauthenticated)
	}
	segments := 0
	for part := range strings.SplitSeq(raw, ".") {
		segments++
		if part == "" || !isBase64URL(part) {
			return fmt.Errorf("%w: malformed token", ErrUnauthenticated)
		}
	}
	if segments != 3 {
		return fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	return nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// expiry reads the exp claim without verifying the signature: TokenReview
// has verified the token, we only need to know how long to trust the
// answer. Unreadable claims yield fallback.
func expiry(tok secret.Token, fallback time.Time) time.Time {
	parts := strings.Split(tok.Reveal(), ".")
	if len(parts) != 3 {
		return fallback
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fallback
	}
	var claims struct {
		Exp *float64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == nil {
		return fallback
	}
	exp := *claims.Exp
	if math.IsNaN(exp) || exp <= 0 || exp > math.MaxInt32*4 {
		return fallback
	}
	return time.Unix(int64(exp), 0).UTC()
}
