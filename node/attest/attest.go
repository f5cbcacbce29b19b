// Package attest decides whether the caller on a connection really is the
// pod its ServiceAccount token names, on this node.
//
// # Threat model
//
// A bound ServiceAccount token proves what the apiserver issued; it does not
// prove who presents it. Attestation ties the token to the connection:
//
//   - A token stolen from a log line, a debug dump or a compromised sidecar
//     and replayed from another process on the node is refused: on the Unix
//     socket the caller's pid (SO_PEERCRED) must live in the token's pod's
//     cgroup (cgroup_mismatch, peer_not_a_pod).
//   - Replayed from another pod over TCP: the remote IP must be one of the
//     token pod's IPs, or a node IP only for a hostNetwork pod (ip_mismatch).
//   - Replayed against another node's broker: the token's node and the pod
//     index of this node must both agree (pod_not_on_node).
//   - PID reuse: after the cgroup read, the process handle taken at accept
//     must still name the same process (process_changed).
//   - mountinfo spoofing: only /proc/<pid>/cgroup is read (spire#7288).
//
// It does not defend against root on the node (who can enter any cgroup,
// read any token and ptrace any process), against a process inside the
// token's own pod, or, for hostNetwork pods over TCP, against other
// host-network processes. Mode "node" drops the process and IP checks; mode
// "off" drops everything and is for development only.
package attest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"

	"github.com/rs/zerolog"

	"github.com/secrets-broker/secrets-broker/node/cgroup"
	"github.com/secrets-broker/secrets-broker/node/peer"
	"github.com/secrets-broker/secrets-broker/node/podindex"
)

// Mode selects how much is checked.
type Mode string

const (
	Strict   Mode = "strict" // token's pod == caller's process or IP, on this node
	NodeOnly Mode = "node"   // token's pod is on this node; no process/IP check
	Off      Mode = "off"    // nothing; development only
)

// ParseMode parses a mode name; "" means Strict.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return Strict, nil
	case Strict, NodeOnly, Off:
		return m, nil
	}
	return "", fmt.Errorf("attestation mode %q: want strict, node or off", s)
}

// Claim is what the TokenReview said about the caller.
type Claim struct {
	Namespace, ServiceAccount, PodName, PodUID, NodeName string
}

// PodLookup finds a pod of this node by UID (*podindex.Index).
type PodLookup interface {
	ByUID(uid string) (podindex.Pod, bool)
}

// PodFetcher is optionally implemented by a PodLookup: asked when the
// index has no such pod, it checks the apiserver directly, so a pod the
// watch has not delivered yet is not refused as "not on this node".
type PodFetcher interface {
	FetchPod(ctx context.Context, namespace, name, uid string) (podindex.Pod, bool)
}

var _ PodLookup = (*podindex.Index)(nil)

// Config wires an Attestor.
type Config struct {
	Mode     Mode
	NodeName string
	NodeIPs  []netip.Addr // this node's addresses, for hostNetwork pods over TCP
	Pods     PodLookup
	Proc     fs.FS // host proc root, os.DirFS("/proc")
	Logger   zerolog.Logger
}

// Attestor checks callers against their claims.
type Attestor struct {
	mode    Mode
	node    string
	nodeIPs []netip.Addr
	pods    PodLookup
	proc    fs.FS
	log     zerolog.Logger
}

// New validates cfg. Mode "" means Strict.
func New(cfg Config) (*Attestor, error) {
	mode, err := ParseMode(string(cfg.Mode))
	if err != nil {
		return nil, err
	}
	var errs []error
	if mode != Off {
		if cfg.NodeName == "" {
			errs = append(errs, errors.New("attest: node name is required"))
		}
		if cfg.Pods == nil {
			errs = append(errs, errors.New("attest: pod lookup is required"))
		}
	}
	if mode == Strict && cfg.Proc == nil {
		errs = append(errs, errors.New("attest: proc filesystem is required in strict mode"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ips := make([]netip.Addr, len(cfg.NodeIPs))
	for i, ip := range cfg.NodeIPs {
		ips[i] = ip.Unmap()
	}
	a := &Attestor{mode: mode, node: cfg.NodeName, nodeIPs: ips, pods: cfg.Pods, proc: cfg.Proc, log: cfg.Logger}
	if mode == Off {
		a.log.Warn().Str("mode", string(mode)).Msg("attestation is OFF: any holder of a token can act as its pod; development only")
	}
	return a, nil
}

// Mode returns the configured mode.
func (a *Attestor) Mode() Mode { return a.mode }

// Attest returns nil if the caller behind p may act as the pod of c, else an
// *Error saying which check failed.
func (a *Attestor) Attest(ctx context.Context, p *peer.Info, c Claim) error {
	if a.mode == Off {
		a.log.Warn().Str("mode", string(Off)).Str("pod_uid", c.PodUID).Msg("attestation is off; caller not checked")
		return nil
	}
	if c.PodUID == "" {
		return refuse(CodeIdentityMismatch, "token is not bound to a pod", nil)
	}
	if c.NodeName != "" && c.NodeName != a.node {
		return refuse(CodeNotOnNode, fmt.Sprintf("token's pod runs on node %q, this is %q", c.NodeName, a.node), nil)
	}
	pod, ok := a.pods.ByUID(c.PodUID)
	if f, canFetch := a.pods.(PodFetcher); !ok && canFetch && c.PodName != "" {
		pod, ok = f.FetchPod(ctx, c.Namespace, c.PodName, c.PodUID)
	}
	if !ok {
		return refuse(CodeNotOnNode, fmt.Sprintf("pod %s is not running on this node", c.PodUID), nil)
	}
	if pod.Namespace != c.Namespace || pod.ServiceAccount != c.ServiceAccount || (c.PodName != "" && pod.Name != c.PodName) {
		return refuse(CodeIdentityMismatch, fmt.Sprintf("pod %s is %s/%s (sa %s), token says %s/%s (sa %s)",
			pod.UID, pod.Namespace, pod.Name, pod.ServiceAccount, c.Namespace, c.PodName, c.ServiceAccount), nil)
	}
	if a.mode == NodeOnly {
		return nil
	}
	if p == nil {
		return refuse(CodeNoPeer, "no peer information on the connection", nil)
	}
	if err := p.Err(); err != nil {
		return refuse(CodeNoPeer, "peer credentials unavailable", err)
	}
	switch p.Transport {
	case peer.Unix:
		return a.socket(p, pod)
	case peer.TCP:
		return a.tcp(p, pod)
	}
	return refuse(CodeNoPeer, fmt.Sprintf("unknown transport %q", p.Transport), nil)
}

// socket: the calling process must live in the pod's cgroup, and still be the
// process that connected after we read its cgroup.
func (a *Attestor) socket(p *peer.Info, pod podindex.Pod) error {
	ref, err := cgroup.PodFromProc(a.proc, p.PID)
	switch {
	case errors.Is(err, cgroup.ErrNotAPod), errors.Is(err, cgroup.ErrAmbiguous):
		return refuse(CodeNotAPod, fmt.Sprintf("pid %d: %v", p.PID, err), err)
	case errors.Is(err, fs.ErrNotExist):
		return refuse(CodeProcessChanged, fmt.Sprintf("pid %d exited", p.PID), err)
	case err != nil:
		return refuse(CodeNoPeer, fmt.Sprintf("pid %d: %v", p.PID, err), err)
	}
	if ref.PodUID != pod.UID {
		return refuse(CodeCgroupMismatch, fmt.Sprintf("pid %d runs in pod %s, token is for pod %s", p.PID, ref.PodUID, pod.UID), nil)
	}
	if err := p.Revalidate(); err != nil {
		return refuse(CodeProcessChanged, fmt.Sprintf("pid %d: %v", p.PID, err), err)
	}
	return nil
}

// tcp: the remote address must be the pod's; node addresses count only for
// hostNetwork pods, whose traffic comes from the node.
func (a *Attestor) tcp(p *peer.Info, pod podindex.Pod) error {
	ip := p.RemoteIP.Unmap()
	onNode := slices.Contains(a.nodeIPs, ip)
	switch {
	case !ip.IsValid():
		return refuse(CodeNoPeer, "no remote address", nil)
	case pod.HostNetwork && (onNode || slices.Contains(pod.IPs, ip)):
		return nil
	case !pod.HostNetwork && !onNode && slices.Contains(pod.IPs, ip):
		return nil
	}
	return refuse(CodeIPMismatch, fmt.Sprintf("remote %s is not an address of pod %s", ip, pod.UID), nil)
}
