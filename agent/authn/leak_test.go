package authn

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/rs/zerolog"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/secrets-broker/secrets-broker/agent/metrics"
	"github.com/secrets-broker/secrets-broker/agent/secret"
)

// TestTokenNeverLeaks feeds canary tokens through every path and greps
// errors, logs and metrics for them.
func TestTokenNeverLeaks(t *testing.T) {
	const canary = "CANARYc4n4ry"
	good := makeJWT(t0.Add(time.Hour), canary)
	tests := []struct {
		name    string
		tok     secret.Token
		respond func(*authenticationv1.TokenReview) (*authenticationv1.TokenReview, error)
	}{
		{"authenticated", good, podBound("ns", "sa", "p", "uid")},
		{"unauthenticated", good, withStatus(func(s *authenticationv1.TokenReviewStatus) { s.Authenticated = false })},
		{"not pod bound", good, withStatus(func(s *authenticationv1.TokenReviewStatus) { s.User.Extra = nil })},
		{"wrong audience", good, withStatus(func(s *authenticationv1.TokenReviewStatus) { s.Audiences = nil })},
		{"apiserver error", good, failWith(apierrors.NewInternalError(fmt.Errorf("boom")))},
		{"malformed", secret.Token(canary + ".x"), nil},
		{"not base64url", secret.Token(canary + ".a$b.c"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			m := metrics.New()
			f := &fakeReviews{respond: tt.respond}
			a, _ := newTest(t, f, func(c *Config) {
				c.Logger = zerolog.New(&logs).Level(zerolog.TraceLevel)
				c.Metrics = m
			})
			var out strings.Builder
			for range 2 { // second call goes through the caches
				id, err := a.Authenticate(context.Background(), tt.tok)
				fmt.Fprintf(&out, "%v %+v %#v %v %+v\n", err, err, err, id, id)
			}
			out.Write(logs.Bytes())
			out.WriteString(gatherText(t, m))
			for _, needle := range []string{canary, tt.tok.Reveal(), segment(tt.tok, 1), segment(tt.tok, 2)} {
				if needle != "" && strings.Contains(out.String(), needle) {
					t.Fatalf("output contains the token (%q):\n%s", needle, out.String())
				}
			}
		})
	}
}

func segment(tok secret.Token, i int) string {
	parts := strings.Split(tok.Reveal(), ".")
	if i < len(parts) && len(parts[i]) > 3 {
		return parts[i]
	}
	return ""
}

func gatherText(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

func TestMetrics(t *testing.T) {
	m := metrics.New()
	f := &fakeReviews{respond: podBound("ns", "sa", "p", "uid")}
	a, _ := newTest(t, f, func(c *Config) { c.Metrics = m })
	good := makeJWT(t0.Add(time.Hour), "good")
	mustAuth(t, a, good)
	mustAuth(t, a, good)
	f.respond = withStatus(func(s *authenticationv1.TokenReviewStatus) { s.Authenticated = false })
	bad := makeJWT(t0.Add(time.Hour), "bad")
	_, _ = a.Authenticate(context.Background(), bad)
	_, _ = a.Authenticate(context.Background(), bad)
	f.respond = failWith(apierrors.NewServiceUnavailable("down"))
	_, _ = a.Authenticate(context.Background(), makeJWT(t0.Add(time.Hour), "err"))

	text := gatherText(t, m)
	for _, want := range []string{
		`secrets_broker_tokenreviews_total{outcome="authenticated"} 1`,
		`secrets_broker_tokenreviews_total{outcome="unauthenticated"} 1`,
		`secrets_broker_tokenreviews_total{outcome="error"} 1`,
		`secrets_broker_cache_hits_total{cache="tokenreview"} 1`,
		`secrets_broker_cache_hits_total{cache="tokenreview_negative"} 1`,
		`secrets_broker_cache_misses_total{cache="tokenreview"} 4`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics missing %q", want)
		}
	}
}

func BenchmarkAuthenticateCacheHit(b *testing.B) {
	f := &fakeReviews{respond: podBound("ns", "sa", "p", "uid")}
	a, err := New(Config{Reviews: f})
	if err != nil {
		b.Fatal(err)
	}
	tok := makeJWT(time.Now().Add(time.Hour), "bench")
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
