#!/usr/bin/env bash
# Installs the pinned Helm (provision/versions.env) from its release tarball, with the tarball's
# SHA256 verified against provision/checksums.sha256.
#
# usage: install-helm.sh
# env:   SG_HELM_DOWNLOAD_BASE  release download base (a mirror for air-gapped builds)
#        SG_CHECKSUMS_FILE      checksum list (default: checksums.sha256 beside this script)
set -euo pipefail

SG_SCRIPT_NAME=install-helm
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

[[ $# -eq 0 ]] || usage_error "install-helm.sh takes no arguments"

checksums="${SG_CHECKSUMS_FILE:-$here/checksums.sha256}"
download_base="${SG_HELM_DOWNLOAD_BASE:-https://get.helm.sh}"
arch="$(go_arch)"
tarball="helm-${HELM_VERSION}-linux-${arch}.tar.gz"
binary="$SG_BIN_DIR/helm"

current=""
if [[ -x "$binary" ]]; then
  current="$("$binary" version --template '{{.Version}}' 2>/dev/null || true)"
fi
if [[ "$current" == "$HELM_VERSION" ]]; then
  log "helm $HELM_VERSION already installed"
  exit 0
fi

log "installing helm $HELM_VERSION (found: ${current:-none})"
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
curl -fsSL --retry 3 --proto '=https' -o "$workdir/$tarball" "$download_base/$tarball"
verify_checksum "$workdir/$tarball" "$checksums"
tar -xzf "$workdir/$tarball" -C "$workdir" "linux-$arch/helm"
mkdir -p "$SG_BIN_DIR"
install -m 0755 "$workdir/linux-$arch/helm" "$binary"
log "installed ${binary#"$SG_ROOT"} ($HELM_VERSION)"
