#!/usr/bin/env bash
# Prints the block device that holds (or will hold) Sourcegraph's data, e.g. /dev/nvme1n1.
#
# Device names are not stable across clouds or even boots (on Nitro the EBS volume attached as
# /dev/sdb shows up as /dev/nvme0n1 or /dev/nvme1n1), so the disk is found only by what positively
# identifies it, in this order:
#   1. the one filesystem labelled /mnt/data (an existing data disk, ours or a published image's);
#   2. --device DEV (or SG_DATA_DEVICE), if given;
#   3. the stable name the cloud gives the data disk the launcher attached:
#        aws    /dev/sdb, /dev/xvdb (udev links on Amazon Linux; the block device mapping name)
#        gcp    /dev/disk/by-id/google-sourcegraph-data (the launcher's device name for the disk)
#        azure  /dev/disk/azure/scsi1/lun0 (SCSI) or /dev/disk/azure/data/by-lun/0 (NVMe), LUN 0
#      (all of them when --cloud is not given).
# There is no "the only empty disk" fallback: an ephemeral disk (AWS instance store, the Azure
# resource/temp disk, Azure NVMe Direct and GCE local SSDs) looks exactly like that. If nothing
# identifies the data disk, this script says so and the build stops.
# The disk holding / (or anything else mounted) is never chosen, nor one with partitions, nor one
# whose content is not a filesystem labelled /mnt/data: this script is what stands between mkfs
# and someone's data.
#
# usage: detect-data-disk.sh [--cloud aws|gcp|azure] [--device /dev/X]
# env:   SG_DISK_CANDIDATES  only these devices may ever be considered (the loop-device tests)
# Exit codes: 0 found, 2 bad usage, 3 refused (the identified disk is unsafe), 5 none or several.
set -euo pipefail

SG_SCRIPT_NAME=detect-data-disk
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

explicit_device="${SG_DATA_DEVICE:-}"
cloud=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device)
      [[ $# -ge 2 ]] || usage_error "--device needs a value"
      explicit_device="$2"
      shift 2
      ;;
    --cloud)
      [[ $# -ge 2 ]] || usage_error "--cloud needs a value"
      cloud="$2"
      shift 2
      ;;
    -h | --help)
      printf 'usage: %s [--cloud aws|gcp|azure] [--device /dev/X]\n' "$0"
      exit 0
      ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
[[ -z "$cloud" ]] || valid_cloud "$cloud" || usage_error "--cloud must be aws, gcp or azure"

# One lsblk call describes every block device (or only the allowed candidates); later lookups
# read these arrays.
declare -A DEV_TYPE=() DEV_PARENT=() DEV_FSTYPE=() DEV_MOUNT=() DEV_MODEL=() DEV_RO=()
declare -A DEV_HAS_CHILDREN=() DEV_IN_USE=()
DEV_NAMES=()

parse_lsblk() {
  local line key value name
  local scope=()
  if disk_candidates_restricted; then
    # shellcheck disable=SC2206  # a whitespace-separated list by design
    scope=($SG_DISK_CANDIDATES)
  fi
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
    DEV_MOUNT["$name"]="${fields[MOUNTPOINT]:-}"
    DEV_MODEL["$name"]="${fields[MODEL]:-}"
    DEV_RO["$name"]="${fields[RO]:-0}"
  done < <(lsblk -n -P -o NAME,PKNAME,TYPE,FSTYPE,MOUNTPOINT,MODEL,RO "${scope[@]}")
}

top_disk_of() {
  local name="$1" guard=0
  while [[ -n "${DEV_PARENT[$name]:-}" && $guard -lt 16 ]]; do
    name="${DEV_PARENT[$name]}"
    guard=$((guard + 1))
  done
  printf '%s' "$name"
}

# Our own mounts of the data disk (a second run) do not make it "in use".
own_mount() {
  [[ "$1" == "$SG_DATA_MOUNT" || "$1" == "$SG_ROOT/var/lib/kubelet" ]]
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
    if [[ -n "${DEV_MOUNT[$name]}" ]] && ! own_mount "${DEV_MOUNT[$name]}"; then
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

# Ephemeral disks lose their content on stop or redeploy; they are never the data disk even when
# a name points at them. Recognised by model (AWS instance store, Azure NVMe Direct) and by the
# names the clouds give them (Azure resource disk, GCE local SSD).
ephemeral_reason() {
  local name="$1" link model="${DEV_MODEL[$1]:-}"
  model="${model%"${model##*[![:space:]]}"}"
  case "$model" in
    *"Instance Storage"*) printf '/dev/%s is AWS instance storage (ephemeral)' "$name"; return 0 ;;
    *"NVMe Direct Disk"*) printf '/dev/%s is an Azure local NVMe disk (ephemeral)' "$name"; return 0 ;;
    # GCE local SSDs: "EphemeralDisk" on SCSI, "nvme_card" on NVMe (persistent disks there are
    # "nvme_card-pd", so the match is exact).
    EphemeralDisk | nvme_card) printf '/dev/%s is a GCE local SSD (ephemeral)' "$name"; return 0 ;;
  esac
  shopt -s nullglob
  for link in "$SG_ROOT"/dev/disk/azure/resource "$SG_ROOT"/dev/disk/azure/local/* "$SG_ROOT"/dev/disk/by-id/google-local-*; do
    if [[ -L "$link" && "$(basename "$(readlink "$link")")" == "$name" ]]; then
      shopt -u nullglob
      printf '/dev/%s is an ephemeral disk (%s)' "$name" "${link#"$SG_ROOT"}"
      return 0
    fi
  done
  shopt -u nullglob
}

# Prints why NAME must not be used as the data disk, or nothing when it is safe. A disk carrying
# the /mnt/data filesystem is safe; any other content makes it unsafe.
unsafe_reason() {
  local name="$1" reason
  if [[ -z "${DEV_TYPE[$name]:-}" ]]; then
    printf '/dev/%s is not a block device known to lsblk' "$name"
  elif ! disk_candidate_allowed "/dev/$name"; then
    printf '/dev/%s is not among the allowed candidates (SG_DISK_CANDIDATES)' "$name"
  elif [[ "${DEV_TYPE[$name]}" != disk && "${DEV_TYPE[$name]}" != loop ]]; then
    printf '/dev/%s is a %s, not a whole disk' "$name" "${DEV_TYPE[$name]}"
  elif [[ -n "${DEV_IN_USE[$name]:-}" ]]; then
    printf '/dev/%s is in use (it or one of its partitions is mounted: the root disk or another system disk)' "$name"
  elif [[ "${DEV_RO[$name]}" == 1 ]]; then
    printf '/dev/%s is read-only' "$name"
  elif [[ -n "${DEV_HAS_CHILDREN[$name]:-}" ]]; then
    printf '/dev/%s has partitions' "$name"
  elif reason="$(ephemeral_reason "$name")" && [[ -n "$reason" ]]; then
    printf '%s' "$reason"
  elif [[ "$(probed_label "/dev/$name")" != "$SG_DATA_LABEL" ]]; then
    reason="$(device_not_blank_reason "/dev/$name")"
    [[ -z "$reason" ]] || printf '/dev/%s is not blank and not labelled %s: %s' "$name" "$SG_DATA_LABEL" "$reason"
  fi
}

# The label of the one filesystem blkid finds on DEVICE by probing it (empty if none or ambiguous).
probed_label() {
  blkid -p -o value -s LABEL "$1" 2>/dev/null || true
}

found() {
  log "data disk: $1 ($2)"
  printf '%s\n' "$1"
  exit 0
}

parse_lsblk
mark_in_use

# 1. The filesystem labelled /mnt/data, probed on every candidate whole disk and partition.
labelled=()
for name in "${DEV_NAMES[@]}"; do
  case "${DEV_TYPE[$name]}" in disk | loop | part) ;; *) continue ;; esac
  disk_candidate_allowed "/dev/$name" || continue
  if [[ "$(probed_label "/dev/$name")" == "$SG_DATA_LABEL" ]]; then
    labelled+=("$name")
  fi
done
if [[ ${#labelled[@]} -gt 1 ]]; then
  die "several filesystems are labelled $SG_DATA_LABEL (${labelled[*]}); detach all but the data disk" "$EXIT_NOT_FOUND"
fi
if [[ ${#labelled[@]} -eq 1 ]]; then
  name="${labelled[0]}"
  top="$(top_disk_of "$name")"
  if [[ -n "${DEV_IN_USE[$top]:-}" ]]; then
    die "refusing /dev/$name: labelled $SG_DATA_LABEL but its disk is in use elsewhere" "$EXIT_UNSAFE"
  fi
  reason="$(ephemeral_reason "$top")"
  [[ -z "$reason" ]] || die "refusing /dev/$name: labelled $SG_DATA_LABEL but $reason" "$EXIT_UNSAFE"
  found "/dev/$name" "filesystem labelled $SG_DATA_LABEL"
fi

# 2. Named by the caller.
if [[ -n "$explicit_device" ]]; then
  name="$(kernel_name_of "$explicit_device")"
  reason="$(unsafe_reason "$name")"
  [[ -z "$reason" ]] || die "refusing $explicit_device: $reason" "$EXIT_UNSAFE"
  found "/dev/$name" "given explicitly as $explicit_device"
fi

# 3. The stable name the cloud gives the disk the launcher attached.
stable_names=()
case "$cloud" in
  aws) stable_names=(/dev/sdb /dev/xvdb) ;;
  gcp) stable_names=(/dev/disk/by-id/google-sourcegraph-data) ;;
  azure) stable_names=(/dev/disk/azure/scsi1/lun0 /dev/disk/azure/data/by-lun/0) ;;
  *) stable_names=(/dev/sdb /dev/xvdb /dev/disk/by-id/google-sourcegraph-data /dev/disk/azure/scsi1/lun0 /dev/disk/azure/data/by-lun/0) ;;
esac
matches=()
for path in "${stable_names[@]}"; do
  [[ -e "$SG_ROOT$path" || -L "$SG_ROOT$path" ]] || continue
  name="$(kernel_name_of "$path")"
  [[ " ${matches[*]} " == *" $name "* ]] || matches+=("$name")
  matched_path="$path"
done
if [[ ${#matches[@]} -gt 1 ]]; then
  die "the data disk names point at different disks (${matches[*]}); pass --device" "$EXIT_NOT_FOUND"
fi
if [[ ${#matches[@]} -eq 1 ]]; then
  name="${matches[0]}"
  reason="$(unsafe_reason "$name")"
  [[ -z "$reason" ]] || die "refusing $matched_path: $reason" "$EXIT_UNSAFE"
  found "/dev/$name" "the data disk's stable name $matched_path"
fi

case "$cloud" in
  aws) hint="attach the data volume as /dev/sdb" ;;
  gcp) hint="attach the data disk with device name sourcegraph-data" ;;
  azure) hint="attach the data disk at LUN 0" ;;
  *) hint="attach the data disk (AWS /dev/sdb, GCE device name sourcegraph-data, Azure LUN 0)" ;;
esac
die "no data disk found: nothing is labelled $SG_DATA_LABEL and no disk has the data disk's name; $hint, or pass --device" "$EXIT_NOT_FOUND"
