package peer

import (
	"fmt"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// NewListener wraps inner so that every accepted connection carries its
// *Info. For Unix connections it reads SO_PEERCRED and takes a process handle
// under procRoot (the proc mount of the broker's pid namespace, "/proc" with
// hostPID). A peer whose facts cannot be read still gets its connection, with
// Info.Err set, so that attestation refuses it and the listener keeps serving.
// Closing the connection releases the handle.
func NewListener(inner net.Listener, procRoot string) net.Listener {
	return &listener{Listener: inner, procRoot: procRoot}
}

// usePeerPIDFD lets tests exercise the <procRoot>/<pid> fallback handle.
var usePeerPIDFD = true

type listener struct {
	net.Listener
	procRoot string
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	switch v := c.(type) {
	case *net.UnixConn:
		return &conn{Conn: c, info: unixInfo(v, l.procRoot)}, nil
	default:
		return &conn{Conn: c, info: infoFromAddr(c.RemoteAddr())}, nil
	}
}

func unixInfo(c *net.UnixConn, procRoot string) *Info {
	info := &Info{Transport: Unix}
	var (
		cred    *unix.Ucred
		credErr error
		pidfd   = -1
	)
	raw, err := c.SyscallConn()
	if err == nil {
		err = raw.Control(func(fd uintptr) {
			cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
			if credErr == nil && usePeerPIDFD {
				// Linux 6.5+: a pidfd for the process that called connect(2).
				if pfd, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD); err == nil {
					pidfd = pfd
				}
			}
		})
	}
	if err == nil {
		err = credErr
	}
	if err == nil && cred.Pid <= 0 {
		err = fmt.Errorf("peer pid %d: not in our pid namespace", cred.Pid)
	}
	if err != nil {
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		info.err = fmt.Errorf("%w: %w", ErrNoCredentials, err)
		return info
	}
	info.PID, info.UID, info.GID = cred.Pid, cred.Uid, cred.Gid
	p, err := openProcess(procRoot, cred.Pid, pidfd, cred.Uid)
	if err != nil {
		info.err = err
		return info
	}
	info.proc = p
	return info
}

// conn carries the peer facts and releases the process handle on Close.
type conn struct {
	net.Conn
	info *Info
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.info.proc != nil {
			c.info.proc.release()
		}
	})
	return err
}

// CloseWrite keeps http.Server's graceful half-close working.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn returns the wrapped connection.
func (c *conn) NetConn() net.Conn { return c.Conn }
