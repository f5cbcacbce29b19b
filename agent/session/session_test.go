package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/secrets-broker/secrets-broker/agent/secret"
	"github.com/secrets-broker/secrets-broker/agent/vault"
)

type fakeVault struct {
	mu       sync.Mutex
	logins   atomic.Int32
	renews   atomic.Int32
	lookups  atomic.Int32
	revoked  []string
	dead     map[string]bool // tokens Vault no longer accepts
	ttl      time.Duration
	loginErr error
	delay    time.Duration
}

func (f *fakeVault) Login(ctx context.Context, mount, role string, jwt secret.Token, _ vault.Call) (vault.Login, error) {
	n := f.logins.Add(1)
	time.Sleep(f.delay)
	if f.loginErr != nil {
		return vault.Login{}, f.loginErr
	}
	return vault.Login{Token: secret.Token(fmt.Sprintf("hvs.%s-%d", role, n)), Accessor: fmt.Sprintf("acc-%d", n), TTL: f.ttl, Renewable: true}, nil
}

func (f *fakeVault) RenewSelf(_ context.Context, call vault.Call) (vault.Login, error) {
	f.renews.Add(1)
	return vault.Login{Token: call.Token, TTL: f.ttl, Renewable: true}, nil
}

func (f *fakeVault) TokenValid(_ context.Context, call vault.Call) (bool, error) {
	f.lookups.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.dead[call.Token.Reveal()], nil
}

func (f *fakeVault) RevokeSelf(_ context.Context, call vault.Call) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, call.Token.Reveal())
	return nil
}

func newManager(t *testing.T, fv *fakeVault, clk *clocktesting.FakeClock) *Manager {
	t.Helper()
	m, err := New(Config{Vault: fv, Clock: clk, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var key = Key{PodUID: "uid-1", AuthMount: "kubernetes", Role: "r"}

func TestConcurrentFirstCallsShareOneLogin(t *testing.T) {
	fv := &fakeVault{ttl: time.Hour, delay: 20 * time.Millisecond}
	m := newManager(t, fv, clocktesting.NewFakeClock(time.Now()))
	var wg sync.WaitGroup
	tokens := make(chan string, 100)
	for range 100 {
		wg.Go(func() {
			s, err := m.Get(context.Background(), key, "jwt", vault.Call{})
			if err != nil {
				t.Error(err)
				return
			}
			tokens <- s.Token.Reveal()
		})
	}
	wg.Wait()
	close(tokens)
	if got := fv.logins.Load(); got != 1 {
		t.Fatalf("logins = %d, want 1", got)
	}
	for tok := range tokens {
		if tok != "hvs.r-1" {
			t.Fatalf("token %q, want the single login's token", tok)
		}
	}
}

func TestDoDistinguishesDeadTokenFromPolicyDenial(t *testing.T) {
	denied := &vault.Error{Kind: vault.ErrDenied, Status: 403}
	tests := []struct {
		name       string
		tokenDead  bool
		wantLogins int32
		wantErr    error
		wantCalls  int
	}{
		{name: "policy denial keeps token, no login", tokenDead: false, wantLogins: 1, wantErr: vault.ErrDenied, wantCalls: 1},
		{name: "dead token logs in once and retries", tokenDead: true, wantLogins: 2, wantErr: nil, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fv := &fakeVault{ttl: time.Hour, dead: map[string]bool{}}
			m := newManager(t, fv, clocktesting.NewFakeClock(time.Now()))
			if tt.tokenDead {
				fv.dead["hvs.r-1"] = true
			}
			calls := 0
			err := m.Do(context.Background(), key, "jwt", vault.Call{}, func(s Session) error {
				calls++
				if s.Token == "hvs.r-1" {
					return denied
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := fv.logins.Load(); got != tt.wantLogins {
				t.Fatalf("logins = %d, want %d", got, tt.wantLogins)
			}
			if calls != tt.wantCalls {
				t.Fatalf("fn calls = %d, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestRefreshAheadOfExpiryRenewsWithoutBlocking(t *testing.T) {
	fv := &fakeVault{ttl: time.Hour}
	clk := clocktesting.NewFakeClock(time.Now())
	m := newManager(t, fv, clk)
	ctx := context.Background()
	if _, err := m.Get(ctx, key, "jwt", vault.Call{}); err != nil {
		t.Fatal(err)
	}
	clk.Step(50 * time.Minute) // inside the last third of the TTL
	s, err := m.Get(ctx, key, "jwt", vault.Call{})
	if err != nil || s.Token != "hvs.r-1" {
		t.Fatalf("got %v %v, want the still-valid token at once", s.Accessor, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for fv.renews.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if fv.renews.Load() != 1 || fv.logins.Load() != 1 {
		t.Fatalf("renews=%d logins=%d, want 1 and 1", fv.renews.Load(), fv.logins.Load())
	}
	clk.Step(30 * time.Minute) // past the original expiry, within the renewed one
	s, err = m.Get(ctx, key, "jwt", vault.Call{})
	if err != nil || s.Token != "hvs.r-1" || fv.logins.Load() != 1 {
		t.Fatalf("after renewal: token=%v err=%v logins=%d", s.Accessor, err, fv.logins.Load())
	}
}

func TestExpiredSessionLogsInAgain(t *testing.T) {
	fv := &fakeVault{ttl: time.Minute}
	clk := clocktesting.NewFakeClock(time.Now())
	m := newManager(t, fv, clk)
	if _, err := m.Get(context.Background(), key, "jwt", vault.Call{}); err != nil {
		t.Fatal(err)
	}
	clk.Step(58 * time.Second) // inside expiryMargin
	s, err := m.Get(context.Background(), key, "jwt", vault.Call{})
	if err != nil || s.Token != "hvs.r-2" {
		t.Fatalf("got %v, %v; want a fresh login", s.Accessor, err)
	}
}

func TestEvictPodRevokesOnlyThatPod(t *testing.T) {
	fv := &fakeVault{ttl: time.Hour}
	m := newManager(t, fv, clocktesting.NewFakeClock(time.Now()))
	ctx := context.Background()
	other := Key{PodUID: "uid-2", AuthMount: "kubernetes", Role: "r"}
	for _, k := range []Key{key, {PodUID: "uid-1", AuthMount: "kubernetes", Role: "r2"}, other} {
		if _, err := m.Get(ctx, k, "jwt", vault.Call{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.EvictPod(ctx, "uid-1", true); n != 2 {
		t.Fatalf("evicted %d, want 2", n)
	}
	if m.Len() != 1 || len(fv.revoked) != 2 {
		t.Fatalf("len=%d revoked=%d, want 1 and 2", m.Len(), len(fv.revoked))
	}
}

func TestLoginFailureIsNotCached(t *testing.T) {
	fv := &fakeVault{ttl: time.Hour, loginErr: &vault.Error{Kind: vault.ErrDenied, Status: 403}}
	m := newManager(t, fv, clocktesting.NewFakeClock(time.Now()))
	for range 2 {
		if _, err := m.Get(context.Background(), key, "jwt", vault.Call{}); !errors.Is(err, vault.ErrDenied) {
			t.Fatalf("err = %v, want denied", err)
		}
	}
	if fv.logins.Load() != 2 || m.Len() != 0 {
		t.Fatalf("logins=%d len=%d", fv.logins.Load(), m.Len())
	}
}

func BenchmarkSessionHit(b *testing.B) {
	fv := &fakeVault{ttl: time.Hour}
	m, _ := New(Config{Vault: fv, Logger: zerolog.Nop()})
	ctx := context.Background()
	if _, err := m.Get(ctx, key, "jwt", vault.Call{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Get(ctx, key, "jwt", vault.Call{}); err != nil {
			b.Fatal(err)
		}
	}
}
