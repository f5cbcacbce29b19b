package agent

import (
	"context"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readiness tracks the facts /readyz reports: the policy is loaded, the
// apiserver answered once (pod index synced or a discovery call), and
// Vault answered once.
type readiness struct {
	policy    func() bool
	apiserver atomic.Bool
	vault     atomic.Bool
}

func (r *readiness) ready() (bool, string) {
	switch {
	case !r.policy():
		return false, "policy not loaded"
	case !r.apiserver.Load():
		return false, "kube-apiserver not reached yet"
	case !r.vault.Load():
		return false, "vault not reached yet"
	}
	return true, "ok"
}

func (a *Agent) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := a.ready.ready()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(why + "\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{}))
	if a.cfg.EnablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// untilReady retries check with backoff until it succeeds or ctx ends,
// then sets flag. It never fails the agent: readiness simply stays false.
func untilReady(ctx context.Context, flag *atomic.Bool, check func(context.Context) error) error {
	delay := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := check(cctx)
		cancel()
		if err == nil {
			flag.Store(true)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}
