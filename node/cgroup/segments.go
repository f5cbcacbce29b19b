package cgroup

import (
	"fmt"
	"strings"
)

const uidLen = 36 // 8-4-4-4-12

// isRoot reports a kubepods root: "kubepods" (cgroupfs), "kubepods.slice" or
// a nested systemd root such as kind's "kubelet-kubepods.slice".
func isRoot(s string) bool {
	return s == "kubepods" || s == "kubepods.slice" || strings.HasSuffix(s, "-kubepods.slice")
}

// podCandidate finds "pod" followed by something shaped like a pod UID, with
// dashes or underscores, anywhere in the segment, so that lookalikes are
// seen and can be refused. It returns the UID in its dashed form.
func podCandidate(s string) (string, bool) {
	for i := 0; ; {
		k := strings.Index(s[i:], "pod")
		if k < 0 {
			return "", false
		}
		at := i + k + len("pod")
		if at+uidLen <= len(s) {
			if uid := strings.ReplaceAll(s[at:at+uidLen], "_", "-"); validUID(uid) {
				return uid, true
			}
		}
		i = i + k + 1
	}
}

// validUID checks the RFC 4122 text layout in lower case, as the apiserver
// writes metadata.uid.
func validUID(u string) bool {
	if len(u) != uidLen {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') }

func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// checkAncestors verifies that segs[podAt] is a pod segment exactly as kubelet
// names it and that the segments above it are its parents, up to the
// kubepods root. It returns the index of that root (or of the first visible
// segment when the path is relative to a cgroup namespace and the root is
// cut off).
func checkAncestors(segs []string, start, podAt int, uid string, rel bool) (int, error) {
	seg := segs[podAt]
	if !strings.HasSuffix(seg, ".slice") {
		if seg != "pod"+uid {
			return 0, fmt.Errorf("segment %q is not a pod cgroup: %w", seg, ErrNotAPod)
		}
		j := podAt - 1
		if j >= start && (segs[j] == "burstable" || segs[j] == "besteffort") {
			j--
		}
		switch {
		case j < start && rel:
			return start, nil
		case j < start || segs[j] != "kubepods":
			return 0, fmt.Errorf("pod segment not under kubepods: %w", ErrNotAPod)
		}
		return j, nil
	}
	if !systemdPodSlice(seg, uid) {
		return 0, fmt.Errorf("slice %q is not a pod slice: %w", seg, ErrNotAPod)
	}
	j, name := podAt-1, seg
	for {
		parent := parentSlice(name)
		if parent == "" {
			break
		}
		if j < start {
			if rel {
				break
			}
			return 0, fmt.Errorf("slice %q without its parent %q: %w", name, parent, ErrNotAPod)
		}
		if segs[j] != parent {
			return 0, fmt.Errorf("slice %q under %q, want %q: %w", name, segs[j], parent, ErrNotAPod)
		}
		name = parent
		j--
	}
	return j + 1, nil
}

// systemdPodSlice matches "[<x>-]kubepods[-burstable|-besteffort]-pod<uid_>.slice".
func systemdPodSlice(seg, uid string) bool {
	stem, ok := strings.CutSuffix(seg, "-pod"+strings.ReplaceAll(uid, "-", "_")+".slice")
	if !ok {
		return false
	}
	if s, ok := strings.CutSuffix(stem, "-burstable"); ok {
		stem = s
	} else if s, ok := strings.CutSuffix(stem, "-besteffort"); ok {
		stem = s
	}
	return stem == "kubepods" || strings.HasSuffix(stem, "-kubepods")
}

// parentSlice gives systemd's parent of a slice: "a-b-c.slice" → "a-b.slice";
// "" for a top-level slice.
func parentSlice(name string) string {
	stem := strings.TrimSuffix(name, ".slice")
	i := strings.LastIndexByte(stem, '-')
	if i <= 0 {
		return ""
	}
	return stem[:i] + ".slice"
}

// containerID extracts the container ID from the segment under the pod.
// systemd driver: cri-containerd-<id>.scope, crio-<id>.scope, docker-<id>.scope
// (CRI-O's crio-conmon-<id>.scope holds the monitor, not the workload).
// cgroupfs driver: <id> (containerd, docker) or crio-<id>.
func containerID(s string, systemd bool) (string, bool) {
	prefixes := []string{"", "crio-"}
	if systemd {
		var ok bool
		if s, ok = strings.CutSuffix(s, ".scope"); !ok {
			return "", false
		}
		prefixes = []string{"cri-containerd-", "crio-", "docker-"}
	}
	for _, p := range prefixes {
		if id, ok := strings.CutPrefix(s, p); ok && isContainerID(id) {
			return id, true
		}
	}
	return "", false
}
