package env

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Cgroup is a container's cgroup laid out as kubelet (systemd driver) and
// containerd lay out a BestEffort pod's container, in EVERY hierarchy the
// calling process belongs to (each cgroup v1 controller and the unified v2
// one), so that /proc/<pid>/cgroup of a process placed in it reads like a
// real pod's on this host, e.g. on a hybrid host:
//
//	4:memory:/<current>/kubepods.slice/.../cri-containerd-<64 hex>.scope
//	0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_with_underscores>.slice/cri-containerd-<64 hex>.scope
//
// A real kubelet puts a container in all hierarchies; a process placed in
// only the v2 one would look half-in a pod, which attestation rightly
// refuses as ambiguous. Each hierarchy's tree is created below the caller's
// current cgroup there, so no resource limit is escaped. Needs root.
type Cgroup struct {
	// Path is the pod-relative part ("/kubepods.slice/...") as it appears
	// at the end of every line of /proc/<pid>/cgroup.
	Path string
	// Dir is the directory in the v2 hierarchy (or the first one).
	Dir string
	// ContainerID is the 64-hex container id in the scope name.
	ContainerID string

	hier []*hierarchy
}

// hierarchy is one cgroup hierarchy: where the caller was and what we made.
type hierarchy struct {
	home    string   // the caller's cgroup directory in this hierarchy
	leaf    string   // the container scope directory
	created []string // directories we made, shallowest first
}

// CgroupForPod creates the cgroup of a fresh container of pod podUID.
func CgroupForPod(podUID string) (*Cgroup, error) {
	homes, err := ownCgroupDirs()
	if err != nil {
		return nil, err
	}
	cg := &Cgroup{ContainerID: randomHex(32)}
	parts := []string{
		"kubepods.slice",
		"kubepods-besteffort.slice",
		"kubepods-besteffort-pod" + strings.ReplaceAll(podUID, "-", "_") + ".slice",
		"cri-containerd-" + cg.ContainerID + ".scope",
	}
	cg.Path = "/" + strings.Join(parts, "/")
	for _, home := range homes {
		h := &hierarchy{home: home}
		cg.hier = append(cg.hier, h)
		if err := h.create(parts); err != nil {
			_ = cg.Remove()
			return nil, err
		}
	}
	cg.Dir = cg.hier[0].leaf
	return cg, nil
}

func (h *hierarchy) create(parts []string) error {
	dir := h.home
	for _, p := range parts {
		parent := dir
		dir = filepath.Join(dir, p)
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, os.ErrExist) {
			continue // a shared parent made by another Cgroup
		}
		if err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		h.created = append(h.created, dir)
		if err := inheritCpuset(parent, dir); err != nil {
			return err
		}
	}
	h.leaf = dir
	return nil
}

// inheritCpuset fills a new v1 cpuset group from its parent: the kernel
// refuses tasks in a cpuset with no cpus or mems.
func inheritCpuset(parent, dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		b, err := os.ReadFile(filepath.Join(parent, f))
		if errors.Is(err, os.ErrNotExist) {
			return nil // not a cpuset hierarchy
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f, err)
		}
	}
	return nil
}

// Add moves process pid into the container's cgroup in every hierarchy.
func (c *Cgroup) Add(pid int) error {
	for _, h := range c.hier {
		if err := writeProcs(h.leaf, pid); err != nil {
			return fmt.Errorf("add pid %d to cgroup %s: %w", pid, h.leaf, err)
		}
	}
	return nil
}

// Remove moves any processes still inside back to where the caller was
// and removes the directories it created, deepest first. Parents shared
// with another live Cgroup stay (rmdir says busy).
func (c *Cgroup) Remove() error {
	var errs []error
	for _, h := range c.hier {
		if h.leaf != "" {
			if b, err := os.ReadFile(filepath.Join(h.leaf, "cgroup.procs")); err == nil {
				for _, f := range strings.Fields(string(b)) {
					pid, _ := strconv.Atoi(f)
					_ = writeProcs(h.home, pid) // it may have exited; rmdir reports real trouble
				}
			}
		}
		for i := len(h.created) - 1; i >= 0; i-- {
			err := unix.Rmdir(h.created[i])
			switch {
			case err == nil, errors.Is(err, unix.ENOENT):
			case (errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY)) && i < len(h.created)-1:
				// A shared parent still in use: leave it to its last user.
			default:
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", h.created[i], err))
			}
		}
		h.created = nil
	}
	return errors.Join(errs...)
}

func writeProcs(dir string, pid int) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

// ownCgroupDirs returns, for each hierarchy in /proc/self/cgroup, the
// directory of this process's cgroup under that hierarchy's mount (v2
// first). Test-harness code may read mounts; the product never does.
func ownCgroupDirs() ([]string, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	defer func() { _ = f.Close() }()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ":", 3)
		if len(fields) != 3 {
			continue
		}
		key := "unified"
		if fields[0] != "0" {
			key = fields[1]
		}
		mnt, ok := mounts[key]
		if !ok {
			return nil, fmt.Errorf("cgroup hierarchy %q of /proc/self/cgroup is not mounted", key)
		}
		d := filepath.Join(mnt, fields[2])
		if key == "unified" {
			dirs = slices.Insert(dirs, 0, d)
		} else {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil, errors.New("no cgroup hierarchies in /proc/self/cgroup")
	}
	return dirs, sc.Err()
}

// cgroupMounts maps "unified" and each v1 line's controller list (as
// /proc/self/cgroup spells it, e.g. "cpu,cpuacct" or "name=systemd") to
// its mount point.
func cgroupMounts() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		switch f[2] {
		case "cgroup2":
			out["unified"] = f[1]
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(f[3], ",") {
				if o != "rw" && o != "ro" && !strings.HasPrefix(o, "relatime") && o != "nosuid" && o != "nodev" && o != "noexec" && !strings.HasPrefix(o, "clone_children") && o != "xattr" {
					ctrls = append(ctrls, o)
				}
			}
			out[strings.Join(ctrls, ",")] = f[1]
		}
	}
	return out, nil
}
