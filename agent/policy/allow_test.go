package policy

import (
	"fmt"
	"testing"
)

func TestAllows(t *testing.T) {
	cg := Entry{Allow: []Rule{
		{Ops: []string{"read", "write", "list"}, Paths: []string{"kv/tokenizer/crypto-gen/"}},
		{Ops: []string{"read"}, Paths: []string{"kv/shared/config"}},
	}}
	tests := []struct {
		entry Entry
		op    string
		path  string
		want  bool
	}{
		{cg, "read", "kv/tokenizer/crypto-gen/new", true},
		{cg, "write", "kv/tokenizer/crypto-gen/deep/key", true},
		{cg, "list", "kv/tokenizer/crypto-gen/", true},
		{cg, "list", "kv/tokenizer/crypto-gen", true},  // the directory itself
		{cg, "read", "kv/tokenizer/crypto-gen", false}, // a secret beside the directory
		{cg, "delete", "kv/tokenizer/crypto-gen/new", false},
		{cg, "read", "kv/tokenizer/crypto-generator/x", false},
		{cg, "read", "kv/tokenizer/data-plane/x", false},
		{cg, "read", "kv/tokenizer/crypto-gen/../control-plane/x", false},
		{cg, "read", "kv/tokenizer/crypto-gen//x", false},
		{cg, "read", "kv/shared/config", true},
		{cg, "read", "kv/shared/config/sub", true}, // segment-boundary prefix
		{cg, "read", "kv/shared/configuration", false},
		{cg, "write", "kv/shared/config", false},
		{cg, "read", "/kv/shared/config", false},
		{cg, "read", "", false},
		{Entry{}, "delete", "anything/at/all", true},
		{Entry{}, "read", "kv/a/../b", false},
		{Entry{}, "read", "kv/./b", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.op, tt.path), func(t *testing.T) {
			if got := tt.entry.Allows(tt.op, tt.path); got != tt.want {
				t.Errorf("Allows(%q, %q) = %v, want %v", tt.op, tt.path, got, tt.want)
			}
		})
	}
}
