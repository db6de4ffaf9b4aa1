#!/usr/bin/env bats
# provision/first-boot.sh: the user-data route on a plain OS.

load helpers/common

setup() {
  setup_scratch
  make_tool_fixtures
  make_chart_fixtures 6.12.5040
  os_release Ubuntu ubuntu 24.04
  printf 'UUID=1234 / ext4 defaults 1 1\n' >"$SG_ROOT/etc/fstab"
  lsblk_dev nvme0n1 "" disk
  lsblk_dev nvme0n1p1 nvme0n1 part ext4 cloudimg-rootfs /
  lsblk_dev nvme1n1 "" disk
  sdb_is nvme1n1
}

first_boot() {
  run --separate-stderr "$PROVISION_DIR/first-boot.sh" "$@"
}

@test "provisions without a prewarm and hands over to the boot service" {
  first_boot --version 6.12.5040 --size XS --cloud aws

  [ "$status" -eq 0 ]
  [ "$(cat "$SG_ROOT/home/ubuntu/.sourcegraph-version")" = 6.12.5040 ]
  [ "$(data_version)" = 6.12.5040-base ]
  refute_calls 'upgrade --install'
  assert_call '^systemctl start --no-block sourcegraph-boot.service$'
  refute_calls 'start .*sourcegraph-run-agent'
  [ "$(status_field stage)" = provisioned ]
  [ "$(status_field decision)" = first-boot ]
  [ "$(status_field targetVersion)" = 6.12.5040 ]
}

@test "running it again does nothing" {
  first_boot --version 6.12.5040 --size XS --cloud aws
  before="$(snapshot_root)"
  reset_stub_log

  first_boot --version 6.12.5040 --size XS --cloud aws

  [ "$status" -eq 0 ]
  [ ! -s "$STUB_LOG" ]
  [ "$(snapshot_root)" = "$before" ]
}

@test "a failed provisioning is reported in status.json with the step's error" {
  printf 'x' >>"$STUB_FIXTURES/$K3S_VERSION/k3s"

  first_boot --version 6.12.5040 --size XS --cloud aws

  [ "$status" -eq 4 ]
  [ "$(status_field stage)" = failed ]
  [[ "$(status_field lastError)" == *"SHA256 mismatch"* ]]
  [ "$(status_field errorCode)" = checksum-mismatch ]
  refute_calls 'sourcegraph-boot'
  [ ! -e "$SG_ROOT/var/lib/sourcegraph-launch/first-boot.done" ]
}

@test "bad arguments exit 2" {
  first_boot --version 6.12.5040 --size XS --cloud aws --bogus
  [ "$status" -eq 2 ]
  first_boot --size XS --cloud aws
  [ "$status" -eq 2 ]
}

@test "no identifiable data disk: stopped and reported in status.json, nothing formatted" {
  rm "$SG_ROOT/dev/sdb"

  first_boot --version 6.12.5040 --size XS --cloud aws

  [ "$status" -eq 5 ]
  [ "$(status_field stage)" = failed ]
  [ "$(status_field errorCode)" = data-disk-not-found ]
  [[ "$(status_field lastError)" == *"no data disk found"* ]]
  refute_calls '^mkfs'
}

# --cloud gcp (launch --image-source base on GCE runs exactly this from the user-data metadata):
# Ubuntu's GCE image, root on the boot persistent disk, a local SSD next to the data disk, and the
# data disk found only by the device name the launcher gives it (udev's google-<device name> link).
gce_disks() {
  : >"$STUB_STATE/lsblk"
  rm -f "$SG_ROOT/dev/sdb"
  lsblk_dev sda "" disk "" "" "" PersistentDisk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sda15 sda part vfat UEFI /boot/efi
  lsblk_dev sdb "" disk "" "" "" EphemeralDisk
  lsblk_dev sdc "" disk "" "" "" PersistentDisk
  mkdir -p "$SG_ROOT/dev/disk/by-id"
  ln -s ../../sdb "$SG_ROOT/dev/disk/by-id/google-local-ssd-0"
}

@test "GCE: the disk named sourcegraph-data is formatted (not the local SSD), user sourcegraph made, handed over" {
  gce_disks
  ln -s ../../sdc "$SG_ROOT/dev/disk/by-id/google-sourcegraph-data"

  first_boot --version 6.12.5040 --size S --cloud gcp

  [ "$status" -eq 0 ]
  assert_call '^mkfs.ext4 .*-L /mnt/data /dev/sdc$'
  refute_calls '^mkfs.* /dev/sdb$'
  assert_call '^useradd --create-home --shell /bin/bash --user-group sourcegraph$'
  [ "$(cat "$SG_ROOT/home/sourcegraph/.sourcegraph-version")" = 6.12.5040 ]
  [ "$(cat "$SG_ROOT/home/sourcegraph/.sourcegraph-size")" = S ]
  [ "$(data_version)" = 6.12.5040-base ]
  grep -qxF 'SG_IMAGE_USER=sourcegraph' "$SG_ROOT/etc/sourcegraph-launch/image.env"
  assert_call '^systemctl start --no-block sourcegraph-boot.service$'
  # The run-command agent starts now too (enabled, it starts by itself at later boots).
  assert_call '^systemctl start --no-block sourcegraph-run-agent.service$'
  [ "$(status_field stage)" = provisioned ]
  [ "$(status_field decision)" = first-boot ]
}

@test "GCE: the guest agent made the login user from the ssh-keys metadata first; first boot keeps it" {
  gce_disks
  ln -s ../../sdc "$SG_ROOT/dev/disk/by-id/google-sourcegraph-data"
  printf 'sourcegraph:x:1000:1001::/home/sourcegraph:/bin/bash\n' >>"$SG_ROOT/etc/passwd"

  first_boot --version 6.12.5040 --size S --cloud gcp

  [ "$status" -eq 0 ]
  refute_calls '^useradd'
  [ "$(cat "$SG_ROOT/home/sourcegraph/.sourcegraph-version")" = 6.12.5040 ]
}

@test "GCE: the guest agent makes the login user while first boot does (useradd: already exists); first boot goes on" {
  gce_disks
  ln -s ../../sdc "$SG_ROOT/dev/disk/by-id/google-sourcegraph-data"
  touch "$STUB_STATE/useradd.race"

  first_boot --version 6.12.5040 --size S --cloud gcp

  [ "$status" -eq 0 ]
  assert_call '^useradd --create-home --shell /bin/bash --user-group sourcegraph$'
  [ "$(cat "$SG_ROOT/home/sourcegraph/.sourcegraph-version")" = 6.12.5040 ]
  [ "$(status_field stage)" = provisioned ]
}

@test "GCE: no disk named sourcegraph-data (only the local SSD and an unnamed disk): stopped, reported, nothing formatted" {
  gce_disks
  ln -s ../../sdc "$SG_ROOT/dev/disk/by-id/google-persistent-disk-1"

  first_boot --version 6.12.5040 --size S --cloud gcp

  [ "$status" -eq 5 ]
  [ "$(status_field stage)" = failed ]
  [ "$(status_field errorCode)" = data-disk-not-found ]
  [[ "$(status_field lastError)" == *"device name sourcegraph-data"* ]]
  refute_calls '^mkfs'
  refute_calls 'sourcegraph-boot'
}
