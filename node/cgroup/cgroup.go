package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

var (
	// ErrNotAPod means the process is not in a container of a Kubernetes pod,
	// or its cgroup only looks like one.
	ErrNotAPod = errors.New("process is not in a pod container")
	// ErrAmbiguous means the cgroup file could name more than one pod.
	ErrAmbiguous = errors.New("cgroup names more than one pod")
)

// maxFileSize bounds what Parse reads; real files are a few hundred bytes.
const maxFileSize = 64 << 10

// Ref identifies the pod and container a process runs in.
type Ref struct {
	PodUID      string // dashed RFC 4122 layout, as in metadata.uid
	ContainerID string // runtime container ID without runtime prefix
}

// PodFromProc reads <pid>/cgroup from fsys, which is rooted at the host's
// proc directory (os.DirFS(procRoot)).
func PodFromProc(fsys fs.FS, pid int32) (Ref, error) {
	if pid <= 0 {
		return Ref{}, fmt.Errorf("pid %d: %w", pid, ErrNotAPod)
	}
	f, err := fsys.Open(path.Join(strconv.Itoa(int(pid)), "cgroup"))
	if err != nil {
		return Ref{}, fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	defer f.Close()
	ref, err := Parse(f)
	if err != nil {
		return Ref{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return ref, nil
}

// Parse reads a /proc/<pid>/cgroup file. Every line that names a pod must
// name the same pod and container. Of the lines that name no pod, v1
// controller lines must be at their hierarchy's root ("/"), as happens for
// controllers a runtime leaves alone; the unified "0::" line of a hybrid host
// may be anywhere when v1 lines name the pod. A file in which no line names
// a pod is ErrNotAPod.
func Parse(r io.Reader) (Ref, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxFileSize))
	sc.Buffer(make([]byte, 0, 4096), maxFileSize)
	var (
		found Ref
		n     int
		stray string // a controller placed outside any pod, not at its root
	)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return Ref{}, fmt.Errorf("line %d: malformed: %w", ln, ErrNotAPod)
		}
		ref, ok, err := parsePath(parts[2])
		switch {
		case err != nil:
			return Ref{}, fmt.Errorf("line %d: %w", ln, err)
		case !ok && parts[0] == "0":
			// Hybrid hosts: runtimes that drive the v1 controllers often
			// leave the controller-less unified line (0::) where the
			// runtime itself runs. It carries no resource control.
		case !ok && parts[2] != "/" && stray == "":
			stray = parts[1]
		case !ok:
		case n > 0 && ref != found:
			return Ref{}, fmt.Errorf("line %d: disagrees with earlier lines: %w", ln, ErrAmbiguous)
		default:
			found = ref
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return Ref{}, fmt.Errorf("read cgroup: %w", err)
	}
	switch {
	case n == 0:
		return Ref{}, ErrNotAPod
	case stray != "":
		return Ref{}, fmt.Errorf("controller %q outside the pod: %w", stray, ErrAmbiguous)
	}
	return found, nil
}

// parsePath returns the pod of one cgroup path. ok is false, with no error,
// for a path that shows no sign of a pod at all.
func parsePath(p string) (Ref, bool, error) {
	if !strings.HasPrefix(p, "/") {
		return Ref{}, false, fmt.Errorf("relative path: %w", ErrNotAPod)
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	start := 0
	for start < len(segs) && segs[start] == ".." {
		start++
	}
	rel := start > 0
	podAt, uid := -1, ""
	for i := start; i < len(segs); i++ {
		s := segs[i]
		if s == "." || s == ".." || (s == "" && len(segs) > 1) {
			return Ref{}, false, fmt.Errorf("unclean path: %w", ErrNotAPod)
		}
		if isRoot(s) && podAt >= 0 {
			return Ref{}, false, fmt.Errorf("nested kubepods: %w", ErrAmbiguous)
		}
		u, ok := podCandidate(s)
		if !ok {
			continue
		}
		if podAt >= 0 {
			return Ref{}, false, fmt.Errorf("pod uid appears twice: %w", ErrAmbiguous)
		}
		podAt, uid = i, u
	}
	if podAt < 0 {
		if hasRoot(segs[start:]) {
			return Ref{}, false, fmt.Errorf("kubepods without a pod: %w", ErrNotAPod)
		}
		return Ref{}, false, nil
	}
	top, err := checkAncestors(segs, start, podAt, uid, rel)
	if err != nil {
		return Ref{}, false, err
	}
	if err := checkPrefix(segs[start:top]); err != nil {
		return Ref{}, false, err
	}
	if podAt+1 >= len(segs) {
		return Ref{}, false, fmt.Errorf("process in pod cgroup, not in a container: %w", ErrNotAPod)
	}
	cid, ok := containerID(segs[podAt+1], strings.HasSuffix(segs[podAt], ".slice"))
	if !ok {
		return Ref{}, false, fmt.Errorf("unknown container segment: %w", ErrNotAPod)
	}
	return Ref{PodUID: uid, ContainerID: cid}, true, nil
}

// checkPrefix refuses pod-shaped trees below a systemd user slice: systemd
// delegates those subtrees to unprivileged users, who may name cgroups as
// they like.
func checkPrefix(prefix []string) error {
	for _, s := range prefix {
		if s == "user.slice" || strings.HasPrefix(s, "user-") || strings.HasPrefix(s, "user@") {
			return fmt.Errorf("pod cgroup under a user slice: %w", ErrNotAPod)
		}
	}
	return nil
}

func hasRoot(segs []string) bool {
	for _, s := range segs {
		if isRoot(s) {
			return true
		}
	}
	return false
}
