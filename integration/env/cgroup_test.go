package env

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/secrets-broker/secrets-broker/node/cgroup"
)

// TestCgroupForPod places a real process into a kubelet-shaped cgroup and
// checks that /proc/<pid>/cgroup names the pod, then that Remove leaves
// nothing behind. It needs root (cgroup creation), nothing else.
func TestCgroupForPod(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("creating cgroups needs root: run the integration tests as root (CI does)")
	}
	const uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	cg, err := CgroupForPod(uid)
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	t.Cleanup(func() {
		if !removed {
			_ = cg.Remove()
		}
	})
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := cg.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	want := "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-" + cg.ContainerID + ".scope"
	if !strings.Contains(string(b), want+"\n") {
		t.Fatalf("/proc/pid/cgroup = %q, want a line %q", b, want)
	}
	if cg.Path != strings.TrimPrefix(want, "0::") {
		t.Errorf("Path = %q, want %q", cg.Path, strings.TrimPrefix(want, "0::"))
	}
	if len(cg.ContainerID) != 64 {
		t.Errorf("ContainerID %q is not 64 hex", cg.ContainerID)
	}
	// Remove with the process still inside: it must move it out first.
	if err := cg.Remove(); err != nil {
		t.Fatal(err)
	}
	removed = true
	ref, err := cgroup.Parse(strings.NewReader(string(b)))
	if err != nil || ref.PodUID != uid || ref.ContainerID != cg.ContainerID {
		t.Fatalf("the broker's parser reads %+v, %v from %q; want pod %s", ref, err, b, uid)
	}
	if _, err := os.Stat(cg.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Remove (stat err %v)", cg.Dir, err)
	}
	b, _ = os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if strings.Contains(string(b), "kubepods") {
		t.Errorf("process still in a kubepods cgroup after Remove: %q", b)
	}
}
