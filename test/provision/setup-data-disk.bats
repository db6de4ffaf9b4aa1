#!/usr/bin/env bats
# provision/setup-data-disk.sh: format only blank disks, fstab by label with nofail, mounts and
# the links into /mnt/data; a second run changes nothing.

load helpers/common

setup() {
  setup_scratch
  mkdir -p "$SG_ROOT/etc"
  printf 'UUID=1234 / xfs defaults,noatime 1 1\n' >"$SG_ROOT/etc/fstab"
}

setup_disk() {
  run --separate-stderr "$PROVISION_DIR/setup-data-disk.sh" "$@"
}

@test "AWS: a blank EBS volume becomes XFS labelled /mnt/data, in fstab by label with nofail" {
  disks_aws_nitro
  sdb_is nvme1n1

  setup_disk --cloud aws

  [ "$status" -eq 0 ]
  assert_call '^mkfs.xfs -q -L /mnt/data /dev/nvme1n1$'
  refute_calls '^mkfs.ext4'
  grep -qxF 'LABEL=/mnt/data /mnt/data xfs defaults,nofail 0 2' "$SG_ROOT/etc/fstab"
  grep -qxF 'UUID=1234 / xfs defaults,noatime 1 1' "$SG_ROOT/etc/fstab"
  # The device that was checked is the one mounted, not whatever else carries the label.
  assert_call "^mount /dev/nvme1n1 $SG_ROOT/mnt/data\$"
  # Blankness was probed on the device itself right before mkfs.
  [ "$(call_line '^blkid -p -o export /dev/nvme1n1')" -lt "$(call_line '^mkfs')" ]
  [ "$(last_call_line '^wipefs ')" -lt "$(call_line '^mkfs')" ]
}

@test "the k3s datastore, volumes and kubelet dir live on the data disk" {
  disks_aws_nitro
  sdb_is nvme1n1

  setup_disk --cloud aws

  [ "$status" -eq 0 ]
  [ "$(readlink "$SG_ROOT/var/lib/rancher/k3s/server/db")" = /mnt/data/db ]
  [ "$(readlink "$SG_ROOT/var/lib/rancher/k3s/storage")" = /mnt/data/storage ]
  [ -d "$SG_ROOT/mnt/data/db" ] && [ -d "$SG_ROOT/mnt/data/storage" ] && [ -d "$SG_ROOT/mnt/data/kubelet" ]
  grep -qxF '/mnt/data/kubelet /var/lib/kubelet none bind,nofail,x-systemd.requires-mounts-for=/mnt/data 0 0' "$SG_ROOT/etc/fstab"
  assert_call "^mount --bind $SG_ROOT/mnt/data/kubelet $SG_ROOT/var/lib/kubelet\$"
  # The bind mount comes after the data disk mount.
  [ "$(call_line 'mount --bind')" -gt "$(call_line 'mount /dev/nvme1n1')" ]
}

@test "GCE and Azure: ext4" {
  lsblk_dev sda "" disk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdb "" disk
  mkdir -p "$SG_ROOT/dev/disk/by-id" "$SG_ROOT/dev/disk/azure/scsi1"
  ln -s ../../sdb "$SG_ROOT/dev/disk/by-id/google-sourcegraph-data"

  setup_disk --cloud gcp

  [ "$status" -eq 0 ]
  assert_call '^mkfs.ext4 -q -m 0 -L /mnt/data /dev/sdb$'
  grep -qxF 'LABEL=/mnt/data /mnt/data ext4 defaults,nofail 0 2' "$SG_ROOT/etc/fstab"

  rm -rf "$STUB_STATE/fs" "$SG_ROOT/dev/disk/by-id" "$SG_ROOT/mnt" "$STUB_STATE/mounts"
  mkdir -p "$STUB_STATE/fs"
  ln -s ../../../sdb "$SG_ROOT/dev/disk/azure/scsi1/lun0"
  reset_stub_log
  setup_disk --cloud azure
  [ "$status" -eq 0 ]
  assert_call '^mkfs.ext4 -q -m 0 -L /mnt/data /dev/sdb$'
}

@test "a second run formats nothing, mounts nothing and changes no file" {
  disks_aws_nitro
  sdb_is nvme1n1
  setup_disk --cloud aws
  [ "$status" -eq 0 ]
  before="$(snapshot_root)"
  reset_stub_log

  setup_disk --cloud aws

  [ "$status" -eq 0 ]
  refute_calls '^(mkfs|mount )'
  [ "$(snapshot_root)" = "$before" ]
  [ "$(grep -c '/mnt/data' "$SG_ROOT/etc/fstab")" -eq 2 ]
}

@test "a published image's data disk keeps its data and filesystem, and its fstab line is not duplicated" {
  lsblk_dev sda "" disk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdb "" disk xfs /mnt/data
  fs_on sdb xfs /mnt/data
  printf 'LABEL=/mnt/data  /mnt/data  xfs  defaults,nofail  0  2\n' >>"$SG_ROOT/etc/fstab"

  setup_disk --cloud gcp

  [ "$status" -eq 0 ]
  refute_calls '^mkfs'
  [ "$(grep -c ' /mnt/data ' "$SG_ROOT/etc/fstab")" -eq 1 ]
  grep -qxF 'LABEL=/mnt/data /mnt/data xfs defaults,nofail 0 2' "$SG_ROOT/etc/fstab"
}

@test "a disk with a foreign filesystem is never formatted" {
  lsblk_dev nvme0n1 "" disk
  lsblk_dev nvme0n1p1 nvme0n1 part xfs / /
  lsblk_dev nvme1n1 "" disk ext4 backups
  fs_on nvme1n1 ext4 backups

  setup_disk --cloud aws --device /dev/nvme1n1

  [ "$status" -eq 3 ]
  refute_calls '^(mkfs|mount )'
  ! grep -q '/mnt/data' "$SG_ROOT/etc/fstab"
}

@test "a disk whose probe is ambiguous is never formatted, even when blkid's cache shows nothing" {
  disks_aws_nitro
  sdb_is nvme1n1
  touch "$STUB_STATE/fs/nvme1n1.ambivalent"

  setup_disk --cloud aws

  [ "$status" -eq 3 ]
  refute_calls '^(mkfs|mount )'
}

@test "setup stops with detection's exit code when no data disk is identified" {
  disks_aws_nitro

  setup_disk --cloud aws

  [ "$status" -eq 5 ]
  refute_calls '^(mkfs|mount )'
}

@test "content already in /var/lib/rancher/k3s/storage is not hidden behind a link" {
  disks_aws_nitro
  sdb_is nvme1n1
  mkdir -p "$SG_ROOT/var/lib/rancher/k3s/storage/pvc-1"

  setup_disk --cloud aws

  [ "$status" -eq 3 ]
  [ -d "$SG_ROOT/var/lib/rancher/k3s/storage/pvc-1" ]
  [[ "$stderr" == *"non-empty directory"* ]]
}

@test "bad usage exits 2" {
  setup_disk --cloud digitalocean
  [ "$status" -eq 2 ]
  setup_disk
  [ "$status" -eq 2 ]
}
