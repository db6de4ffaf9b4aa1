#!/usr/bin/env bats
# grow-data-disk.sh on real loop devices this test attached itself, in a private mount namespace:
# an XFS and an ext4 data disk are made larger underneath their mounted filesystem (the backing
# file grows, `losetup -c` tells the kernel), and the script grows the filesystem to fill it — the
# same thing a cloud's volume modification followed by the boot service (or `disk grow`) does.

load disks

setup() {
  setup_disks
}

teardown() {
  teardown_disks
}

grow() {
  run --separate-stderr in_ns "$PROVISION_DIR/grow-data-disk.sh" "$@"
}

# json_field NAME: the field of the JSON object the last run printed.
json_field() {
  "$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$output" "$1"
}

# mount_data DEVICE: mounts it on the scratch root's /mnt/data inside the namespace.
mount_data() {
  mkdir -p "$SG_ROOT/mnt/data"
  in_ns mount "$1" "$SG_ROOT/mnt/data"
  in_ns sh -c "printf 'keep me\n' >'$SG_ROOT/mnt/data/marker'"
}

# enlarge NAME DEVICE SIZE_MB: the disk grows underneath the filesystem, as after a cloud resize.
enlarge() {
  truncate -s "${3}M" "$BATS_TEST_TMPDIR/$1.img"
  losetup -c "$2"
  [ "$(blockdev --getsize64 "$2")" -eq $(($3 * 1024 * 1024)) ]
}

@test "xfs: a disk made larger is filled by the filesystem; a second run changes nothing" {
  new_disk disk data 320
  mkfs.xfs -q -L /mnt/data "$disk"
  mount_data "$disk"

  grow
  [ "$status" -eq 0 ]
  [ "$(json_field filesystem)" = xfs ]
  [ "$(json_field grown)" = False ]
  before="$(json_field sizeBytes)"

  enlarge data "$disk" 640
  grow
  [ "$status" -eq 0 ]
  [ "$(json_field grown)" = True ]
  after="$(json_field sizeBytes)"
  [ "$after" -gt $((before + 250 * 1024 * 1024)) ]
  [ "$(json_field deviceBytes)" -eq $((640 * 1024 * 1024)) ]
  [[ "$stderr" == *"grew the xfs filesystem on $disk"* ]]
  in_ns grep -q 'keep me' "$SG_ROOT/mnt/data/marker"

  grow
  [ "$status" -eq 0 ]
  [ "$(json_field grown)" = False ]
  [ "$(json_field sizeBytes)" -eq "$after" ]
}

# The kernel resizes a mounted ext4 only for a process with CAP_SYS_RESOURCE (a real instance's
# root has it; some CI containers drop it).
has_cap_sys_resource() {
  local eff
  eff="$(awk '/^CapEff:/ {print $2}' /proc/self/status)"
  (((16#$eff >> 24) & 1))
}

@test "ext4: grown online with resize2fs, usage reported in bytes and percent (without CAP_SYS_RESOURCE: the refusal is reported, data intact)" {
  new_disk disk data 64
  # 4 KiB blocks as on a real data disk (mkfs picks 1 KiB for one this small).
  mkfs.ext4 -q -b 4096 -L /mnt/data "$disk"
  mount_data "$disk"
  in_ns dd if=/dev/zero of="$SG_ROOT/mnt/data/fill" bs=1M count=20 status=none

  grow
  [ "$status" -eq 0 ]
  [ "$(json_field filesystem)" = ext4 ]
  before="$(json_field sizeBytes)"
  percent_before="$(json_field usedPercent)"
  [ "$percent_before" -ge 30 ]

  enlarge data "$disk" 256
  grow
  if has_cap_sys_resource; then
    [ "$status" -eq 0 ]
    [ "$(json_field grown)" = True ]
    [ "$(json_field sizeBytes)" -gt $((before * 3)) ]
    [ "$(json_field usedPercent)" -lt "$percent_before" ]
    [ "$(json_field usedBytes)" -ge $((20 * 1024 * 1024)) ]
  else
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"resize2fs failed on $disk"* ]]
    grow --no-grow
    [ "$(json_field sizeBytes)" -eq "$before" ]
  fi
  in_ns grep -q 'keep me' "$SG_ROOT/mnt/data/marker"
}

@test "--no-grow only reports: the filesystem keeps its size on a larger disk" {
  new_disk disk data 64
  mkfs.ext4 -q -L /mnt/data "$disk"
  mount_data "$disk"
  grow --no-grow
  before="$(json_field sizeBytes)"
  enlarge data "$disk" 128

  grow --no-grow
  [ "$status" -eq 0 ]
  [ "$(json_field sizeBytes)" -eq "$before" ]
  [ "$(json_field grown)" = False ]
}

@test "nothing mounted on /mnt/data: exit 5, nothing done" {
  new_disk disk data 64
  mkfs.ext4 -q -L /mnt/data "$disk"
  mkdir -p "$SG_ROOT/mnt/data"

  grow
  [ "$status" -eq 5 ]
  [[ "$stderr" == *"/mnt/data is not mounted"* ]]
  [ -z "$output" ]
}

boot() {
  run --separate-stderr in_ns "$PROVISION_DIR/boot.sh"
}

# data_disk_field NAME: the field of status.json's dataDisk.
data_disk_field() {
  "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["dataDisk"][sys.argv[2]])' "$SG_ROOT/var/lib/sourcegraph-launch/status.json" "$1"
}

@test "boot.sh grows a data disk the cloud made larger before deciding, and records its usage in status.json" {
  new_disk disk published 320
  make_published_disk "$disk" 6.11.6000
  mkdir -p "$SG_ROOT/etc"
  : >"$SG_ROOT/etc/fstab"
  root_image 6.12.5040
  run --separate-stderr in_ns "$PROVISION_DIR/setup-data-disk.sh" --cloud aws
  [ "$status" -eq 0 ]
  k3s_state inactive
  boot
  [ "$status" -eq 0 ]
  before="$(data_disk_field sizeBytes)"
  [ "$(data_disk_field filesystem)" = xfs ]

  enlarge published "$disk" 640
  boot
  [ "$status" -eq 0 ]
  [ "$(boot_status decision)" = unchanged ]
  [ "$(data_disk_field sizeBytes)" -gt $((before + 250 * 1024 * 1024)) ]
  [ "$(data_disk_field deviceBytes)" -eq $((640 * 1024 * 1024)) ]
  [ "$(data_disk_field usedPercent)" -ge 0 ]
  grep -q "grew the xfs filesystem on $disk" "$SG_ROOT/var/log/sourcegraph-launch/boot.log"
}
