package agent

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestSocketHandover is the rollout path: a second broker renames its
// socket over the first one's; the first one's shutdown must not remove it.
func TestSocketHandover(t *testing.T) {
	dir, err := os.MkdirTemp("", "sb") // sun_path is 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "run", "broker.sock")
	old, err := listenUnix(path, 0o660, -1)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v, %v; want a socket with mode 0660", fi, err)
	}
	next, err := listenUnix(path, 0o666, -1)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	go func() {
		if c, err := next.Accept(); err == nil {
			_ = c.Close()
			close(accepted)
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	<-accepted // the path now leads to the new listener
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("old broker's shutdown removed the new socket: %v", err)
	}
	if err := next.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket left behind after the last broker stopped: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
		t.Fatalf("temp sockets left behind: %v", entries)
	}
}
