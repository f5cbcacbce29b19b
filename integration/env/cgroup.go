package env

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Cgroup is a cgroup v2 directory laid out as kubelet (systemd driver) and
// containerd lay out a BestEffort pod's container, so that /proc/<pid>/cgroup
// of a process placed in it reads like a real pod's:
//
//	0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_with_underscores>.slice/cri-containerd-<64 hex>.scope
//
// Attestation tests use it to make a local process look like a container of
// a given pod. Creating it needs root.
type Cgroup struct {
	// Path is the cgroup as /proc/<pid>/cgroup shows it ("/kubepods.slice/...").
	Path string
	// Dir is the directory under the cgroup2 mount.
	Dir string
	// ContainerID is the 64-hex container id in the scope name.
	ContainerID string

	mount   string
	created []string // directories this Cgroup made, shallowest first
}

// CgroupForPod creates the cgroup of a fresh container of pod podUID.
func CgroupForPod(podUID string) (*Cgroup, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	cg := &Cgroup{mount: mount, ContainerID: randomHex(32)}
	parts := []string{
		"kubepods.slice",
		"kubepods-besteffort.slice",
		"kubepods-besteffort-pod" + strings.ReplaceAll(podUID, "-", "_") + ".slice",
		"cri-containerd-" + cg.ContainerID + ".scope",
	}
	dir := mount
	for _, p := range parts {
		dir = filepath.Join(dir, p)
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, os.ErrExist) {
			continue // a shared parent made by another Cgroup
		}
		if err != nil {
			_ = cg.Remove()
			return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		cg.created = append(cg.created, dir)
	}
	cg.Dir = dir
	cg.Path = "/" + strings.Join(parts, "/")
	return cg, nil
}

// Add moves process pid into the cgroup.
func (c *Cgroup) Add(pid int) error {
	if err := writeProcs(c.Dir, pid); err != nil {
		return fmt.Errorf("add pid %d to cgroup: %w", pid, err)
	}
	return nil
}

// Remove moves any processes still inside back to the root cgroup and
// removes the directories it created, deepest first. Parents shared with
// another live Cgroup stay (rmdir says busy).
func (c *Cgroup) Remove() error {
	if c.Dir != "" {
		b, err := os.ReadFile(filepath.Join(c.Dir, "cgroup.procs"))
		if err == nil {
			for _, f := range strings.Fields(string(b)) {
				pid, _ := strconv.Atoi(f)
				// The process may have exited meanwhile; rmdir reports real trouble.
				_ = writeProcs(c.mount, pid)
			}
		}
	}
	var errs []error
	for i := len(c.created) - 1; i >= 0; i-- {
		err := unix.Rmdir(c.created[i])
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
		case (errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY)) && i < len(c.created)-1:
			// A shared parent still in use: leave it to its last user.
		default:
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", c.created[i], err))
		}
	}
	c.created = nil
	return errors.Join(errs...)
}

func writeProcs(dir string, pid int) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

// cgroup2Mount finds the cgroup v2 hierarchy: /sys/fs/cgroup on a pure v2
// host, /sys/fs/cgroup/unified on a hybrid (v1 + v2) one.
func cgroup2Mount() (string, error) {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p, nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
}
