package authn

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/secrets-broker/secrets-broker/agent/secret"
)

func TestPositiveCacheLifetime(t *testing.T) {
	tests := []struct {
		name      string
		exp       time.Duration // token exp relative to t0
		advance   time.Duration
		wantCalls int64
	}{
		{"hit within ttl", time.Hour, 59 * time.Second, 1},
		{"ttl elapsed", time.Hour, DefaultTTL, 2},
		{"token exp before ttl, still valid", 10 * time.Second, 9 * time.Second, 1},
		{"token exp before ttl, expired", 10 * time.Second, 10 * time.Second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeReviews{respond: podBound("ns", "sa", "p", "uid")}
			a, clk := newTest(t, f, nil)
			tok := makeJWT(t0.Add(tt.exp), "x")
			for range 2 {
				if _, err := a.Authenticate(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
				clk.SetTime(clk.Now().Add(tt.advance))
			}
			if got := f.calls.Load(); got != tt.wantCalls {
				t.Errorf("reviews = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestNegativeCache(t *testing.T) {
	tests := []struct {
		name      string
		respond   func(*authenticationv1.TokenReview) (*authenticationv1.TokenReview, error)
		advance   time.Duration
		want      error
		wantCalls int64
	}{
		{"unauthenticated cached", withStatus(func(s *authenticationv1.TokenReviewStatus) { s.Authenticated = false }), time.Second, ErrUnauthenticated, 1},
		{"not pod bound cached", withStatus(func(s *authenticationv1.TokenReviewStatus) { s.User.Extra = nil }), time.Second, ErrNotPodBound, 1},
		{"negative ttl elapsed", withStatus(func(s *authenticationv1.TokenReviewStatus) { s.Authenticated = false }), DefaultNegativeTTL, ErrUnauthenticated, 2},
		{"apiserver errors not cached", failWith(apierrors.NewServiceUnavailable("down")), 0, ErrUnavailable, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeReviews{respond: tt.respond}
			a, clk := newTest(t, f, nil)
			tok := makeJWT(t0.Add(time.Hour), "bad")
			for range 2 {
				if _, err := a.Authenticate(context.Background(), tok); !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				clk.SetTime(clk.Now().Add(tt.advance))
			}
			if got := f.calls.Load(); got != tt.wantCalls {
				t.Errorf("reviews = %d, want %d", got, tt.wantCalls)
			}
			if a.Len() != 0 {
				t.Errorf("positive entries = %d, want 0", a.Len())
			}
		})
	}
}

func TestConcurrentFirstCallsShareOneReview(t *testing.T) {
	f := &fakeReviews{respond: podBound("ns", "sa", "p", "uid"), gate: make(chan struct{})}
	a, _ := newTest(t, f, nil)
	tok := makeJWT(t0.Add(time.Hour), "x")
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := a.Authenticate(context.Background(), tok)
			errs <- err
		})
	}
	// Let every goroutine reach the flight before the review answers.
	for deadline := time.Now().Add(2 * time.Second); f.calls.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(f.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("reviews = %d, want 1", got)
	}
}

func TestCallerCancelDoesNotFailOthers(t *testing.T) {
	f := &fakeReviews{respond: podBound("ns", "sa", "p", "uid"), gate: make(chan struct{})}
	a, _ := newTest(t, f, nil)
	tok := makeJWT(t0.Add(time.Hour), "x")
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := a.Authenticate(ctx, tok); first <- err }()
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan error, 1)
	go func() { _, err := a.Authenticate(context.Background(), tok); second <- err }()
	cancel()
	if err := <-first; !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller err = %v", err)
	}
	close(f.gate)
	if err := <-second; err != nil {
		t.Fatalf("second caller err = %v", err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("reviews = %d, want 1", got)
	}
}

func TestForgetPod(t *testing.T) {
	f := &fakeReviews{}
	f.respond = podBound("ns", "sa", "p", "uid-a")
	a, _ := newTest(t, f, nil)
	ctx := context.Background()
	a1, a2 := makeJWT(t0.Add(time.Hour), "a1"), makeJWT(t0.Add(time.Hour), "a2")
	mustAuth(t, a, a1)
	mustAuth(t, a, a2)
	f.respond = podBound("ns", "sa", "q", "uid-b")
	b := makeJWT(t0.Add(time.Hour), "b")
	mustAuth(t, a, b)
	if a.Len() != 3 {
		t.Fatalf("Len = %d, want 3", a.Len())
	}
	a.ForgetPod("uid-a")
	if a.Len() != 1 {
		t.Fatalf("Len after forget = %d, want 1", a.Len())
	}
	f.respond = withStatus(func(s *authenticationv1.TokenReviewStatus) { s.Authenticated = false })
	if _, err := a.Authenticate(ctx, a1); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("forgotten pod's token err = %v, want ErrUnauthenticated", err)
	}
	mustAuth(t, a, b) // still cached
	if got := f.calls.Load(); got != 4 {
		t.Errorf("reviews = %d, want 4", got)
	}
}

func TestCacheIsBounded(t *testing.T) {
	f := &fakeReviews{respond: podBound("ns", "sa", "p", "uid")}
	a, _ := newTest(t, f, func(c *Config) { c.MaxEntries = 2 })
	for _, sub := range []string{"a", "b", "c"} {
		mustAuth(t, a, makeJWT(t0.Add(time.Hour), sub))
	}
	if a.Len() != 2 {
		t.Errorf("Len = %d, want 2", a.Len())
	}
	a.ForgetPod("uid")
	if a.Len() != 0 || len(a.cache.byPod) != 0 {
		t.Errorf("after forget Len = %d, index = %d", a.Len(), len(a.cache.byPod))
	}
}

func mustAuth(t *testing.T, a *Authenticator, tok secret.Token) Identity {
	t.Helper()
	id, err := a.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
