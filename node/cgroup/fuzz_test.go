package cgroup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts is
// well formed and would be found again in the file it came from.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.cgroup")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, err := Parse(strings.NewReader(string(data)))
		if err != nil {
			if ref != (Ref{}) {
				t.Fatalf("error %v with non-zero ref %+v", err, ref)
			}
			return
		}
		if !validUID(ref.PodUID) || !isContainerID(ref.ContainerID) {
			t.Fatalf("accepted malformed ref %+v", ref)
		}
		s := string(data)
		if !strings.Contains(s, ref.ContainerID) ||
			!(strings.Contains(s, "pod"+ref.PodUID) || strings.Contains(s, "pod"+strings.ReplaceAll(ref.PodUID, "-", "_"))) {
			t.Fatalf("ref %+v not in input", ref)
		}
	})
}
