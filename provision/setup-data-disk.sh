#!/usr/bin/env bash
# Formats (only if blank), labels, mounts and wires the data disk the way the published images
# do, so a data disk moves between their images and ours:
#   - filesystem labelled /mnt/data: XFS on AWS, ext4 on GCE/Azure (an existing labelled disk
#     keeps whatever filesystem it has);
#   - fstab "LABEL=/mnt/data /mnt/data <fs> defaults,nofail 0 2" (nofail: an instance without its
#     data disk still boots and can be repaired; k3s itself refuses to start without it);
#   - k3s datastore and persistent volumes on the disk through symlinks
#     /var/lib/rancher/k3s/server/db -> /mnt/data/db, /var/lib/rancher/k3s/storage -> /mnt/data/storage;
#   - /var/lib/kubelet backed by /mnt/data/kubelet through a bind mount in fstab, as the
#     published images do (kubelet resolves its root dir and mishandles a symlinked one when it
#     cleans up pod volumes, so a bind mount is the safer of the two).
# "Blank" is decided by probing the device itself right before mkfs (blkid -p, wipefs, zeros in its
# first MiBs), never by lsblk alone: a disk whose filesystem the udev database has not caught up
# with must not be formatted.
#
# usage: setup-data-disk.sh --cloud aws|gcp|azure [--device /dev/X]
# env:   SG_DISK_CANDIDATES  only these devices may be used (see detect-data-disk.sh)
set -euo pipefail

SG_SCRIPT_NAME=setup-data-disk
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

cloud=""
device_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cloud)
      [[ $# -ge 2 ]] || usage_error "--cloud needs a value"
      cloud="$2"
      shift 2
      ;;
    --device)
      [[ $# -ge 2 ]] || usage_error "--device needs a value"
      device_args=(--device "$2")
      shift 2
      ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
valid_cloud "$cloud" || usage_error "--cloud must be aws, gcp or azure"

rc=0
device="$("$here/detect-data-disk.sh" --cloud "$cloud" "${device_args[@]}")" || rc=$?
[[ $rc -eq 0 ]] || exit "$rc"
disk_candidate_allowed "$device" || die "refusing $device: not among SG_DISK_CANDIDATES" "$EXIT_UNSAFE"

label="$(blkid -p -o value -s LABEL "$device" 2>/dev/null || true)"
if [[ "$label" == "$SG_DATA_LABEL" ]]; then
  fstype="$(blkid -p -o value -s TYPE "$device")"
  log "$device already carries the $fstype filesystem labelled $SG_DATA_LABEL: keeping its data"
else
  # Checked again right before mkfs: the last word on whether anything is on the disk.
  reason="$(device_not_blank_reason "$device")"
  [[ -z "$reason" ]] || die "refusing to format $device: $reason" "$EXIT_UNSAFE"
  # stdin from /dev/null: should mkfs ever find something and ask, the answer is no.
  if [[ "$cloud" == aws ]]; then
    fstype=xfs
    log "formatting $device as XFS labelled $SG_DATA_LABEL"
    mkfs.xfs -q -L "$SG_DATA_LABEL" "$device" </dev/null
  else
    fstype=ext4
    log "formatting $device as ext4 labelled $SG_DATA_LABEL"
    # No reserved blocks: nothing but Sourcegraph writes here, and 5% of 500 GB is a lot.
    mkfs.ext4 -q -m 0 -L "$SG_DATA_LABEL" "$device" </dev/null
  fi
fi

# Puts ENTRY in place of the first fstab entry for the same mount point (e.g. the published
# images' line with different spacing), drops any further ones, and appends it when there is none.
set_fstab_entry() {
  local mount_point="$1" entry="$2" fstab="$SG_ROOT/etc/fstab"
  mkdir -p "$(dirname "$fstab")"
  [[ -f "$fstab" ]] || : >"$fstab"
  awk -v mp="$mount_point" -v entry="$entry" '
    $0 !~ /^[[:space:]]*#/ && NF >= 2 && $2 == mp { if (!done) print entry; done = 1; next }
    { print }
    END { if (!done) print entry }
  ' "$fstab" | write_if_changed "$fstab" 0644 || true
}

set_fstab_entry /mnt/data "LABEL=$SG_DATA_LABEL /mnt/data $fstype defaults,nofail 0 2"
set_fstab_entry /var/lib/kubelet "/mnt/data/kubelet /var/lib/kubelet none bind,nofail,x-systemd.requires-mounts-for=/mnt/data 0 0"

mkdir -p "$SG_DATA_MOUNT"
if mountpoint -q "$SG_DATA_MOUNT"; then
  log "/mnt/data is already mounted"
else
  # The device found above, not "mount -L": should another disk carry the same label, the one that
  # was checked is the one that is mounted.
  mount "$device" "$SG_DATA_MOUNT"
  log "mounted $device on /mnt/data"
fi

mkdir -p "$SG_DATA_MOUNT/db" "$SG_DATA_MOUNT/storage" "$SG_DATA_MOUNT/kubelet"
ensure_symlink "$SG_K3S_DIR/server/db" /mnt/data/db
ensure_symlink "$SG_K3S_DIR/storage" /mnt/data/storage

mkdir -p "$SG_ROOT/var/lib/kubelet"
if mountpoint -q "$SG_ROOT/var/lib/kubelet"; then
  log "/var/lib/kubelet is already bind-mounted"
else
  mount --bind "$SG_DATA_MOUNT/kubelet" "$SG_ROOT/var/lib/kubelet"
  log "bind-mounted /mnt/data/kubelet on /var/lib/kubelet"
fi

log "data disk ready: $device ($fstype) on /mnt/data"
