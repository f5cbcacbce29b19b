package authn

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secrets-broker/secrets-broker/agent/secret"
)

// fakeReviews is a hand-written TokenReviewer: respond decides the answer,
// gate (when set) holds every call until closed.
type fakeReviews struct {
	calls   atomic.Int64
	gate    chan struct{}
	mu      sync.Mutex
	last    *authenticationv1.TokenReview
	respond func(tr *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error)
}

var _ TokenReviewer = (*fakeReviews)(nil)

func (f *fakeReviews) Create(ctx context.Context, tr *authenticationv1.TokenReview, _ metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.last = tr.DeepCopy()
	f.mu.Unlock()
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f.respond(tr)
}

// podBound answers like the apiserver for a valid pod-bound token.
func podBound(ns, sa, pod, uid string) func(*authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
	return func(tr *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
		out := tr.DeepCopy()
		out.Status = authenticationv1.TokenReviewStatus{
			Authenticated: true,
			Audiences:     tr.Spec.Audiences,
			User: authenticationv1.UserInfo{
				Username: fmt.Sprintf("system:serviceaccount:%s:%s", ns, sa),
				Extra: map[string]authenticationv1.ExtraValue{
					extraPod:    {pod},
					extraPodUID: {uid},
					extraNode:   {"node-1"},
				},
			},
		}
		return out, nil
	}
}

// makeJWT builds an unsigned-looking but well-formed JWT. Each distinct
// (exp, sub) pair yields a distinct token.
func makeJWT(exp time.Time, sub string) secret.Token {
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"RS256","kid":"k"}`))
	payload := enc(fmt.Appendf(nil, `{"exp":%d,"sub":%q,"aud":["secrets-broker"]}`, exp.Unix(), sub))
	return secret.Token(header + "." + payload + "." + enc([]byte("signature-"+sub)))
}
