package agent

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secrets-broker/secrets-broker/agent/config"
	"github.com/secrets-broker/secrets-broker/agent/metrics"
)

func TestAdminEndpoints(t *testing.T) {
	policyLoaded := false
	newAgent := func(pprof bool) *Agent {
		a := &Agent{cfg: config.Config{Flags: config.Flags{EnablePprof: pprof}}, metrics: metrics.New()}
		a.ready.policy = func() bool { return policyLoaded }
		return a
	}
	get := func(h http.Handler, path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}
	a := newAgent(false)
	h := a.adminHandler()
	steps := []struct {
		name   string
		before func()
		want   int
		body   string
	}{
		{"nothing yet", func() {}, 503, "policy not loaded"},
		{"policy loaded", func() { policyLoaded = true }, 503, "kube-apiserver not reached"},
		{"apiserver answered", func() { a.ready.apiserver.Store(true) }, 503, "vault not reached"},
		{"vault answered", func() { a.ready.vault.Store(true) }, 200, "ok"},
	}
	for _, s := range steps {
		s.before()
		if code, body := get(h, "/readyz"); code != s.want || !strings.Contains(body, s.body) {
			t.Fatalf("%s: /readyz = %d %q, want %d %q", s.name, code, body, s.want, s.body)
		}
	}
	if code, _ := get(h, "/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	a.metrics.CacheHit("session")
	if code, body := get(h, "/metrics"); code != 200 || !strings.Contains(body, `secrets_broker_cache_hits_total{cache="session"} 1`) {
		t.Fatalf("/metrics = %d, missing the counter", code)
	}
	if code, _ := get(h, "/debug/pprof/"); code != 404 {
		t.Fatalf("pprof served while disabled: %d", code)
	}
	if code, _ := get(newAgent(true).adminHandler(), "/debug/pprof/"); code != 200 {
		t.Fatalf("pprof not served when enabled: %d", code)
	}
}
