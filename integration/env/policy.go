package env

// ADRPolicy is the broker policy file of ADR-001 §5A: each tenant's
// namespace and ServiceAccount to its own Vault role, no allow-lists, so
// every denial a test sees is Vault's own decision. The roles are the ones
// deploy/vault/setup.sh creates.
const ADRPolicy = `policy:
  - k8s_ns: ` + DataPlaneNamespace + `
    k8s_sa: ` + DataPlaneSA + `
    vault_role: ` + DataPlaneRole + `
  - k8s_ns: ` + CryptoGenNamespace + `
    k8s_sa: ` + CryptoGenSA + `
    vault_role: ` + CryptoGenRole + `
  - k8s_ns: ` + ControlPlaneNamespace + `
    k8s_sa: ` + ControlPlaneSA + `
    vault_role: ` + ControlPlaneRole + `
`
