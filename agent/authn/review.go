package authn

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secrets-broker/secrets-broker/agent/logfield"
	"github.com/secrets-broker/secrets-broker/agent/secret"
)

const (
	saPrefix    = "system:serviceaccount:"
	extraPod    = "authentication.kubernetes.io/pod-name"
	extraPodUID = "authentication.kubernetes.io/pod-uid"
	extraNode   = "authentication.kubernetes.io/node-name"
)

// review runs one TokenReview (the singleflight body) and caches its answer.
func (a *Authenticator) review(ctx context.Context, key string, tok secret.Token) (Identity, error) {
	// A flight that finished between our cache miss and this one starting
	// already stored the answer; do not ask the apiserver twice.
	if id, ok := a.cache.positive(key, a.cfg.Clock.Now()); ok {
		return id, nil
	}
	epoch := a.cache.epoch()
	ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
	defer cancel()
	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{
		Token:     tok.Reveal(),
		Audiences: []string{a.cfg.Audience},
	}}
	res, err := a.cfg.Reviews.Create(ctx, tr, metav1.CreateOptions{})
	if err != nil {
		// Not negative-cached: the apiserver's trouble says nothing about
		// the token, and the next caller should try again.
		a.cfg.Metrics.TokenReview("error")
		a.cfg.Logger.Warn().Err(err).Msg("tokenreview failed")
		return Identity{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	now := a.cfg.Clock.Now()
	id, err := a.identity(res.Status, tok, now)
	if err != nil {
		a.cfg.Metrics.TokenReview("unauthenticated")
		a.cfg.Logger.Debug().Str(logfield.Error, err.Error()).
			Str("review_error", res.Status.Error).Msg("token refused")
		a.cache.putNegative(key, err, now.Add(a.cfg.NegativeTTL))
		return Identity{}, err
	}
	a.cfg.Metrics.TokenReview("authenticated")
	a.cfg.Logger.Debug().Str(logfield.Namespace, id.Namespace).
		Str(logfield.ServiceAccount, id.ServiceAccount).Str(logfield.Pod, id.PodName).
		Str(logfield.PodUID, id.PodUID).Msg("token reviewed")
	until := now.Add(a.cfg.TTL)
	if id.Expiry.Before(until) {
		until = id.Expiry
	}
	a.cache.putPositive(key, id, until, epoch)
	return id, nil
}

// identity checks a TokenReview status and extracts the caller.
func (a *Authenticator) identity(st authenticationv1.TokenReviewStatus, tok secret.Token, now time.Time) (Identity, error) {
	if !st.Authenticated {
		return Identity{}, fmt.Errorf("%w: token not authenticated", ErrUnauthenticated)
	}
	// An empty status.audiences means the token is valid for the
	// apiserver's own audience, not ours: refuse it.
	if !slices.Contains(st.Audiences, a.cfg.Audience) {
		return Identity{}, fmt.Errorf("%w: audience not accepted", ErrUnauthenticated)
	}
	ns, sa, ok := splitServiceAccount(st.User.Username)
	if !ok {
		return Identity{}, fmt.Errorf("%w: not a serviceaccount", ErrUnauthenticated)
	}
	id := Identity{
		Namespace:      ns,
		ServiceAccount: sa,
		PodName:        firstExtra(st.User.Extra, extraPod),
		PodUID:         firstExtra(st.User.Extra, extraPodUID),
		NodeName:       firstExtra(st.User.Extra, extraNode),
		Expiry:         expiry(tok, now.Add(a.cfg.TTL)),
	}
	if id.PodUID == "" && !a.cfg.AllowUnbound {
		return Identity{}, ErrNotPodBound
	}
	return id, nil
}

// splitServiceAccount parses "system:serviceaccount:<ns>:<sa>".
func splitServiceAccount(username string) (ns, sa string, ok bool) {
	rest, found := strings.CutPrefix(username, saPrefix)
	if !found {
		return "", "", false
	}
	ns, sa, found = strings.Cut(rest, ":")
	if !found || ns == "" || sa == "" || strings.Contains(sa, ":") {
		return "", "", false
	}
	return ns, sa, true
}

func firstExtra(extra map[string]authenticationv1.ExtraValue, key string) string {
	if v := extra[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
