package policy

import (
	"fmt"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// keeps its promises: defaults filled, every entry reachable by Lookup,
// and allow-lists that never admit a path with ".." in it.
func FuzzParse(f *testing.F) {
	f.Add([]byte(adrExample))
	f.Add([]byte(docV2))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if p.Len() == 0 {
			t.Fatal("accepted an empty policy")
		}
		for _, e := range p.entries {
			if e.AuthMount == "" || e.VaultRole == "" {
				t.Fatalf("accepted entry with empty fields: %+v", e)
			}
			got, ok := p.Lookup(e.Namespace, e.ServiceAccount)
			if !ok || got.VaultRole != e.VaultRole {
				t.Fatalf("Lookup(%s, %s) = %+v, %v", e.Namespace, e.ServiceAccount, got, ok)
			}
			for _, r := range e.Allow {
				for _, path := range r.Paths {
					if e.Allows("read", path+"/../escape") {
						t.Fatalf("allow path %q admits ..", path)
					}
				}
			}
		}
	})
}

func BenchmarkLookup(b *testing.B) {
	doc := []byte("policy:\n")
	for i := range 1000 {
		doc = fmt.Appendf(doc, "  - {k8s_ns: ns-%d, k8s_sa: sa-%d, vault_role: role-%d}\n", i, i, i)
	}
	p, err := Parse(doc)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := p.Lookup("ns-500", "sa-500"); !ok {
			b.Fatal("missing")
		}
	}
}
