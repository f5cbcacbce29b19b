#!/usr/bin/env bash
# Configures Vault for secrets-broker as ADR-001 §5B intends, with the ADR's
# mistakes fixed (each fix is marked FIXED below and in the policy files).
# Safe to run again: every step is idempotent. The integration harness runs
# this very script against a real Vault, so what ships here is what is tested.
#
# Required environment:
#   VAULT_ADDR     Vault to configure
#   VAULT_TOKEN    a token allowed to manage sys/mounts, sys/auth,
#                  sys/policies, auth/kubernetes and sys/config/auditing
#   K8S_HOST       apiserver URL as Vault reaches it, e.g.
#                  https://kubernetes.default.svc:443 (scheme required)
#   K8S_CA_FILE    PEM CA that verifies the apiserver's serving cert
#   REVIEWER_JWT   token of a ServiceAccount bound to system:auth-delegator
#                  (`kubectl -n vault create token vault-auth --duration=24h`;
#                  legacy token Secrets stay empty on clusters without
#                  kube-controller-manager's token controller)
# Optional:
#   AUDIT_FILE_PATH  enable a file audit device writing there (skip if you
#                    already run an audit device)
#
# Note the broker needs no Vault token and no policy of its own: it logs in
# with each pod's token, and the roles below decide what that pod may do.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

missing=0
for v in VAULT_ADDR VAULT_TOKEN K8S_HOST K8S_CA_FILE REVIEWER_JWT; do
  if [[ -z "${!v:-}" ]]; then echo "setup.sh: $v is required" >&2; missing=1; fi
done
[[ $missing == 0 ]] || exit 2
# FIXED: the ADR wrote kubernetes_host="https$KUBERNETES_SERVICE_HOST:..."
# (no "://"), which Vault cannot dial.
if [[ "$K8S_HOST" != https://* ]]; then
  echo "setup.sh: K8S_HOST must start with https:// (got $K8S_HOST)" >&2
  exit 2
fi
step() { echo "==> $*"; }

if [[ -n "${AUDIT_FILE_PATH:-}" ]]; then
  audits="$(vault audit list -format=json 2>/dev/null || true)"
  if [[ "$audits" == *'"file/"'* ]]; then
    step "audit device file/ already enabled"
  else
    step "enabling file audit device at $AUDIT_FILE_PATH"
    vault audit enable file file_path="$AUDIT_FILE_PATH"
  fi
fi

mounts="$(vault secrets list -format=json)"
if [[ "$mounts" == *'"kv/"'* ]]; then
  # Never convert an existing KV v1 mount here: that migrates data.
  if [[ "$(vault read -field=options sys/mounts/kv)" != *"version:2"* ]]; then
    echo "setup.sh: kv/ exists but is not KV v2; the policies assume kv/data and kv/metadata" >&2
    exit 1
  fi
  step "kv/ (KV v2) already enabled"
else
  step "enabling KV v2 at kv/"
  vault secrets enable -path=kv -version=2 kv
fi

auths="$(vault auth list -format=json)"
if [[ "$auths" == *'"kubernetes/"'* ]]; then
  step "kubernetes auth already enabled"
else
  step "enabling kubernetes auth"
  vault auth enable kubernetes
fi

step "writing auth/kubernetes/config (host $K8S_HOST)"
# The JWT goes through stdin ("=-") so it never shows in the process list.
vault write auth/kubernetes/config \
  kubernetes_host="$K8S_HOST" \
  kubernetes_ca_cert=@"$K8S_CA_FILE" \
  token_reviewer_jwt=- <<<"$REVIEWER_JWT"

for p in policy-tokenizer-dp policy-tokenizer-cg policy-tokenizer-cp; do
  step "writing policy $p"
  vault policy write "$p" "$here/$p.hcl"
done

# role NAME SERVICEACCOUNT NAMESPACE POLICY
# FIXED: the ADR's roles have no audience. Vault then only warns and accepts
# a token minted for ANY audience, so a token meant for another service
# would log in. With audience set, other audiences get "invalid audience
# (aud) claim". The pods' projected tokens use audience "secrets-broker".
role() {
  step "writing role $1 ($3/$2 -> $4)"
  vault write "auth/kubernetes/role/$1" \
    bound_service_account_names="$2" \
    bound_service_account_namespaces="$3" \
    audience="secrets-broker" \
    policies="default,$4" \
    token_ttl=1h
}
role tokenizer-dp-role tokenizer-dp-sa tokenizer-dp policy-tokenizer-dp
role tokenizer-cg-role tokenizer-cg-sa tokenizer-cg policy-tokenizer-cg
role tokenizer-cp-role tokenizer-cp-sa tokenizer-cp policy-tokenizer-cp # not in the ADR; see policy-tokenizer-cp.hcl

# Vault's kubernetes login records the ServiceAccount, not the pod
# (vault-plugin-auth-kubernetes#72). The broker sends the pod and its request
# id on every call; audit them in clear so Vault's log names the pod.
for h in X-Secrets-Broker-Pod X-Secrets-Broker-Request-Id; do
  step "auditing request header $h"
  vault write "sys/config/auditing/request-headers/$h" hmac=false
done
step "done"
