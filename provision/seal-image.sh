#!/usr/bin/env bash
# Last step of an image build, run just before the disks are snapshotted. Everything secret or
# specific to one machine is created at a deployment's first boot, never at build time; this
# removes whatever the build made of it, so that no two deployments launched from the image share
# anything. Destructive for the build VM (its SSH access goes away), hence --yes.
#
# First k3s and every pod of the prewarm are stopped (k3s-stop-all.sh). Then it removes
#   from the data disk    everything but its filesystem, the empty db/, storage/ and kubelet/ and
#                         the version file, set back to "<image version>-base": the datastore
#                         (cluster CA keys, service account signing key, bootstrap data), the
#                         volume's k3s token and id, executor token and saved values;
#   from the root disk    k3s's server credentials and token, the agent's certificates and keys,
#                         the admin kubeconfig, the node password, the pods' resolv.conf, the
#                         build's status, lock, markers, logs (but its own and build.log), reboot.sh.log
#                         and the GCE run agent's state (ids it ran);
#   and as before         SSH authorized_keys of every user and root (the build's key pair), SSH
#                         host keys, /etc/machine-id (emptied), cloud-init's per-instance state,
#                         shell histories.
# Kept: the OS, k3s and Helm binaries (and the walk's), the container images the prewarm pulled
# (/var/lib/rancher/k3s/agent/containerd), the charts, values, scripts and units.
# README "What an image contains" lists it; test/provision/seal-image.bats checks it.
#
# usage: seal-image.sh --yes
set -euo pipefail

SG_SCRIPT_NAME=seal-image
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

[[ "${1:-}" == --yes && $# -eq 1 ]] || usage_error "seal-image.sh removes this machine's SSH access; run it as: seal-image.sh --yes"

removed=0
remove() {
  local path
  for path in "$@"; do
    if [[ -e "$path" || -L "$path" ]]; then
      # --one-file-system: should anything still be mounted below, fail instead of reaching into it.
      rm -rf --one-file-system "$path"
      log "removed ${path#"$SG_ROOT"}"
      removed=$((removed + 1))
    fi
  done
}

"$here/k3s-stop-all.sh"

shopt -s nullglob dotglob
# The data disk: back to what the build's setup-data-disk.sh made of it.
for path in "$SG_DATA_MOUNT"/*; do
  case "${path##*/}" in
    lost+found | .sourcegraph-version) ;;
    db | storage | kubelet) remove "$path"/* ;;
    *) remove "$path" ;;
  esac
done
if [[ -d "$SG_DATA_MOUNT" ]] && mountpoint -q "$SG_DATA_MOUNT"; then
  mkdir -p "$SG_DATA_MOUNT/db" "$SG_DATA_MOUNT/storage" "$SG_DATA_MOUNT/kubelet"
  image_version="$(grep -E '^SG_IMAGE_VERSION=' "$SG_IMAGE_ENV" 2>/dev/null | cut -d= -f2- || true)"
  if [[ -n "$image_version" ]]; then
    write_version_file "$SG_DATA_VERSION_FILE" "$image_version-base"
  fi
fi

# k3s on the root disk: keep its binaries' data dir and the image store, drop every credential.
for path in "$SG_K3S_DIR"/server/*; do
  [[ "${path##*/}" == db ]] || remove "$path"
done
for path in "$SG_K3S_DIR"/agent/*; do
  case "${path##*/}" in
    containerd | images) ;;
    *) remove "$path" ;;
  esac
done
remove "$SG_KUBECONFIG" "$SG_ROOT/etc/rancher/node" "$SG_K3S_RESOLV_CONF"

remove "$SG_ROOT"/home/*/.ssh/authorized_keys "$SG_ROOT/root/.ssh/authorized_keys"
remove "$SG_ROOT"/etc/ssh/ssh_host_*_key "$SG_ROOT"/etc/ssh/ssh_host_*_key.pub
remove "$SG_ROOT"/var/lib/cloud/instances "$SG_ROOT/var/lib/cloud/instance"
remove "$SG_ROOT"/home/*/.bash_history "$SG_ROOT/root/.bash_history" "$SG_ROOT"/home/*/.kube "$SG_ROOT/root/.kube"
# The prewarm's status and "Started Sourcegraph" line would read like a boot of the image to a
# launcher; the markers and logs describe the build machine.
remove "$SG_STATUS_FILE" "$SG_STATE_DIR/run-agent" "$SG_STATE_DIR/boot.lock" "$SG_STATE_DIR/first-boot.done" "$SG_CREDENTIALS_VOLUME_FILE" \
  "$SG_STATE_DIR"/prewarmed-* "$SG_ROOT/var/log/reboot.sh.log"
for path in "$SG_LOG_DIR"/*; do
  case "${path##*/}" in
    build.log | seal-image.log | k3s-stop-all.log) ;;
    *) remove "$path" ;;
  esac
done
shopt -u nullglob dotglob

if [[ -s "$SG_ROOT/etc/machine-id" ]]; then
  : >"$SG_ROOT/etc/machine-id"
  log "emptied /etc/machine-id"
  removed=$((removed + 1))
fi

log "image sealed ($removed item(s) removed)"
