package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/secrets-broker/secrets-broker/agent/logfield"
	"github.com/secrets-broker/secrets-broker/node/peer"
)

// Run serves until ctx ends, then drains in-flight requests within the
// shutdown timeout and removes the socket. It returns the first error of
// any part.
func (a *Agent) Run(ctx context.Context) error {
	defer a.closeAudit()
	listeners, err := a.listen()
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.policies.Run(gctx) })
	if a.tls != nil {
		g.Go(func() error { return a.tls.Run(gctx) })
	}
	a.startReadiness(g, gctx)
	for _, l := range listeners {
		g.Go(func() error { return a.serve(gctx, l) })
	}
	a.log.Info().Int("listeners", len(listeners)).Msg("secrets-broker serving")
	return g.Wait()
}

type namedListener struct {
	net.Listener
	name    string
	handler http.Handler
}

func (a *Agent) listen() ([]namedListener, error) {
	var ls []namedListener
	closeAll := func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}
	if a.cfg.SocketPath != "" {
		u, err := listenUnix(a.cfg.SocketPath, a.cfg.SocketPerm, a.cfg.SocketGroup)
		if err != nil {
			return nil, err
		}
		ls = append(ls, namedListener{peer.NewListener(u, a.cfg.HostProc), "unix:" + a.cfg.SocketPath, a.handler})
	}
	for _, spec := range []struct {
		name, addr string
		h          http.Handler
	}{{"tcp", a.cfg.ListenAddr, a.handler}, {"admin", a.cfg.AdminAddr, a.adminHandler()}} {
		if spec.addr == "" {
			continue
		}
		l, err := net.Listen("tcp", spec.addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listen %s %s: %w", spec.name, spec.addr, err)
		}
		if spec.name == "tcp" {
			l = peer.NewListener(l, a.cfg.HostProc)
			if a.tls != nil {
				l = tls.NewListener(l, a.tls.TLSConfig())
			}
		}
		ls = append(ls, namedListener{l, spec.name + ":" + l.Addr().String(), spec.h})
	}
	return ls, nil
}

func (a *Agent) serve(ctx context.Context, l namedListener) error {
	srv := &http.Server{
		Handler:           l.handler,
		ReadHeaderTimeout: a.cfg.ReadHeaderTimeout,
		ReadTimeout:       a.cfg.RequestTimeout,
		WriteTimeout:      a.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       a.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       peer.ConnContext,
		ErrorLog:          newStdLogger(a.component("http")),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	a.log.Info().Str(logfield.Addr, l.name).Msg("listening")
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", l.name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx) // closes the listener: the socket path is removed if still ours
	if errors.Is(err, context.DeadlineExceeded) {
		a.log.Warn().Str(logfield.Addr, l.name).Msg("drain deadline passed; closing remaining connections")
		_ = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", l.name, serr)
	}
	a.log.Info().Str(logfield.Addr, l.name).Msg("drained")
	return nil
}

// startReadiness runs the one-time checks behind /readyz and the pod index.
func (a *Agent) startReadiness(g *errgroup.Group, ctx context.Context) {
	g.Go(func() error { return untilReady(ctx, &a.ready.vault, a.vault.Ping) })
	if a.pods == nil {
		g.Go(func() error {
			return untilReady(ctx, &a.ready.apiserver, func(context.Context) error {
				_, err := a.kube.Discovery().ServerVersion()
				return err
			})
		})
		return
	}
	g.Go(func() error { return a.pods.Run(ctx) })
	g.Go(func() error {
		if err := a.pods.WaitForSync(ctx); err != nil {
			return nil // ctx ended before sync; Run reports real errors
		}
		a.ready.apiserver.Store(true)
		a.log.Info().Int("pods", a.pods.Pods()).Msg("pod index synced")
		return nil
	})
}
