// Package cgroup maps a process to the Kubernetes pod it runs in, using only
// the kernel's /proc/<pid>/cgroup file.
//
// # Threat model
//
// The broker trusts a caller only when the pod named by its bound token and
// the pod whose cgroup holds the calling process agree. This package supplies
// the second fact, so it must not be talked into naming the wrong pod:
//
//   - It reads /proc/<pid>/cgroup, which the kernel renders, and never
//     mountinfo: a container controls its own mount table and can make it
//     name any pod (spire#7288).
//   - A pod UID is accepted only in the exact place kubelet puts it: a
//     "pod<uid>" segment under kubepods[/<qos>] (cgroupfs driver) or a
//     "...kubepods[-<qos>]-pod<uid_>.slice" whose ancestors are its systemd
//     parent slices, followed by a container segment of a known runtime.
//     Lookalikes (/user.slice/pod<uid>, a pod slice under a user's delegated
//     systemd tree) are ErrNotAPod.
//   - Anything that could name two pods is ErrAmbiguous: two pod segments in
//     one path (a container that built a nested kubepods tree), lines that
//     disagree, or a v1 controller line that is neither the pod nor the root.
//
// It does not defend against root on the node, who can move any process into
// any cgroup.
//
// Paths are relative to the reader's cgroup namespace. When the broker runs in
// a private cgroup namespace (the default for pods on cgroup v2), other pods'
// paths start with "/.." segments and the kubepods root may be cut off; the
// self-describing systemd slice names and the "<qos>/pod<uid>" shape are then
// checked as far as they are visible.
package cgroup
