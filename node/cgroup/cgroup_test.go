package cgroup

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

const (
	uid1 = "2c48913c-b29f-11e7-9350-020968147796"
	cid1 = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

func TestParseFixtures(t *testing.T) {
	ok := Ref{PodUID: uid1, ContainerID: cid1}
	tests := []struct {
		file    string
		want    Ref
		wantErr error
	}{
		{"v1_cgroupfs_docker_burstable", ok, nil},
		{"v1_cgroupfs_containerd_besteffort", ok, nil},
		{"v1_cgroupfs_guaranteed", ok, nil},
		{"v1_cgroupfs_crio", ok, nil},
		{"v1_systemd_docker", ok, nil},
		{"v1_systemd_containerd_hybrid", ok, nil},
		{"v1_partial_controllers_root", ok, nil},
		{"v1_kind_docker_prefix", ok, nil},
		{"v1_hybrid_systemd_crio_unified_elsewhere", ok, nil},
		{"v1_hybrid_kind_unified_elsewhere", ok, nil},
		{"v2_systemd_containerd_burstable", ok, nil},
		{"v2_systemd_containerd_guaranteed", ok, nil},
		{"v2_systemd_crio_besteffort", ok, nil},
		{"v2_systemd_crio_container_subgroup", ok, nil},
		{"v2_systemd_docker_cridockerd", ok, nil},
		{"v2_cgroupfs_k3s", ok, nil},
		{"v2_kind_systemd", ok, nil},
		{"v2_cgroupns_relative_systemd", ok, nil},
		{"v2_cgroupns_relative_cgroupfs", ok, nil},

		{"hostile_uid_twice_lines", Ref{}, ErrAmbiguous},
		{"hostile_container_disagrees", Ref{}, ErrAmbiguous},
		{"hostile_uid_twice_path", Ref{}, ErrAmbiguous},
		{"hostile_nested_kubepods", Ref{}, ErrAmbiguous},
		{"hostile_nested_kubepods_systemd", Ref{}, ErrAmbiguous},
		{"hostile_nested_kubepods_root_only", Ref{}, ErrAmbiguous},
		{"hostile_v1_partial_elsewhere", Ref{}, ErrAmbiguous},
		{"hostile_hybrid_unified_other_pod", Ref{}, ErrAmbiguous},
		{"hostile_user_slice_pod", Ref{}, ErrNotAPod},
		{"hostile_user_slice_pod_container", Ref{}, ErrNotAPod},
		{"hostile_user_delegated_kubepods", Ref{}, ErrNotAPod},
		{"hostile_system_scope_lookalike", Ref{}, ErrNotAPod},
		{"hostile_host_process_v1", Ref{}, ErrNotAPod},
		{"hostile_host_process_v2", Ref{}, ErrNotAPod},
		{"hostile_host_root", Ref{}, ErrNotAPod},
		{"hostile_systemd_wrong_parent", Ref{}, ErrNotAPod},
		{"hostile_systemd_missing_parent", Ref{}, ErrNotAPod},
		{"hostile_systemd_dashed_uid", Ref{}, ErrNotAPod},
		{"hostile_cgroupfs_underscored_uid", Ref{}, ErrNotAPod},
		{"hostile_crio_conmon", Ref{}, ErrNotAPod},
		{"hostile_pod_without_container", Ref{}, ErrNotAPod},
		{"hostile_uppercase_uid", Ref{}, ErrNotAPod},
		{"hostile_bad_uid_layout", Ref{}, ErrNotAPod},
		{"hostile_dotdot_inside", Ref{}, ErrNotAPod},
		{"hostile_malformed_line", Ref{}, ErrNotAPod},
		{"hostile_empty", Ref{}, ErrNotAPod},
		{"hostile_short_container_id", Ref{}, ErrNotAPod},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file+".cgroup"] = true
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file+".cgroup"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(bytes.NewReader(b))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Parse() error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Parse() = %+v, want %+v", got, tt.want)
			}
		})
	}
	files, _ := filepath.Glob("testdata/*.cgroup")
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("fixture %s has no table entry", f)
		}
	}
}

func TestPodFromProc(t *testing.T) {
	b, err := os.ReadFile("testdata/v2_systemd_containerd_burstable.cgroup")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"42/cgroup": {Data: b},
		"43/cgroup": {Data: []byte("0::/system.slice/sshd.service\n")},
	}
	tests := []struct {
		name    string
		pid     int32
		want    Ref
		wantErr error
	}{
		{"pod process", 42, Ref{PodUID: uid1, ContainerID: cid1}, nil},
		{"host process", 43, Ref{}, ErrNotAPod},
		{"gone", 44, Ref{}, os.ErrNotExist},
		{"pid zero", 0, Ref{}, ErrNotAPod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PodFromProc(fsys, tt.pid)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("PodFromProc() error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("PodFromProc() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseOversized(t *testing.T) {
	line := "1:memory:/" + strings.Repeat("a", maxFileSize) + "\n"
	if _, err := Parse(strings.NewReader(line)); err == nil {
		t.Fatal("Parse() of an oversized line succeeded")
	}
}
