package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// unixSocket is a Unix listener bound at a temporary name and renamed over
// the public path, so a new broker takes the path atomically while the old
// one drains its own connections (DaemonSet maxSurge rollout). On close it
// removes the path only if the path still is its own socket.
type unixSocket struct {
	net.Listener
	path string
	ino  uint64
}

func listenUnix(path string, perm fs.FileMode, gid int) (*unixSocket, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("socket dir: %w", err)
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	tmp := path + "." + hex.EncodeToString(suffix[:])
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", tmp, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	fail := func(err error) (*unixSocket, error) {
		_ = l.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return fail(fmt.Errorf("chmod socket: %w", err))
	}
	if gid >= 0 {
		if err := os.Chown(tmp, -1, gid); err != nil {
			return fail(fmt.Errorf("chown socket: %w", err))
		}
	}
	ino, err := inode(tmp)
	if err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("rename socket into place: %w", err))
	}
	return &unixSocket{Listener: l, path: path, ino: ino}, nil
}

// Close stops accepting and removes the socket path unless a newer broker
// has already renamed its own socket over it.
func (u *unixSocket) Close() error {
	err := u.Listener.Close()
	if ino, ierr := inode(u.path); ierr == nil && ino == u.ino {
		if rerr := os.Remove(u.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove socket: %w", rerr))
		}
	}
	return err
}

func inode(path string) (uint64, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, fmt.Errorf("stat socket: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat socket: no inode")
	}
	return st.Ino, nil
}
