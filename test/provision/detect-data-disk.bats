#!/usr/bin/env bats
# provision/detect-data-disk.sh against scripted lsblk/blkid output of each cloud's disk layout.

load helpers/common

setup() {
  setup_scratch
}

detect() {
  run --separate-stderr "$PROVISION_DIR/detect-data-disk.sh" "$@"
}

@test "AWS Nitro: the empty EBS volume nvme1n1, not the root disk" {
  disks_aws_nitro

  detect

  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme1n1 ]
}

@test "AWS Nitro with the root disk enumerated second: still the empty one" {
  lsblk_dev nvme0n1 "" disk "" "" "" "Amazon Elastic Block Store"
  lsblk_dev nvme1n1 "" disk "" "" "" "Amazon Elastic Block Store"
  lsblk_dev nvme1n1p1 nvme1n1 part xfs / /

  detect

  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme0n1 ]
}

@test "AWS: the /dev/sdb udev link to the NVMe device is followed" {
  disks_aws_nitro
  lsblk_dev nvme2n1 "" disk "" "" "" "Amazon Elastic Block Store"
  mkdir -p "$SG_ROOT/dev"
  ln -s nvme2n1 "$SG_ROOT/dev/sdb"

  detect

  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme2n1 ]
}

@test "Xen: /dev/xvdb next to the root /dev/xvda" {
  lsblk_dev xvda "" disk
  lsblk_dev xvda1 xvda part xfs / /
  lsblk_dev xvdb "" disk
  mkdir -p "$SG_ROOT/dev"
  touch "$SG_ROOT/dev/xvdb"

  detect

  [ "$status" -eq 0 ]
  [ "$output" = /dev/xvdb ]
}

@test "GCE: /dev/sdb next to the root /dev/sda" {
  lsblk_dev sda "" disk "" "" "" PersistentDisk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sda15 sda part vfat UEFI /boot/efi
  lsblk_dev sdb "" disk "" "" "" PersistentDisk

  detect

  [ "$status" -eq 0 ]
  [ "$output" = /dev/sdb ]
}

@test "Azure: LUN 0 through /dev/disk/azure/scsi1/lun0, skipping the resource disk" {
  lsblk_dev sda "" disk "" "" "" "Virtual Disk"
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdb "" disk "" "" "" "Virtual Disk"
  lsblk_dev sdb1 sdb part ext4 "" /mnt
  lsblk_dev sdc "" disk "" "" "" "Virtual Disk"
  mkdir -p "$SG_ROOT/dev/disk/azure/scsi1"
  ln -s ../../../sdc "$SG_ROOT/dev/disk/azure/scsi1/lun0"
  touch "$SG_ROOT/dev/sdb"

  detect

  [ "$status" -eq 0 ]
  [ "$output" = /dev/sdc ]
}

@test "Azure without the azure links: the by-path lun-0 link of the data disk" {
  lsblk_dev sda "" disk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdd "" disk
  mkdir -p "$SG_ROOT/dev/disk/by-path"
  ln -s ../../sda "$SG_ROOT/dev/disk/by-path/acpi-VMBUS:00-scsi-0:0:0:0-lun-0"
  ln -s ../../sdd "$SG_ROOT/dev/disk/by-path/acpi-VMBUS:01-vmbus-f8b3781b-lun-0"

  detect

  [ "$status" -eq 0 ]
  [ "$output" = /dev/sdd ]
}

@test "a disk labelled /mnt/data is chosen first, even with other empty disks around" {
  disks_aws_nitro
  lsblk_dev nvme2n1 "" disk xfs /mnt/data
  fs_on nvme2n1 xfs /mnt/data

  detect

  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme2n1 ]
}

@test "a disk with a foreign filesystem is refused" {
  lsblk_dev nvme0n1 "" disk
  lsblk_dev nvme0n1p1 nvme0n1 part xfs / /
  lsblk_dev nvme1n1 "" disk ext4 customer-backups

  detect

  [ "$status" -eq 3 ]
  [[ "$stderr" == *"ext4 filesystem labelled \"customer-backups\""* ]]
  [ -z "$output" ]
}

@test "the root disk is refused even when named explicitly" {
  disks_aws_nitro

  detect --device /dev/nvme0n1

  [ "$status" -eq 3 ]
  [[ "$stderr" == *"in use"* ]]
}

@test "a partition is refused: only whole disks" {
  disks_aws_nitro

  detect --device /dev/nvme0n1p1

  [ "$status" -eq 3 ]
  [[ "$stderr" == *"not a whole disk"* ]]
}

@test "an explicit --device that is empty is accepted" {
  disks_aws_nitro
  lsblk_dev nvme2n1 "" disk

  detect --device /dev/nvme2n1

  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme2n1 ]
}

@test "a disk holding LVM or swap counts as in use" {
  lsblk_dev sda "" disk
  lsblk_dev sda1 sda part LVM2_member
  lsblk_dev vg-root sda1 lvm xfs / /
  lsblk_dev sdb "" disk swap
  lsblk_dev sdc "" disk

  detect

  [ "$status" -eq 0 ]
  [ "$output" = /dev/sdc ]
}

@test "NVMe instance storage is never taken for the data disk" {
  disks_aws_nitro
  lsblk_dev nvme2n1 "" disk "" "" "" "Amazon EC2 NVMe Instance Storage"

  detect

  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme1n1 ]
}

@test "two empty disks and no hint: refuses to guess" {
  disks_aws_nitro
  lsblk_dev nvme2n1 "" disk

  detect

  [ "$status" -eq 5 ]
  [[ "$stderr" == *"several empty disks"*"--device"* ]]
}

@test "no disk besides the root disk: not found" {
  lsblk_dev nvme0n1 "" disk
  lsblk_dev nvme0n1p1 nvme0n1 part xfs / /

  detect

  [ "$status" -eq 5 ]
  [[ "$stderr" == *"no data disk found"* ]]
}

@test "detection only reads: no mkfs, no mount" {
  disks_aws_nitro

  detect
  detect

  [ "$status" -eq 0 ]
  refute_calls '^(mkfs|mount )'
}
