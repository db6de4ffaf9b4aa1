#!/usr/bin/env bash
# Grows the data disk's filesystem (/mnt/data) to fill its disk, and prints the disk's usage.
#
# The boot service runs it at every boot after /mnt/data is mounted, so a disk the cloud made larger
# (`sourcegraph-launch disk grow`) is used in full after the next boot; `disk grow` also runs it at
# once over SSH. XFS grows with xfs_growfs (on the mount point), ext4 with resize2fs (online); both
# are no-ops when the filesystem already fills the disk, so running it twice changes nothing.
#
# Self-contained on purpose (no lib.sh): `disk grow` streams this file to instances whose image
# predates it.
#
# Usage: grow-data-disk.sh [--no-grow]
#   --no-grow   only report the usage
# Prints one JSON object on stdout:
#   {"mount","device","filesystem","deviceBytes","sizeBytes","usedBytes","availableBytes","usedPercent","grown"}
# Exit codes: 0 ok (grown or nothing to grow), 1 growing failed, 2 bad usage,
#             3 a filesystem this script cannot grow, 5 /mnt/data is not mounted.
# Environment: SG_ROOT (tests: a scratch root whose mnt/data is the mount point).
set -euo pipefail

SG_ROOT="${SG_ROOT:-}"
mount_point="$SG_ROOT/mnt/data"
grow=1

log() {
  local TZ=UTC0
  printf '%(%Y-%m-%dT%H:%M:%SZ)T grow-data-disk: %s\n' -1 "$*" >&2
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-grow) grow=0 ;;
    *)
      log "unknown option: $1 (usage: grow-data-disk.sh [--no-grow])"
      exit 2
      ;;
  esac
  shift
done

if ! mountpoint -q "$mount_point"; then
  log "${mount_point#"$SG_ROOT"} is not mounted: nothing to grow"
  exit 5
fi

read -r device fstype < <(findmnt -n -o SOURCE,FSTYPE --mountpoint "$mount_point")
# The disk's size is for the report only: without its device node (a container) it is null.
device_bytes="$(blockdev --getsize64 "$device" 2>/dev/null)" || device_bytes=null

# size, used, available in bytes as the filesystem reports them.
usage() {
  df -B1 --output=size,used,avail "$mount_point" | tail -n 1
}

read -r size_before _ _ < <(usage)
grown=false
if [[ $grow -eq 1 ]]; then
  case "$fstype" in
    xfs) tool=(xfs_growfs "$mount_point") ;;
    ext2 | ext3 | ext4) tool=(resize2fs "$device") ;;
    *)
      log "cannot grow a $fstype filesystem on $device (only xfs and ext4)"
      exit 3
      ;;
  esac
  if ! out="$("${tool[@]}" 2>&1)"; then
    log "${tool[0]} failed on $device: ${out//$'\n'/ }"
    exit 1
  fi
  read -r size_after _ _ < <(usage)
  if [[ "$size_after" -gt "$size_before" ]]; then
    grown=true
    log "grew the $fstype filesystem on $device from $size_before to $size_after bytes (disk: $device_bytes bytes)"
  else
    log "the $fstype filesystem on $device already fills the disk ($size_after of $device_bytes bytes)"
  fi
fi

read -r size used avail < <(usage)
percent=0
[[ "$size" -gt 0 ]] && percent=$(((used * 100 + size - 1) / size))
printf '{"mount":"/mnt/data","device":"%s","filesystem":"%s","deviceBytes":%s,"sizeBytes":%s,"usedBytes":%s,"availableBytes":%s,"usedPercent":%s,"grown":%s}\n' \
  "$device" "$fstype" "$device_bytes" "$size" "$used" "$avail" "$percent" "$grown"
