package attest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rs/zerolog"

	"github.com/secrets-broker/secrets-broker/node/cgroup"
	"github.com/secrets-broker/secrets-broker/node/peer"
	"github.com/secrets-broker/secrets-broker/node/podindex"
)

const (
	uidA = "2c48913c-b29f-11e7-9350-020968147796"
	uidB = "9b3a1f0e-4d2c-4e8a-b1f7-6c5d3e2a1b09"
	uidH = "11111111-2222-3333-4444-555555555555" // a hostNetwork pod
	cid  = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	node = "node-a"
)

var (
	ipA    = netip.MustParseAddr("10.244.1.7")
	nodeIP = netip.MustParseAddr("192.168.0.10")
)

type fakePods map[string]podindex.Pod

func (f fakePods) ByUID(uid string) (podindex.Pod, bool) { p, ok := f[uid]; return p, ok }

var pods = fakePods{
	uidA: {UID: uidA, Namespace: "tokenizer-dp", Name: "dp-0", ServiceAccount: "dp", NodeName: node, IPs: []netip.Addr{ipA}},
	uidB: {UID: uidB, Namespace: "tokenizer-cp", Name: "cp-0", ServiceAccount: "cp", NodeName: node, IPs: []netip.Addr{netip.MustParseAddr("10.244.1.8"), nodeIP}},
	uidH: {UID: uidH, Namespace: "kube-system", Name: "agent", ServiceAccount: "agent", NodeName: node, IPs: []netip.Addr{nodeIP}, HostNetwork: true},
}

func claimOf(uid string) Claim {
	p := pods[uid]
	return Claim{Namespace: p.Namespace, ServiceAccount: p.ServiceAccount, PodName: p.Name, PodUID: uid, NodeName: node}
}

func with(c Claim, f func(*Claim)) Claim { f(&c); return c }

// procWith is a proc tree in which our own pid lives in the given cgroup.
func procWith(cgroupFile string) fstest.MapFS {
	fsys := fstest.MapFS{}
	if cgroupFile != "" {
		fsys[strconv.Itoa(os.Getpid())+"/cgroup"] = &fstest.MapFile{Data: []byte(cgroupFile)}
	}
	return fsys
}

func podCgroup(uid string) string {
	return "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
		strings.ReplaceAll(uid, "-", "_") + ".slice/cri-containerd-" + cid + ".scope\n"
}

// unixPeer connects to ourselves through peer.NewListener and returns the
// accepted side's Info; closed releases its process handle first.
func unixPeer(t *testing.T, closed bool) *peer.Info {
	t.Helper()
	dir, err := os.MkdirTemp("", "sb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	inner, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	l := peer.NewListener(inner, "/proc")
	t.Cleanup(func() { l.Close() })
	c, err := net.Dial("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if closed {
		sc.Close()
	} else {
		t.Cleanup(func() { sc.Close() })
	}
	return peer.FromConn(sc)
}

func tcpPeer(ip string) *peer.Info {
	return &peer.Info{Transport: peer.TCP, RemoteIP: netip.MustParseAddr(ip)}
}

func TestAttest(t *testing.T) {
	live := unixPeer(t, false)
	released := unixPeer(t, true)
	noCreds := peer.FromConn(&net.UnixConn{}) // a Unix conn not from NewListener

	tests := []struct {
		name   string
		mode   Mode
		cgroup string // our own /proc/<pid>/cgroup; "" = missing
		peer   *peer.Info
		claim  Claim
		want   string // code, "" = allowed
		cause  error
	}{
		{"socket: caller in the token's pod", Strict, podCgroup(uidA), live, claimOf(uidA), "", nil},
		{"socket: caller in another pod", Strict, podCgroup(uidB), live, claimOf(uidA), CodeCgroupMismatch, nil},
		{"socket: caller is a host process", Strict, "0::/system.slice/sshd.service\n", live, claimOf(uidA), CodeNotAPod, cgroup.ErrNotAPod},
		{"socket: caller's cgroup is ambiguous", Strict, podCgroup(uidA) + "1:name=systemd:/kubepods/pod" + uidB + "/" + cid + "\n", live, claimOf(uidA), CodeNotAPod, cgroup.ErrAmbiguous},
		{"socket: caller exited before the cgroup read", Strict, "", live, claimOf(uidA), CodeProcessChanged, nil},
		{"socket: process handle gone (pid may be reused)", Strict, podCgroup(uidA), released, claimOf(uidA), CodeProcessChanged, peer.ErrProcessChanged},
		{"socket: peer credentials unreadable", Strict, podCgroup(uidA), noCreds, claimOf(uidA), CodeNoPeer, peer.ErrNoCredentials},
		{"no peer on the connection", Strict, podCgroup(uidA), nil, claimOf(uidA), CodeNoPeer, nil},
		{"token pod not in the node index", Strict, podCgroup(uidA), live, with(claimOf(uidA), func(c *Claim) { c.PodUID = "00000000-0000-0000-0000-000000000000" }), CodeNotOnNode, nil},
		{"token names another node", Strict, podCgroup(uidA), live, with(claimOf(uidA), func(c *Claim) { c.NodeName = "node-b" }), CodeNotOnNode, nil},
		{"token not bound to a pod", Strict, podCgroup(uidA), live, with(claimOf(uidA), func(c *Claim) { c.PodUID = "" }), CodeIdentityMismatch, nil},
		{"namespace differs from the pod's", Strict, podCgroup(uidA), live, with(claimOf(uidA), func(c *Claim) { c.Namespace = "tokenizer-cp" }), CodeIdentityMismatch, nil},
		{"serviceaccount differs from the pod's", Strict, podCgroup(uidA), live, with(claimOf(uidA), func(c *Claim) { c.ServiceAccount = "cp" }), CodeIdentityMismatch, nil},
		{"pod name differs", Strict, podCgroup(uidA), live, with(claimOf(uidA), func(c *Claim) { c.PodName = "dp-1" }), CodeIdentityMismatch, nil},
		{"token without node name", Strict, podCgroup(uidA), live, with(claimOf(uidA), func(c *Claim) { c.NodeName = "" }), "", nil},

		{"tcp: pod IP", Strict, "", tcpPeer("10.244.1.7"), claimOf(uidA), "", nil},
		{"tcp: IPv4-mapped pod IP", Strict, "", tcpPeer("::ffff:10.244.1.7"), claimOf(uidA), "", nil},
		{"tcp: another pod's IP", Strict, "", tcpPeer("10.244.1.8"), claimOf(uidA), CodeIPMismatch, nil},
		{"tcp: node IP for a pod network pod", Strict, "", tcpPeer("192.168.0.10"), claimOf(uidA), CodeIPMismatch, nil},
		{"tcp: node IP listed as a non-hostNetwork pod's IP", Strict, "", tcpPeer("192.168.0.10"), claimOf(uidB), CodeIPMismatch, nil},
		{"tcp: node IP for a hostNetwork pod", Strict, "", tcpPeer("192.168.0.10"), claimOf(uidH), "", nil},
		{"tcp: foreign IP for a hostNetwork pod", Strict, "", tcpPeer("10.244.1.7"), claimOf(uidH), CodeIPMismatch, nil},
		{"tcp: no remote IP", Strict, "", &peer.Info{Transport: peer.TCP}, claimOf(uidA), CodeNoPeer, nil},

		{"node: pod on this node, no process check", NodeOnly, "", nil, claimOf(uidA), "", nil},
		{"node: wrong process is not checked", NodeOnly, podCgroup(uidB), live, claimOf(uidA), "", nil},
		{"node: pod not on this node", NodeOnly, "", nil, with(claimOf(uidA), func(c *Claim) { c.PodUID = uidH[:35] + "6" }), CodeNotOnNode, nil},
		{"node: identity mismatch", NodeOnly, "", nil, with(claimOf(uidA), func(c *Claim) { c.ServiceAccount = "x" }), CodeIdentityMismatch, nil},

		{"off: anything goes", Off, "", nil, Claim{}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(Config{Mode: tt.mode, NodeName: node, NodeIPs: []netip.Addr{nodeIP}, Pods: pods,
				Proc: procWith(tt.cgroup), Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			err = a.Attest(context.Background(), tt.peer, tt.claim)
			if got := CodeOf(err); got != tt.want || (tt.want != "") != (err != nil) {
				t.Fatalf("Attest() = %v (code %q), want code %q", err, got, tt.want)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Fatalf("Attest() = %v, want it to wrap %v", err, tt.cause)
			}
		})
	}
}

func TestOffWarnsOnEveryCall(t *testing.T) {
	var buf bytes.Buffer
	a, err := New(Config{Mode: Off, Logger: zerolog.New(&buf)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := a.Attest(context.Background(), nil, Claim{PodUID: uidA}); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), `"level":"warn"`); n != 3 {
		t.Fatalf("%d warnings (want 1 at start + 1 per call):\n%s", n, buf.String())
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Strict, "strict": Strict, "node": NodeOnly, "off": Off, "Strict": "", "none": ""} {
		t.Run(in, func(t *testing.T) {
			got, err := ParseMode(in)
			if got != want || (err != nil) != (want == "") {
				t.Fatalf("ParseMode(%q) = %q, %v", in, got, err)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		errs int
	}{
		{"strict needs node, pods and proc", Config{}, 3},
		{"node mode needs no proc", Config{Mode: NodeOnly, NodeName: node, Pods: pods}, 0},
		{"bad mode", Config{Mode: "loose"}, 1},
		{"off needs nothing", Config{Mode: Off, Logger: zerolog.Nop()}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			n := 0
			if err != nil {
				n = strings.Count(err.Error(), "\n") + 1
			}
			if n != tt.errs {
				t.Fatalf("New() = %v, want %d problems", err, tt.errs)
			}
		})
	}
}

func TestCodeOf(t *testing.T) {
	err := refuse(CodeIPMismatch, "x", nil)
	if CodeOf(err) != CodeIPMismatch || CodeOf(errors.Join(errors.New("wrapped"), err)) != CodeIPMismatch || CodeOf(errors.New("plain")) != "" || CodeOf(nil) != "" {
		t.Fatal("CodeOf misreads codes")
	}
}
