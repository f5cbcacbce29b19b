package authn

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/secrets-broker/secrets-broker/agent/secret"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func newTest(t *testing.T, f *fakeReviews, mod func(*Config)) (*Authenticator, *clocktesting.FakePassiveClock) {
	t.Helper()
	clk := clocktesting.NewFakePassiveClock(t0)
	cfg := Config{Reviews: f, Clock: clk}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, clk
}

func withStatus(mut func(*authenticationv1.TokenReviewStatus)) func(*authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
	return func(tr *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
		out, _ := podBound("tokenizer-cg", "tokenizer-cg-sa", "p-1", "uid-1")(tr)
		mut(&out.Status)
		return out, nil
	}
}

func failWith(err error) func(*authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
	return func(*authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) { return nil, err }
}

func TestAuthenticateOutcomes(t *testing.T) {
	gr := schema.GroupResource{Group: "authentication.k8s.io", Resource: "tokenreviews"}
	tests := []struct {
		name         string
		respond      func(*authenticationv1.TokenReview) (*authenticationv1.TokenReview, error)
		allowUnbound bool
		want         error
		wantID       Identity
	}{
		{name: "pod bound", respond: podBound("tokenizer-cg", "tokenizer-cg-sa", "p-1", "uid-1"),
			wantID: Identity{Namespace: "tokenizer-cg", ServiceAccount: "tokenizer-cg-sa", PodName: "p-1", PodUID: "uid-1", NodeName: "node-1"}},
		{name: "not authenticated", respond: withStatus(func(s *authenticationv1.TokenReviewStatus) {
			*s = authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
		}), want: ErrUnauthenticated},
		{name: "wrong audience", respond: withStatus(func(s *authenticationv1.TokenReviewStatus) { s.Audiences = []string{"other"} }), want: ErrUnauthenticated},
		{name: "apiserver audience only", respond: withStatus(func(s *authenticationv1.TokenReviewStatus) { s.Audiences = nil }), want: ErrUnauthenticated},
		{name: "not a serviceaccount", respond: withStatus(func(s *authenticationv1.TokenReviewStatus) { s.User.Username = "alice" }), want: ErrUnauthenticated},
		{name: "malformed serviceaccount", respond: withStatus(func(s *authenticationv1.TokenReviewStatus) { s.User.Username = "system:serviceaccount:ns" }), want: ErrUnauthenticated},
		{name: "unbound refused", respond: withStatus(func(s *authenticationv1.TokenReviewStatus) { s.User.Extra = nil }), want: ErrNotPodBound},
		{name: "unbound allowed", allowUnbound: true, respond: withStatus(func(s *authenticationv1.TokenReviewStatus) { s.User.Extra = nil }),
			wantID: Identity{Namespace: "tokenizer-cg", ServiceAccount: "tokenizer-cg-sa"}},
		{name: "apiserver 500", respond: failWith(apierrors.NewInternalError(errors.New("boom"))), want: ErrUnavailable},
		{name: "apiserver 429", respond: failWith(apierrors.NewTooManyRequests("slow down", 1)), want: ErrUnavailable},
		{name: "apiserver timeout", respond: failWith(apierrors.NewTimeoutError("timeout", 1)), want: ErrUnavailable},
		{name: "broker forbidden", respond: failWith(apierrors.NewForbidden(gr, "", errors.New("rbac"))), want: ErrUnavailable},
		{name: "connection refused", respond: failWith(&http.ProtocolError{ErrorString: "connection refused"}), want: ErrUnavailable},
	}
	exp := t0.Add(time.Hour)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeReviews{respond: tt.respond}
			a, _ := newTest(t, f, func(c *Config) { c.AllowUnbound = tt.allowUnbound })
			id, err := a.Authenticate(context.Background(), makeJWT(exp, "x"))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got := f.last.Spec.Audiences; len(got) != 1 || got[0] != DefaultAudience {
				t.Errorf("spec.audiences = %v", got)
			}
			if tt.want == nil {
				if !id.Expiry.Equal(exp) {
					t.Errorf("expiry = %v, want %v", id.Expiry, exp)
				}
				id.Expiry = time.Time{}
				if id != tt.wantID {
					t.Errorf("id = %+v, want %+v", id, tt.wantID)
				}
			}
		})
	}
}

func TestMalformedRefusedWithoutReview(t *testing.T) {
	tests := []struct {
		name string
		tok  secret.Token
	}{
		{"empty", ""},
		{"one segment", "abc"},
		{"two segments", "abc.def"},
		{"four segments", "a.b.c.d"},
		{"empty segment", "a..c"},
		{"not base64url", "a+b.c/d.e=f"},
		{"spaces", "a b.c.d"},
		{"too large", secret.Token("a.b." + string(make([]byte, maxTokenBytes)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeReviews{respond: podBound("a", "b", "c", "d")}
			a, _ := newTest(t, f, nil)
			if _, err := a.Authenticate(context.Background(), tt.tok); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("err = %v", err)
			}
			if n := f.calls.Load(); n != 0 {
				t.Errorf("reviews = %d, want 0", n)
			}
		})
	}
}

func TestExpiryFromToken(t *testing.T) {
	a, _ := newTest(t, &fakeReviews{}, nil)
	tests := []struct {
		name string
		tok  secret.Token
		want time.Time
	}{
		{"exp claim", makeJWT(t0.Add(time.Hour), "x"), t0.Add(time.Hour)},
		{"no exp", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", t0.Add(DefaultTTL)},
		{"garbage payload", "eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2ln", t0.Add(DefaultTTL)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expiry(tt.tok, t0.Add(a.cfg.TTL)); !got.Equal(tt.want) {
				t.Errorf("expiry = %v, want %v", got, tt.want)
			}
		})
	}
}
