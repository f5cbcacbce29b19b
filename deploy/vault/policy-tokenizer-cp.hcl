# Control plane: read-only on its own subtree.
#
# Not in ADR-001 §5B, which only defines dp and cg roles. The tenancy rule
# "tokenizer-dp can never read tokenizer-cp secrets" needs a cp tenant that
# owns something, so it is defined here the same way.
path "kv/data/tokenizer/control-plane/*" {
  capabilities = ["read"]
}
