#!/usr/bin/env bats
# provision/detect-data-disk.sh against scripted lsblk/blkid output of each cloud's disk layout:
# the data disk is only ever found by what positively identifies it (its label, --device, the
# cloud's stable name for it), never as "the only empty disk". Real disks: disks.bats.

load helpers/common

setup() {
  setup_scratch
}

detect() {
  run --separate-stderr "$PROVISION_DIR/detect-data-disk.sh" "$@"
}

# link NAME TARGET: a udev-style symlink under the scratch /dev.
link() {
  mkdir -p "$(dirname "$SG_ROOT$1")"
  ln -s "$2" "$SG_ROOT$1"
}

@test "AWS Nitro: the /dev/sdb udev link to the NVMe device is followed" {
  disks_aws_nitro
  lsblk_dev nvme2n1 "" disk "" "" "" "Amazon Elastic Block Store"
  link /dev/sdb nvme2n1

  detect --cloud aws

  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme2n1 ]
}

@test "AWS Nitro without /dev/sdb: the empty EBS volume is NOT guessed" {
  disks_aws_nitro

  detect --cloud aws

  [ "$status" -eq 5 ]
  [ -z "$output" ]
  [[ "$stderr" == *"no data disk found"*"attach the data volume as /dev/sdb"* ]]
}

@test "Xen: /dev/xvdb next to the root /dev/xvda" {
  lsblk_dev xvda "" disk
  lsblk_dev xvda1 xvda part xfs / /
  lsblk_dev xvdb "" disk
  mkdir -p "$SG_ROOT/dev"
  touch "$SG_ROOT/dev/xvdb"

  detect --cloud aws

  [ "$status" -eq 0 ]
  [ "$output" = /dev/xvdb ]
}

@test "GCE: the disk with device name sourcegraph-data, not the local SSD next to it" {
  lsblk_dev sda "" disk "" "" "" PersistentDisk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sda15 sda part vfat UEFI /boot/efi
  lsblk_dev sdb "" disk "" "" "" EphemeralDisk
  lsblk_dev sdc "" disk "" "" "" PersistentDisk
  link /dev/disk/by-id/google-local-ssd-0 ../../sdb
  link /dev/disk/by-id/google-sourcegraph-data ../../sdc

  detect --cloud gcp

  [ "$status" -eq 0 ]
  [ "$output" = /dev/sdc ]
}

@test "GCE on NVMe: a persistent disk (nvme_card-pd) is accepted, a local SSD (nvme_card) never" {
  lsblk_dev nvme0n1 "" disk "" "" "" nvme_card-pd
  lsblk_dev nvme0n1p1 nvme0n1 part ext4 cloudimg-rootfs /
  lsblk_dev nvme0n2 "" disk "" "" "" nvme_card-pd
  lsblk_dev nvme1n1 "" disk "" "" "" nvme_card
  link /dev/disk/by-id/google-sourcegraph-data ../../nvme0n2

  detect --cloud gcp

  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme0n2 ]

  rm "$SG_ROOT/dev/disk/by-id/google-sourcegraph-data"
  link /dev/disk/by-id/google-sourcegraph-data ../../nvme1n1
  detect --cloud gcp
  [ "$status" -eq 3 ]
  [[ "$stderr" == *"GCE local SSD (ephemeral)"* ]]
}

@test "GCE: a blank disk under any other device name is not taken" {
  lsblk_dev sda "" disk "" "" "" PersistentDisk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdb "" disk "" "" "" PersistentDisk
  link /dev/disk/by-id/google-persistent-disk-1 ../../sdb

  detect --cloud gcp

  [ "$status" -eq 5 ]
  [[ "$stderr" == *"device name sourcegraph-data"* ]]
}

@test "Azure: LUN 0 through /dev/disk/azure/scsi1/lun0, never the resource disk" {
  lsblk_dev sda "" disk "" "" "" "Virtual Disk"
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdb "" disk "" "" "" "Virtual Disk"
  lsblk_dev sdb1 sdb part ext4 "" /mnt
  lsblk_dev sdc "" disk "" "" "" "Virtual Disk"
  link /dev/disk/azure/resource ../../sdb
  link /dev/disk/azure/scsi1/lun0 ../../../sdc

  detect --cloud azure

  [ "$status" -eq 0 ]
  [ "$output" = /dev/sdc ]
}

@test "Azure NVMe: LUN 0 through /dev/disk/azure/data/by-lun/0, never an NVMe Direct temp disk" {
  lsblk_dev nvme0n1 "" disk "" "" "" "MSFT NVMe Accelerator v1.0"
  lsblk_dev nvme0n1p1 nvme0n1 part ext4 cloudimg-rootfs /
  lsblk_dev nvme0n2 "" disk "" "" "" "MSFT NVMe Accelerator v1.0"
  lsblk_dev nvme1n1 "" disk "" "" "" "Microsoft NVMe Direct Disk v2"
  link /dev/disk/azure/data/by-lun/0 ../../../../nvme0n2

  detect --cloud azure

  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme0n2 ]
}

@test "Azure: a LUN 0 name pointing at the temp disk is refused" {
  lsblk_dev sda "" disk "" "" "" "Virtual Disk"
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdb "" disk "" "" "" "Virtual Disk"
  link /dev/disk/azure/resource ../../sdb
  link /dev/disk/azure/scsi1/lun0 ../../../sdb

  detect --cloud azure

  [ "$status" -eq 3 ]
  [[ "$stderr" == *"ephemeral disk (/dev/disk/azure/resource)"* ]]
}

@test "Azure: a by-path lun-0 link is not a positive identification (it may be the OS disk)" {
  lsblk_dev sda "" disk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdd "" disk
  link "/dev/disk/by-path/acpi-VMBUS:01-vmbus-f8b3781b-lun-0" ../../sdd

  detect --cloud azure

  [ "$status" -eq 5 ]
}

@test "a disk labelled /mnt/data is chosen first, even with a stable name on another disk" {
  disks_aws_nitro
  lsblk_dev nvme2n1 "" disk xfs /mnt/data
  fs_on nvme2n1 xfs /mnt/data
  link /dev/sdb nvme1n1

  detect --cloud aws

  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme2n1 ]
}

@test "two filesystems labelled /mnt/data: refuses to pick one" {
  disks_aws_nitro
  lsblk_dev nvme2n1 "" disk xfs /mnt/data
  fs_on nvme1n1 xfs /mnt/data
  fs_on nvme2n1 xfs /mnt/data

  detect --cloud aws

  [ "$status" -eq 5 ]
  [[ "$stderr" == *"several filesystems are labelled /mnt/data"* ]]
}

@test "the stable name on a disk with a foreign filesystem is refused" {
  lsblk_dev nvme0n1 "" disk
  lsblk_dev nvme0n1p1 nvme0n1 part xfs / /
  lsblk_dev nvme1n1 "" disk ext4 customer-backups
  fs_on nvme1n1 ext4 customer-backups
  link /dev/sdb nvme1n1

  detect --cloud aws

  [ "$status" -eq 3 ]
  [[ "$stderr" == *"not blank and not labelled /mnt/data"*"LABEL=customer-backups"* ]]
  [ -z "$output" ]
}

@test "a disk lsblk shows empty but a probe finds two filesystems on is refused" {
  disks_aws_nitro
  touch "$STUB_STATE/fs/nvme1n1.ambivalent"
  link /dev/sdb nvme1n1

  detect --cloud aws

  [ "$status" -eq 3 ]
  [[ "$stderr" == *"blkid cannot tell what is on it (exit 8"* ]]
}

@test "a disk with no filesystem but data in its first MiBs is refused" {
  disks_aws_nitro
  printf 'not zeros\n' >"$STUB_STATE/fs/nvme1n1.data"
  link /dev/sdb nvme1n1

  detect --cloud aws

  [ "$status" -eq 3 ]
  [[ "$stderr" == *"first 4 MiB hold data"* ]]
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

@test "an explicit --device that is blank is accepted" {
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
  fs_on sdb swap ""

  detect --device /dev/sda
  [ "$status" -eq 3 ]
  [[ "$stderr" == *"in use"* ]]
  detect --device /dev/sdb
  [ "$status" -eq 3 ]
  [[ "$stderr" == *"in use"* ]]
}

@test "NVMe instance storage is never the data disk, even named /dev/sdb" {
  disks_aws_nitro
  lsblk_dev nvme2n1 "" disk "" "" "" "Amazon EC2 NVMe Instance Storage"
  link /dev/sdb nvme2n1

  detect --cloud aws

  [ "$status" -eq 3 ]
  [[ "$stderr" == *"AWS instance storage (ephemeral)"* ]]
}

@test "two stable names on different disks: refuses to guess" {
  disks_aws_nitro
  lsblk_dev nvme2n1 "" disk
  link /dev/sdb nvme1n1
  link /dev/xvdb nvme2n1

  detect --cloud aws

  [ "$status" -eq 5 ]
  [[ "$stderr" == *"point at different disks"*"--device"* ]]
}

@test "the names of another cloud are not looked at" {
  disks_aws_nitro
  link /dev/disk/by-id/google-sourcegraph-data ../../nvme1n1

  detect --cloud aws
  [ "$status" -eq 5 ]

  detect --cloud gcp
  [ "$status" -eq 0 ]
  [ "$output" = /dev/nvme1n1 ]
}

@test "SG_DISK_CANDIDATES: only the listed devices are ever listed, probed or picked" {
  disks_aws_nitro
  link /dev/sdb nvme1n1
  export SG_DISK_CANDIDATES="/dev/loop7"

  detect --cloud aws

  [ "$status" -eq 3 ]
  [[ "$stderr" == *"not among the allowed candidates"* ]]
  assert_call '^lsblk .* /dev/loop7$'
  refute_calls '^(blkid|wipefs|dd) .*nvme'
}

@test "detection only reads: no mkfs, no mount" {
  disks_aws_nitro
  link /dev/sdb nvme1n1

  detect --cloud aws
  detect --cloud aws

  [ "$status" -eq 0 ]
  refute_calls '^(mkfs|mount )'
}
