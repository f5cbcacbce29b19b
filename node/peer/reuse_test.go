package peer

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const childEnv = "SB_PEER_TEST_CHILD_SOCKET"

// TestMain turns the test binary into the connecting child of
// TestPIDReuse when childEnv is set.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(child(path))
	}
	os.Exit(m.Run())
}

// child connects, says hello, waits for the parent's go-ahead and exits,
// leaving the parent holding a connection whose process is gone.
func child(path string) int {
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := c.Write([]byte{1}); err != nil {
		return 3
	}
	b := make([]byte, 1)
	c.Read(b)
	return 0
}

// TestPIDReuse follows SPIRE's peertracker test: a child process connects
// and exits; Revalidate must then refuse, whether or not the child has been
// reaped yet (a zombie is no caller), with either kind of handle.
func TestPIDReuse(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pidfd bool
		reap  bool
	}{
		{"SO_PEERPIDFD handle, reaped", true, true},
		{"SO_PEERPIDFD handle, zombie", true, false},
		{"proc dir handle, reaped", false, true},
		{"proc dir handle, zombie", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setPeerPIDFD(t, tt.pidfd)
			path := shortSocket(t)
			inner, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			l := NewListener(inner, "/proc")
			defer l.Close()

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+path)
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			reaped := false
			defer func() {
				if !reaped {
					cmd.Process.Kill()
					cmd.Wait()
				}
			}()
			c, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			info := FromConn(c)
			if info.PID != int32(cmd.Process.Pid) {
				t.Fatalf("peer pid %d, child is %d", info.PID, cmd.Process.Pid)
			}
			if info.proc == nil || info.proc.pidfd != tt.pidfd {
				if info.proc != nil && tt.pidfd {
					t.Skip("kernel has no SO_PEERPIDFD (Linux < 6.5)")
				}
				t.Fatalf("handle kind: info %+v, err %v", info, info.Err())
			}
			if err := info.Revalidate(); err != nil {
				t.Fatalf("Revalidate() while the child lives = %v", err)
			}

			c.Write([]byte{1}) // let the child exit
			if tt.reap {
				cmd.Wait()
				reaped = true
			} else {
				waitZombie(t, cmd.Process.Pid)
			}
			// A pidfd turns readable once the whole thread group has exited,
			// which can be a moment after the leader shows as a zombie (the
			// child is a multi-threaded Go binary). Until then the pid cannot
			// be reused (it is not reaped), so allow that moment, bounded.
			err = info.Revalidate()
			for deadline := time.Now().Add(2 * time.Second); tt.pidfd && err == nil && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
				err = info.Revalidate()
			}
			if !errors.Is(err, ErrProcessChanged) {
				t.Fatalf("Revalidate() after the child exited = %v, want ErrProcessChanged", err)
			}
		})
	}
}

func waitZombie(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if st, _, err := parseStat(b); err == nil && st == 'Z' {
			return
		}
	}
	t.Fatal("child did not exit")
}

// TestRevalidateDetectsChange drives the comparison over a fake proc
// directory through the fallback handle: a different start time is a
// reused pid; a different uid or a zombie is refused too.
func TestRevalidateDetectsChange(t *testing.T) {
	const pid, uid = 4242, 1000
	stat := func(comm string, state byte, start int) string {
		f := strings.Fields("1 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0")
		return fmt.Sprintf("%d (%s) %c %s %d 1000 100\n", pid, comm, state, strings.Join(f, " "), start)
	}
	status := func(euid int) string {
		return fmt.Sprintf("Name:\tapp\nState:\tS (sleeping)\nUid:\t%d\t%d\t%d\t%d\nGid:\t1\t1\t1\t1\n", uid, euid, uid, uid)
	}
	tests := []struct {
		name        string
		stat, stat2 string
		status2     string
		wantErr     bool
	}{
		{"unchanged", stat("app", 'S', 777), stat("app", 'S', 777), status(uid), false},
		{"comm with spaces and parens", stat("a) (b", 'R', 777), stat("a) (b", 'R', 777), status(uid), false},
		{"new start time: pid reused", stat("app", 'S', 777), stat("app", 'S', 778), status(uid), true},
		{"zombie", stat("app", 'S', 777), stat("app", 'Z', 777), status(uid), true},
		{"uid changed", stat("app", 'S', 777), stat("app", 'S', 777), status(0), true},
		{"garbled stat", stat("app", 'S', 777), "4242 (app", status(uid), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, strconv.Itoa(pid))
			write(t, dir, "stat", tt.stat)
			write(t, dir, "status", status(uid))
			p, err := openProcess(root, pid, -1, uid)
			if err != nil {
				t.Fatal(err)
			}
			defer p.release()
			write(t, dir, "stat", tt.stat2)
			write(t, dir, "status", tt.status2)
			err = (&Info{Transport: Unix, PID: pid, UID: uid, proc: p}).Revalidate()
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrProcessChanged)) {
				t.Fatalf("Revalidate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), bytes.NewBufferString(data).Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
