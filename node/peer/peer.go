// Package peer records who is on the other end of each broker connection.
//
// # Threat model
//
// For Unix-socket callers the kernel's SO_PEERCRED gives the pid, uid and gid
// of the process that connected; node/attest then maps that pid to a pod
// through /proc/<pid>/cgroup. A pid is only a number, so the package defends
// against PID reuse the way SPIRE's peertracker does: at accept it takes a
// handle on the exact process (SO_PEERPIDFD, a pidfd for the process that
// called connect(2), on Linux 6.5+; else an O_PATH fd on <procRoot>/<pid>) and
// records its start time (/proc/<pid>/stat field 22) and uid. Revalidate,
// called after the cgroup read and before any Vault call, fails with
// ErrProcessChanged if the process exited, turned into a zombie, or its start
// time or uid changed, so a caller that connects, exits and lets a victim
// pod's process take over its pid is refused.
//
// Residual window: without SO_PEERPIDFD the handle is opened at accept, after
// connect; a peer that exits in between and whose pid is reused before accept
// would be attributed to the new process. This needs a pid wrap-around in
// that window. Root on the node is out of scope.
//
// For TCP callers only the remote IP is recorded. Each Unix connection costs
// one extra file descriptor and about a hundred bytes.
package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
)

// Transport says how the caller reached the broker.
type Transport string

const (
	Unix Transport = "unix"
	TCP  Transport = "tcp"
)

var (
	// ErrProcessChanged means the process behind a Unix connection is gone or
	// is no longer the one that connected.
	ErrProcessChanged = errors.New("peer process changed since accept")
	// ErrNoCredentials means the peer's credentials could not be read.
	ErrNoCredentials = errors.New("peer credentials unavailable")
)

// Info holds the peer facts of one connection. It is safe for concurrent use.
type Info struct {
	Transport Transport
	PID       int32 // Unix only
	UID, GID  uint32
	RemoteIP  netip.Addr // TCP only

	err  error    // why the facts are incomplete; attestation must refuse
	proc *process // Unix only; nil when err != nil
}

// Err reports why the peer's facts could not be read at accept, or nil.
func (i *Info) Err() error { return i.err }

// Revalidate guards against PID reuse: for a Unix peer it checks that the
// process that connected still exists — through its pidfd when the kernel
// gave one, else by re-reading /proc for the start time and uid seen at
// accept. Call it after reading anything through /proc/<pid>. It returns an
// error wrapping ErrProcessChanged (or the accept-time error) otherwise, and
// nil for TCP peers.
func (i *Info) Revalidate() error {
	if i == nil {
		return ErrNoCredentials
	}
	if i.err != nil {
		return i.err
	}
	if i.Transport != Unix {
		return nil
	}
	if i.proc == nil {
		return ErrNoCredentials
	}
	return i.proc.revalidate(i.UID)
}

type ctxKey struct{}

// ConnContext is an http.Server ConnContext hook: it stores the connection's
// *Info in the context. It unwraps *tls.Conn. A TCP connection that did not
// come from NewListener gets an Info with its remote IP; a Unix one gets an
// Info whose Err is ErrNoCredentials.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, ctxKey{}, FromConn(c))
}

// FromContext returns the *Info put there by ConnContext.
func FromContext(ctx context.Context) (*Info, bool) {
	i, ok := ctx.Value(ctxKey{}).(*Info)
	return i, ok && i != nil
}

// FromConn returns the peer facts of c, unwrapping TLS.
func FromConn(c net.Conn) *Info {
	for {
		switch v := c.(type) {
		case *conn:
			return v.info
		case *tls.Conn:
			c = v.NetConn()
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return infoFromAddr(c.RemoteAddr())
		}
	}
}

func infoFromAddr(a net.Addr) *Info {
	switch v := a.(type) {
	case *net.TCPAddr:
		return &Info{Transport: TCP, RemoteIP: v.AddrPort().Addr().Unmap()}
	case *net.UnixAddr:
		return &Info{Transport: Unix, err: ErrNoCredentials}
	default:
		return &Info{err: ErrNoCredentials}
	}
}
