#!/usr/bin/env bash
# Builds the real Vault, kube-apiserver and etcd used by integration tests,
# from Go modules only. Binaries are cached OUTSIDE the repository, keyed by
# each module's go.mod+go.sum+sources, so a warm machine rebuilds nothing.
#
# Prebuilt binaries may be supplied with SECRETS_BROKER_VAULT_BIN,
# SECRETS_BROKER_KUBE_APISERVER_BIN and SECRETS_BROKER_ETCD_BIN.
# The cache dir is SECRETS_BROKER_CACHE (default ~/.cache/secrets-broker).
#
# Flags are never changed between builds (no -trimpath toggling): that would
# invalidate the Go build cache and cost another cold build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${SECRETS_BROKER_CACHE:-$HOME/.cache/secrets-broker}"
mkdir -p "$cache/bin"

key() { # key DIR -> short hash of what determines the binary
  (cd "$1" && cat go.mod go.sum $(find . -name '*.go' | sort)) | sha256sum | cut -c1-16
}

# build NAME MODULE_DIR PACKAGE ENVVAR MESSAGE [LDFLAGS]
build() {
  local name="$1" dir="$2" pkg="$3" envvar="$4" msg="$5" ldflags="${6:-}"
  local link="$cache/bin/$name"
  if [[ -n "${!envvar:-}" ]]; then
    [[ -x "${!envvar}" ]] || { echo "build.sh: $envvar=${!envvar} is not executable" >&2; exit 1; }
    ln -sfn "${!envvar}" "$link"
    echo "==> $name: using prebuilt ${!envvar}"
    return
  fi
  local out="$cache/bin/$name-$(key "$dir")"
  if [[ -x "$out" ]]; then
    ln -sfn "$out" "$link"
    echo "==> $name: cached $out"
    return
  fi
  echo "==> $msg"
  local start=$SECONDS
  (cd "$dir" && go mod download && go build -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  ln -sfn "$out" "$link"
  echo "==> $name built in $((SECONDS - start)) s: $out"
}

which="${1:-all}"
kver=v1.37.2
kldflags="-X k8s.io/component-base/version.gitVersion=$kver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean"
case "$which" in
  all|etcd) build etcd "$here/kube" ./cmd/etcd SECRETS_BROKER_ETCD_BIN \
    "building embedded etcd from Go modules (first time ≈2 min with the kube module download)";;&
  all|kube) build kube-apiserver "$here/kube" ./cmd/kube-apiserver SECRETS_BROKER_KUBE_APISERVER_BIN \
    "building kube-apiserver $kver from Go modules, first time ≈15 min" "$kldflags";;&
  all|vault) build vault "$here/vault" . SECRETS_BROKER_VAULT_BIN \
    "building Vault v1.21.1 from Go modules, first time ≈15 min";;
  etcd|kube|vault) ;;
  *) echo "usage: build.sh [all|etcd|kube|vault]" >&2; exit 2;;
esac
echo "==> binaries in $cache/bin"
