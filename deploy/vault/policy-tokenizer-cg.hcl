# Crypto-gen: reads and writes its own subtree (ADR-001 §5B).
#
# FIXED from the ADR: the ADR grants ["read", "write", "list"], which Vault
# refuses to load: `invalid capability "write"`. Vault's capabilities are
# create, read, update, patch, delete, list, sudo and deny. A KV v2 write is
# `create` (new key) or `update` (new version), a merge-patch is `patch`.
# `delete` is deliberately not granted: the ADR asks for reads and writes only.
path "kv/data/tokenizer/crypto-gen/*" {
  capabilities = ["create", "read", "update", "patch", "list"]
}

# KV v2 lists keys and reads version metadata under kv/metadata/...; the ADR's
# single data/ path would refuse both.
path "kv/metadata/tokenizer/crypto-gen/*" {
  capabilities = ["list", "read"]
}
