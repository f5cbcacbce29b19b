package env

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// apiserverMu serialises StopAPIServer and StartAPIServer.
var apiserverMu sync.Mutex

// StopAPIServer stops the kube-apiserver abruptly (SIGTERM, SIGKILL after
// 1 s: its graceful shutdown takes longer than 10 s while watches are open)
// to simulate a control-plane outage; etcd keeps running.
func (e *Env) StopAPIServer() error {
	apiserverMu.Lock()
	defer apiserverMu.Unlock()
	if e.apiserver == nil {
		return errors.New("stop apiserver: not started")
	}
	e.apiserver.stop(time.Second)
	return nil
}

// StartAPIServer restarts a stopped kube-apiserver with exactly the same
// command line: same port, serving certificate (kept in its cert dir),
// ServiceAccount signing key and token file, so tokens minted before the
// outage stay valid and clients reconnect without new configuration.
func (e *Env) StartAPIServer(ctx context.Context) error {
	apiserverMu.Lock()
	defer apiserverMu.Unlock()
	old := e.apiserver
	if old == nil {
		return errors.New("start apiserver: never started")
	}
	if old.exited() == nil {
		return errors.New("start apiserver: already running")
	}
	s, err := startServer(old.name, old.cmd.Path, old.cmd.Args[1:], old.cmd.Env, old.logPath)
	if err != nil {
		return fmt.Errorf("start apiserver: %w", err)
	}
	e.apiserver = s
	err = s.waitReady(ctx, 90*time.Second, func(ctx context.Context) error {
		_, err := e.admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("start apiserver: %w\n--- apiserver log ---\n%s", err, s.tail(30))
	}
	return nil
}
