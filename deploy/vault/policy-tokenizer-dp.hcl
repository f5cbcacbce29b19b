# Data plane: read-only on its own subtree (ADR-001 §5B).
#
# Added to the ADR's version: `list` on the KV v2 metadata path. KV v2 lists
# keys through kv/metadata/..., so without it the broker's
# GET /api/v1/list/kv/tokenizer/data-plane/ is refused even though the pod
# may read every key under it.
path "kv/data/tokenizer/data-plane/*" {
  capabilities = ["read"]
}

path "kv/metadata/tokenizer/data-plane/*" {
  capabilities = ["list"]
}
