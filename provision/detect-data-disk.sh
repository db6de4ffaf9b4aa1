#!/usr/bin/env bash
# Prints the block device that holds (or will hold) Sourcegraph's data, e.g. /dev/nvme1n1.
#
# Device names are not stable across clouds or even boots (on Nitro the EBS volume attached as
# /dev/sdb shows up as /dev/nvme0n1 or /dev/nvme1n1), so the disk is found by what it is, in
# this order:
#   1. a filesystem labelled /mnt/data (an existing data disk, ours or a published image's);
#   2. --device DEV (or SG_DATA_DEVICE), if given;
#   3. the names clouds give a data disk: Azure LUN 0 (/dev/disk/azure/scsi1/lun0 or
#      /dev/disk/by-path/*-lun-0), a GCE disk named sourcegraph-data, /dev/sdb, /dev/xvdb;
#   4. the one whole disk that has no partitions, no filesystem, is not mounted and is not
#      instance storage.
# The disk holding / (or anything else mounted) is never chosen. A disk that carries a
# filesystem is only accepted when that filesystem is labelled /mnt/data: this script is what
# stands between mkfs and someone's data.
#
# Exit codes: 0 found, 2 bad usage, 3 refused (the only candidate is unsafe), 5 none or several.
set -euo pipefail

SG_SCRIPT_NAME=detect-data-disk
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

explicit_device="${SG_DATA_DEVICE:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device)
      [[ $# -ge 2 ]] || usage_error "--device needs a value"
      explicit_device="$2"
      shift 2
      ;;
    -h | --help)
      printf 'usage: %s [--device /dev/X]\n' "$0"
      exit 0
      ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

# One lsblk call describes every block device; later lookups read these arrays.
declare -A DEV_TYPE=() DEV_PARENT=() DEV_FSTYPE=() DEV_LABEL=() DEV_MOUNT=() DEV_MODEL=() DEV_RO=()
declare -A DEV_HAS_CHILDREN=() DEV_IN_USE=()
DEV_NAMES=()

parse_lsblk() {
  local line key value name
  declare -A fields
  while IFS= read -r line; do
    [[ -n "$line" ]] || continue
    fields=()
    while [[ "$line" =~ ^[[:space:]]*([A-Z:-]+)=\"([^\"]*)\"(.*)$ ]]; do
      key="${BASH_REMATCH[1]}"
      value="${BASH_REMATCH[2]}"
      line="${BASH_REMATCH[3]}"
      fields["$key"]="$value"
    done
    name="${fields[NAME]:-}"
    [[ -n "$name" ]] || continue
    name="${name#/dev/}"
    DEV_NAMES+=("$name")
    DEV_TYPE["$name"]="${fields[TYPE]:-}"
    DEV_PARENT["$name"]="${fields[PKNAME]:-}"
    DEV_PARENT["$name"]="${DEV_PARENT[$name]#/dev/}"
    DEV_FSTYPE["$name"]="${fields[FSTYPE]:-}"
    DEV_LABEL["$name"]="${fields[LABEL]:-}"
    DEV_MOUNT["$name"]="${fields[MOUNTPOINT]:-}"
    DEV_MODEL["$name"]="${fields[MODEL]:-}"
    DEV_RO["$name"]="${fields[RO]:-0}"
  done < <(lsblk -n -P -o NAME,PKNAME,TYPE,FSTYPE,LABEL,MOUNTPOINT,MODEL,RO)
}

top_disk_of() {
  local name="$1" guard=0
  while [[ -n "${DEV_PARENT[$name]:-}" && $guard -lt 16 ]]; do
    name="${DEV_PARENT[$name]}"
    guard=$((guard + 1))
  done
  printf '%s' "$name"
}

# A disk is in use when it or anything built on it (partition, LVM volume, RAID member) is
# mounted, is swap, or belongs to a volume manager: that covers the root disk wherever it is.
mark_in_use() {
  local name top
  for name in "${DEV_NAMES[@]}"; do
    if [[ -n "${DEV_PARENT[$name]:-}" ]]; then
      DEV_HAS_CHILDREN["${DEV_PARENT[$name]}"]=1
    fi
    case "${DEV_FSTYPE[$name]}" in
      swap | LVM2_member | linux_raid_member | zfs_member | crypto_LUKS) top="$(top_disk_of "$name")"; DEV_IN_USE["$top"]=1 ;;
    esac
    if [[ -n "${DEV_MOUNT[$name]}" ]]; then
      top="$(top_disk_of "$name")"
      DEV_IN_USE["$top"]=1
    fi
  done
}

# Resolves a udev-style symlink (/dev/sdb -> nvme1n1, lun0 -> ../../../sdc) to the kernel name.
kernel_name_of() {
  local path="$1" target
  if [[ -L "$SG_ROOT$path" ]]; then
    target="$(readlink "$SG_ROOT$path")"
    printf '%s' "$(basename "$target")"
  else
    printf '%s' "$(basename "$path")"
  fi
}

# Prints why NAME must not be used as the data disk, or nothing when it is safe.
unsafe_reason() {
  local name="$1"
  if [[ -z "${DEV_TYPE[$name]:-}" ]]; then
    printf '/dev/%s is not a block device known to lsblk' "$name"
  elif [[ "${DEV_TYPE[$name]}" != disk ]]; then
    printf '/dev/%s is a %s, not a whole disk' "$name" "${DEV_TYPE[$name]}"
  elif [[ -n "${DEV_IN_USE[$name]:-}" ]]; then
    printf '/dev/%s is in use (it or one of its partitions is mounted: the root disk or another system disk)' "$name"
  elif [[ "${DEV_RO[$name]}" == 1 ]]; then
    printf '/dev/%s is read-only' "$name"
  elif [[ -n "${DEV_HAS_CHILDREN[$name]:-}" ]]; then
    printf '/dev/%s has partitions' "$name"
  elif [[ -n "${DEV_FSTYPE[$name]}" && "${DEV_LABEL[$name]}" != "$SG_DATA_LABEL" ]]; then
    printf '/dev/%s already has a %s filesystem labelled "%s", not %s' \
      "$name" "${DEV_FSTYPE[$name]}" "${DEV_LABEL[$name]}" "$SG_DATA_LABEL"
  fi
}

# Ephemeral NVMe instance storage looks like an empty disk but loses its content on stop.
is_instance_storage() {
  [[ "${DEV_MODEL[$1]}" == *"Instance Storage"* ]]
}

found() {
  log "data disk: $1 ($2)"
  printf '%s\n' "$1"
  exit 0
}

labelled="$(blkid -L "$SG_DATA_LABEL" 2>/dev/null || true)"
if [[ -n "$labelled" ]]; then
  found "$labelled" "filesystem labelled $SG_DATA_LABEL"
fi

parse_lsblk
mark_in_use

if [[ -n "$explicit_device" ]]; then
  name="$(kernel_name_of "$explicit_device")"
  reason="$(unsafe_reason "$name")"
  [[ -z "$reason" ]] || die "refusing $explicit_device: $reason" "$EXIT_UNSAFE"
  found "/dev/$name" "given explicitly as $explicit_device"
fi

refused=()
well_known=(/dev/disk/azure/scsi1/lun0)
for path in "$SG_ROOT"/dev/disk/by-path/*-lun-0; do
  [[ -e "$path" || -L "$path" ]] && well_known+=("${path#"$SG_ROOT"}")
done
well_known+=(/dev/disk/by-id/google-sourcegraph-data /dev/sdb /dev/xvdb)
for path in "${well_known[@]}"; do
  [[ -e "$SG_ROOT$path" || -L "$SG_ROOT$path" ]] || continue
  name="$(kernel_name_of "$path")"
  reason="$(unsafe_reason "$name")"
  if [[ -z "$reason" ]]; then
    found "/dev/$name" "well-known data disk name $path"
  fi
  log "skipping $path: $reason"
  refused+=("$reason")
done

candidates=()
for name in "${DEV_NAMES[@]}"; do
  [[ "${DEV_TYPE[$name]}" == disk ]] || continue
  is_instance_storage "$name" && continue
  reason="$(unsafe_reason "$name")"
  if [[ -z "$reason" ]]; then
    candidates+=("$name")
  elif [[ -z "${DEV_IN_USE[$name]:-}" ]]; then
    refused+=("$reason")
  fi
done

if [[ ${#candidates[@]} -eq 1 ]]; then
  found "/dev/${candidates[0]}" "the only unused empty disk"
fi
if [[ ${#candidates[@]} -gt 1 ]]; then
  die "several empty disks could be the data disk (${candidates[*]}); pass --device" "$EXIT_NOT_FOUND"
fi
if [[ ${#refused[@]} -gt 0 ]]; then
  die "no usable data disk: ${refused[0]}" "$EXIT_UNSAFE"
fi
die "no data disk found: attach an empty disk (AWS /dev/sdb, GCE/Azure data disk)" "$EXIT_NOT_FOUND"
