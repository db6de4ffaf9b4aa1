#!/usr/bin/env bash
# Last step of an image build, run just before the disks are snapshotted: removes what must not
# be shared by every instance launched from the image. Destructive for the build VM (its SSH
# access goes away), hence --yes.
#   - SSH authorized_keys of every user and root (the build's key pair);
#   - SSH host keys (each instance generates its own at first boot);
#   - /etc/machine-id (emptied, so systemd generates a new one);
#   - cloud-init's per-instance state, so user data and keys are applied on the next boot;
#   - shell histories, and the build's status.json, lock, reboot.sh.log and one-off markers.
#
# usage: seal-image.sh --yes
set -euo pipefail

SG_SCRIPT_NAME=seal-image
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ "${1:-}" == --yes && $# -eq 1 ]] || usage_error "seal-image.sh removes this machine's SSH access; run it as: seal-image.sh --yes"

removed=0
remove() {
  local path
  for path in "$@"; do
    if [[ -e "$path" || -L "$path" ]]; then
      rm -rf "$path"
      log "removed ${path#"$SG_ROOT"}"
      removed=$((removed + 1))
    fi
  done
}

shopt -s nullglob
remove "$SG_ROOT"/home/*/.ssh/authorized_keys "$SG_ROOT/root/.ssh/authorized_keys"
remove "$SG_ROOT"/etc/ssh/ssh_host_*_key "$SG_ROOT"/etc/ssh/ssh_host_*_key.pub
remove "$SG_ROOT"/var/lib/cloud/instances "$SG_ROOT/var/lib/cloud/instance"
remove "$SG_ROOT"/home/*/.bash_history "$SG_ROOT/root/.bash_history"
# The prewarm's "Started Sourcegraph" line would read like a boot of the image to a launcher.
remove "$SG_STATUS_FILE" "$SG_STATE_DIR/boot.lock" "$SG_STATE_DIR/first-boot.done" "$SG_ROOT/var/log/reboot.sh.log"
shopt -u nullglob

if [[ -s "$SG_ROOT/etc/machine-id" ]]; then
  : >"$SG_ROOT/etc/machine-id"
  log "emptied /etc/machine-id"
  removed=$((removed + 1))
fi

log "image sealed ($removed item(s) removed)"
