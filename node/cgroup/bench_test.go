package cgroup

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// BenchmarkParse measures one cgroup file parse per fixture shape: this runs
// on every socket request in strict attestation, so it sits on the hot path.
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{
		"v2_systemd_containerd_burstable",
		"v1_systemd_containerd_hybrid", // many controller lines
		"v2_cgroupfs_k3s",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".cgroup"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPodFromProc adds the fs.FS open and read around Parse.
func BenchmarkPodFromProc(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "v2_systemd_containerd_burstable.cgroup"))
	if err != nil {
		b.Fatal(err)
	}
	fsys := fstest.MapFS{"4242/cgroup": {Data: data}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PodFromProc(fsys, 4242); err != nil {
			b.Fatal(err)
		}
	}
}
