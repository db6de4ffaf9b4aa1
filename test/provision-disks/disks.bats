#!/usr/bin/env bats
# The real-disk tier: detect-data-disk.sh, setup-data-disk.sh and boot.sh's decision on real loop
# devices with the real disk tools, in a private mount namespace. Every script runs twice, and
# every disk that must not be formatted is checked to be byte for byte what it was.
#
# The scripts can only see this test's own loop devices (SG_DISK_CANDIDATES, enforced by in_ns);
# the machine's disks are never listed, probed or touched.

load disks

setup() {
  setup_disks
}

teardown() {
  teardown_disks
}

detect() {
  run --separate-stderr in_ns "$PROVISION_DIR/detect-data-disk.sh" "$@"
}

setup_disk() {
  run --separate-stderr in_ns "$PROVISION_DIR/setup-data-disk.sh" "$@"
}

boot() {
  run --separate-stderr in_ns "$PROVISION_DIR/boot.sh"
}

@test "the guard: no script runs without SG_DISK_CANDIDATES naming only this test's loop devices" {
  new_disk disk blank 64
  [[ "$disk" == /dev/loop* ]]

  SG_DISK_CANDIDATES="" run in_ns true
  [ "$status" -ne 0 ]
  [[ "$output" == *"SG_DISK_CANDIDATES is not set"* ]]

  SG_DISK_CANDIDATES="$disk /dev/vda" run in_ns true
  [ "$status" -ne 0 ]
  [[ "$output" == *"/dev/vda is not a loop device of this test"* ]]

  # With the seam, the scripts list and probe only the candidates.
  detect --cloud gcp
  [ "$status" -eq 5 ]
  ! grep -qE 'vd[a-z]|sd[a-z]|nvme' "$SG_ROOT/var/log/sourcegraph-launch/detect-data-disk.log"
}

@test "blank disk at GCE's stable name: formatted ext4 once, a second run changes nothing" {
  new_disk disk blank 64
  link /dev/disk/by-id/google-sourcegraph-data "$disk"
  mkdir -p "$SG_ROOT/etc"
  : >"$SG_ROOT/etc/fstab"

  setup_disk --cloud gcp
  [ "$status" -eq 0 ]
  [ "$(blkid -p -o value -s TYPE "$disk")" = ext4 ]
  [ "$(blkid -p -o value -s LABEL "$disk")" = /mnt/data ]
  uuid="$(uuid_of "$disk")"
  in_ns mountpoint -q "$SG_ROOT/mnt/data"
  in_ns mountpoint -q "$SG_ROOT/var/lib/kubelet"
  [ "$(readlink "$SG_ROOT/var/lib/rancher/k3s/server/db")" = /mnt/data/db ]
  in_ns touch "$SG_ROOT/mnt/data/db/marker"
  before="$(snapshot_root)"

  setup_disk --cloud gcp

  [ "$status" -eq 0 ]
  [ "$(uuid_of "$disk")" = "$uuid" ]
  [[ "$stderr" == *"already carries the ext4 filesystem labelled /mnt/data: keeping its data"* ]]
  in_ns test -f "$SG_ROOT/mnt/data/db/marker"
  [ "$(snapshot_root)" = "$before" ]
  [ "$(grep -c 'LABEL=/mnt/data' "$SG_ROOT/etc/fstab")" -eq 1 ]
}

@test "blank disk without a stable name: not found, twice, and never formatted" {
  new_disk disk blank 64

  detect --cloud azure
  [ "$status" -eq 5 ]
  setup_disk --cloud azure
  [ "$status" -eq 5 ]
  setup_disk --cloud azure
  [ "$status" -eq 5 ]

  [ -z "$(wipefs --no-act --noheadings "$disk")" ]
}

@test "a published image's data volume: found by its label, kept byte for byte, booted with token none" {
  new_disk disk published 320
  make_published_disk "$disk" 6.11.6000
  uuid="$(uuid_of "$disk")"
  manifest="$(disk_manifest "$disk")"
  [[ "$manifest" == *"./db/state.db"* && "$manifest" == *"./storage/pvc-1234_default_data-pgsql-0/PG_VERSION"* ]]
  mkdir -p "$SG_ROOT/etc"
  : >"$SG_ROOT/etc/fstab"
  root_image 6.12.5040

  detect --cloud aws
  [ "$status" -eq 0 ]
  [ "$output" = "$disk" ]
  setup_disk --cloud aws
  [ "$status" -eq 0 ]
  setup_disk --cloud aws
  [ "$status" -eq 0 ]
  [ "$(uuid_of "$disk")" = "$uuid" ]
  [ "$(blkid -p -o value -s TYPE "$disk")" = xfs ]
  grep -qxF 'LABEL=/mnt/data /mnt/data xfs defaults,nofail 0 2' "$SG_ROOT/etc/fstab"
  [ "$(disk_manifest "$disk")" = "$manifest" ]

  k3s_state inactive
  boot
  [ "$status" -eq 0 ]
  [ "$(boot_status decision)" = upgrade ]
  [ "$(boot_status volumeOrigin)" = published ]
  [ "$(volume_file k3s-token)" = none ]
  [ "$(volume_file k3s-version)" = "$K3S_VERSION" ]
  grep -q "walking the datastore from k3s v1.31.0+k3s1" "$SG_ROOT/var/log/sourcegraph-launch/boot.log"

  boot
  [ "$status" -eq 0 ]
  [ "$(boot_status decision)" = unchanged ]
  # Sourcegraph's data is untouched; the version file says what was installed.
  [ "$(disk_manifest "$disk" | grep -v '\./\.sourcegraph-version')" = "$(grep -v '\./\.sourcegraph-version' <<<"$manifest")" ]
  [ "$(in_ns cat "$SG_ROOT/mnt/data/.sourcegraph-version")" = 6.12.5040 ]
}

@test "a published volume left with an empty version file: a first boot that touches no data" {
  new_disk disk published-empty 320
  make_published_disk "$disk" ""
  manifest="$(disk_manifest "$disk" | grep -v '\./\.sourcegraph-version')"
  mkdir -p "$SG_ROOT/etc"
  : >"$SG_ROOT/etc/fstab"
  root_image 6.12.5040
  setup_disk --cloud aws
  [ "$status" -eq 0 ]
  k3s_state inactive

  boot

  [ "$status" -eq 0 ]
  [ "$(boot_status decision)" = first-boot ]
  [ "$(volume_file k3s-token)" = none ]
  [ "$(disk_manifest "$disk" | grep -v '\./\.sourcegraph-version')" = "$manifest" ]
}

@test "one of our volumes: found by its label, its token and records kept" {
  new_disk disk ours 64
  mkfs.ext4 -q -m 0 -L /mnt/data "$disk"
  mnt="$BATS_TEST_TMPDIR/prep"
  mkdir -p "$mnt"
  in_ns sh -c "mount '$disk' '$mnt' && mkdir -p '$mnt/db' '$mnt/storage' '$mnt/kubelet' '$mnt/.sourcegraph-launch' &&
    printf 'kubeletVersion $K3S_VERSION' >'$mnt/db/state.db' && printf '6.12.5040\n' >'$mnt/.sourcegraph-version' &&
    printf 'sourcegraph-launch\n' >'$mnt/.sourcegraph-launch/origin' && printf 'v-9\n' >'$mnt/.sourcegraph-launch/volume-id' &&
    printf 'our-token\n' >'$mnt/.sourcegraph-launch/k3s-token' && printf '$K3S_VERSION\n' >'$mnt/.sourcegraph-launch/k3s-version' &&
    umount '$mnt'"
  link /dev/disk/azure/scsi1/lun0 "$disk"
  mkdir -p "$SG_ROOT/etc"
  : >"$SG_ROOT/etc/fstab"
  root_image 6.13.100

  setup_disk --cloud azure
  [ "$status" -eq 0 ]
  setup_disk --cloud azure
  [ "$status" -eq 0 ]
  k3s_state inactive
  boot
  [ "$status" -eq 0 ]
  [ "$(boot_status decision)" = upgrade ]
  [ "$(boot_status volumeOrigin)" = sourcegraph-launch ]
  [ "$(volume_file k3s-token)" = our-token ]
  boot
  [ "$status" -eq 0 ]
  [ "$(boot_status decision)" = unchanged ]
}

@test "a foreign filesystem at the data disk's stable name: refused twice, never formatted or mounted" {
  new_disk disk foreign 64
  mkfs.ext4 -q -L backups "$disk"
  mnt="$BATS_TEST_TMPDIR/prep"
  mkdir -p "$mnt"
  in_ns sh -c "mount '$disk' '$mnt' && printf 'precious\n' >'$mnt/backup.tar' && umount '$mnt'"
  uuid="$(uuid_of "$disk")"
  manifest="$(disk_manifest "$disk")"
  link /dev/sdb "$disk"

  setup_disk --cloud aws
  [ "$status" -eq 3 ]
  [[ "$stderr" == *"not blank and not labelled /mnt/data"*"LABEL=backups"* ]]
  setup_disk --cloud aws
  [ "$status" -eq 3 ]

  [ "$(uuid_of "$disk")" = "$uuid" ]
  [ "$(blkid -p -o value -s LABEL "$disk")" = backups ]
  [ "$(disk_manifest "$disk")" = "$manifest" ]
  ! in_ns mountpoint -q "$SG_ROOT/mnt/data"
}

@test "a partitioned disk at the stable name: refused twice, its partition table untouched" {
  new_disk disk partitioned 64 -P
  printf 'label: gpt\n,,L\n' | sfdisk -q "$disk"
  partx -u "$disk" 2>/dev/null || true
  table="$(sfdisk --dump "$disk")"
  link /dev/disk/by-id/google-sourcegraph-data "$disk"

  setup_disk --cloud gcp
  [ "$status" -eq 3 ]
  setup_disk --cloud gcp
  [ "$status" -eq 3 ]
  [[ "$stderr" == *"has partitions"* || "$stderr" == *"PTTYPE=gpt"* ]]

  [ "$(sfdisk --dump "$disk")" = "$table" ]
}

@test "lsblk shows no filesystem but a probe finds two: refused twice, both signatures intact" {
  new_disk disk ambivalent 320
  other="$BATS_TEST_TMPDIR/xfs.img"
  truncate -s 320M "$other"
  mkfs.ext4 -q -L /mnt/data "$disk"
  mkfs.xfs -q -L old "$other"
  # An XFS superblock in the ext4 boot block: what a disk reused without wiping can look like.
  dd if="$other" of="$disk" bs=512 count=1 conv=notrunc status=none
  [ -z "$(lsblk -n -o FSTYPE "$disk")" ]
  [ -z "$(blkid -o value -s TYPE "$disk" || true)" ]
  signatures="$(wipefs --no-act --noheadings "$disk")"
  [ "$(wc -l <<<"$signatures")" -eq 2 ]
  link /dev/sdb "$disk"

  setup_disk --cloud aws
  [ "$status" -eq 3 ]
  [[ "$stderr" == *"blkid cannot tell what is on it (exit 8"* ]]
  setup_disk --cloud aws
  [ "$status" -eq 3 ]

  [ "$(wipefs --no-act --noheadings "$disk")" = "$signatures" ]
}

@test "data without any filesystem signature: refused, not formatted" {
  new_disk disk data 64
  printf 'customer data that no probe recognises\n' | dd of="$disk" bs=1M seek=1 conv=notrunc status=none
  before="$(sha256sum <"$disk")"
  link /dev/sdb "$disk"

  setup_disk --cloud aws
  [ "$status" -eq 3 ]
  [[ "$stderr" == *"first 4 MiB hold data"* ]]
  setup_disk --cloud aws
  [ "$status" -eq 3 ]

  [ "$(sha256sum <"$disk")" = "$before" ]
}

@test "two disks labelled /mnt/data: neither is picked" {
  new_disk a a 64
  new_disk b b 64
  mkfs.ext4 -q -L /mnt/data "$a"
  mkfs.ext4 -q -L /mnt/data "$b"

  detect --cloud gcp
  [ "$status" -eq 5 ]
  [[ "$stderr" == *"several filesystems are labelled /mnt/data"* ]]
  setup_disk --cloud gcp
  [ "$status" -eq 5 ]
}

@test "a blank disk named with --device: XFS on AWS, once" {
  new_disk disk explicit 320
  mkdir -p "$SG_ROOT/etc"
  : >"$SG_ROOT/etc/fstab"

  setup_disk --cloud aws --device "$disk"
  [ "$status" -eq 0 ]
  uuid="$(uuid_of "$disk")"
  [ "$(blkid -p -o value -s TYPE "$disk")" = xfs ]
  setup_disk --cloud aws --device "$disk"
  [ "$status" -eq 0 ]
  [ "$(uuid_of "$disk")" = "$uuid" ]
}
