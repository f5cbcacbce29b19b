package policy

import (
	"strings"
	"testing"
)

// adrExample is the ADR's ConfigMap data, verbatim in shape.
const adrExample = `
policy:
  - k8s_ns: tokenizer-cg
    k8s_sa: tokenizer-cg-sa
    vault_role: tokenizer-cg-role
  - k8s_ns: tokenizer-dp
    k8s_sa: tokenizer-dp-sa
    vault_role: tokenizer-dp-role
  - k8s_ns: tokenizer-cp
    k8s_sa: tokenizer-cp-sa
    vault_role: tokenizer-cp-role
`

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		ns   string
		sa   string
		want Entry
	}{
		{"adr example", adrExample, "tokenizer-dp", "tokenizer-dp-sa",
			Entry{Namespace: "tokenizer-dp", ServiceAccount: "tokenizer-dp-sa", VaultRole: "tokenizer-dp-role", AuthMount: "kubernetes"}},
		{"optional fields", `
policy:
  - k8s_ns: tokenizer-cg
    k8s_sa: tokenizer-cg-sa
    vault_role: tokenizer-cg-role
    auth_mount: k8s/cluster-1
    allow:
      - ops: [read, write, patch, list, delete, versions]
        paths: ["kv/tokenizer/crypto-gen/"]
`, "tokenizer-cg", "tokenizer-cg-sa", Entry{Namespace: "tokenizer-cg", ServiceAccount: "tokenizer-cg-sa",
			VaultRole: "tokenizer-cg-role", AuthMount: "k8s/cluster-1", Allow: []Rule{{
				Ops: []string{"read", "write", "patch", "list", "delete", "versions"}, Paths: []string{"kv/tokenizer/crypto-gen/"}}}}},
		{"json is yaml", `{"policy":[{"k8s_ns":"a","k8s_sa":"b","vault_role":"c"}]}`, "a", "b",
			Entry{Namespace: "a", ServiceAccount: "b", VaultRole: "c", AuthMount: "kubernetes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.Lookup(tt.ns, tt.sa)
			if !ok {
				t.Fatalf("Lookup(%s, %s) missing", tt.ns, tt.sa)
			}
			if !equalEntry(got, tt.want) {
				t.Errorf("entry = %+v, want %+v", got, tt.want)
			}
			if _, ok := p.Lookup(tt.sa, tt.ns); ok {
				t.Error("Lookup with swapped ns/sa matched")
			}
		})
	}
}

func equalEntry(a, b Entry) bool {
	if a.Namespace != b.Namespace || a.ServiceAccount != b.ServiceAccount || a.VaultRole != b.VaultRole ||
		a.AuthMount != b.AuthMount || len(a.Allow) != len(b.Allow) {
		return false
	}
	for i := range a.Allow {
		if strings.Join(a.Allow[i].Ops, ",") != strings.Join(b.Allow[i].Ops, ",") ||
			strings.Join(a.Allow[i].Paths, ",") != strings.Join(b.Allow[i].Paths, ",") {
			return false
		}
	}
	return true
}

// entry renders one policy entry from its fields for invalid-case tables.
func entry(ns, sa, role, extra string) string {
	return "  - k8s_ns: " + ns + "\n    k8s_sa: " + sa + "\n    vault_role: " + role + "\n" + extra
}

func TestParseInvalid(t *testing.T) {
	ok := entry("a", "b", "r", "")
	tests := []struct {
		name string
		doc  string
		want []string // substrings that must all appear in the error
	}{
		{"empty document", "", []string{"no entries"}},
		{"empty list", "policy: []", []string{"no entries"}},
		{"not yaml", "policy: [", []string{"decode policy"}},
		{"unknown top-level field", "polcy:\n" + ok, []string{"unknown field"}},
		{"unknown entry field", "policy:\n" + entry("a", "b", "r", "    vault_rol: x\n"), []string{"unknown field"}},
		{"duplicate yaml key", "policy:\n" + entry("a", "b", "r", "    vault_role: s\n"), []string{"already set"}},
		{"empty namespace", "policy:\n" + entry(`""`, "b", "r", ""), []string{"policy[0]: k8s_ns: required"}},
		{"empty serviceaccount", "policy:\n" + entry("a", `""`, "r", ""), []string{"policy[0]: k8s_sa: required"}},
		{"empty role", "policy:\n" + entry("a", "b", `""`, ""), []string{"policy[0]: vault_role: required"}},
		{"bad namespace", "policy:\n" + entry("Tokenizer_CG", "b", "r", ""), []string{"policy[0]: k8s_ns"}},
		{"bad serviceaccount", "policy:\n" + entry("a", "-sa", "r", ""), []string{"policy[0]: k8s_sa"}},
		{"bad role", "policy:\n" + entry("a", "b", "role/../x", ""), []string{"policy[0]: vault_role"}},
		{"bad mount", "policy:\n" + entry("a", "b", "r", "    auth_mount: /kubernetes\n"), []string{"policy[0]: auth_mount"}},
		{"dotdot mount", "policy:\n" + entry("a", "b", "r", "    auth_mount: k8s/../token\n"), []string{"policy[0]: auth_mount"}},
		{"duplicate pair", "policy:\n" + ok + entry("c", "d", "r", "") + ok, []string{"policy[2]: duplicate of policy[0] for a/b"}},
		{"empty allow", "policy:\n" + entry("a", "b", "r", "    allow: []\n"), []string{"policy[0]: allow: empty list"}},
		{"unknown op", "policy:\n" + entry("a", "b", "r", "    allow: [{ops: [read, destroy], paths: [kv/]}]\n"), []string{`policy[0]: allow[0]: ops: unknown operation "destroy"`}},
		{"no ops", "policy:\n" + entry("a", "b", "r", "    allow: [{paths: [kv/]}]\n"), []string{"policy[0]: allow[0]: ops: required"}},
		{"no paths", "policy:\n" + entry("a", "b", "r", "    allow: [{ops: [read]}]\n"), []string{"policy[0]: allow[0]: paths: required"}},
		{"dotdot path", "policy:\n" + entry("a", "b", "r", "    allow: [{ops: [read], paths: [kv/a/../b/]}]\n"), []string{`allow[0]: paths: "kv/a/../b/"`}},
		{"empty segment", "policy:\n" + entry("a", "b", "r", "    allow: [{ops: [read], paths: [kv//a]}]\n"), []string{`paths: "kv//a"`}},
		{"leading slash", "policy:\n" + entry("a", "b", "r", "    allow: [{ops: [read], paths: [/kv/a]}]\n"), []string{`paths: "/kv/a"`}},
		{"glob", "policy:\n" + entry("a", "b", "r", "    allow: [{ops: [read], paths: [kv/a/*]}]\n"), []string{"globs are not supported"}},
		{"empty path", "policy:\n" + entry("a", "b", "r", `    allow: [{ops: [read], paths: [""]}]`+"\n"), []string{`paths: "": empty`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded with %d entries", p.Len())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	doc := "policy:\n" +
		entry(`""`, "Bad_SA", "r", "") +
		entry("ok", "ok", `""`, "    allow: [{ops: [nuke], paths: [kv/../x]}]\n") +
		entry("ok", "ok", "r", "")
	_, err := Parse([]byte(doc))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	want := []string{
		"policy[0]: k8s_ns: required",
		"policy[0]: k8s_sa",
		"policy[1]: vault_role: required",
		`policy[1]: allow[0]: ops: unknown operation "nuke"`,
		`policy[1]: allow[0]: paths: "kv/../x"`,
		"policy[2]: duplicate of policy[1]",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q", w)
		}
	}
	if got := strings.Count(err.Error(), "\n") + 1; got != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", got, len(want), err)
	}
}
