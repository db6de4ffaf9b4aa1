#!/usr/bin/env bats
# provision/build.sh end to end on a scratch root: every step with stubbed system commands.

load helpers/common

setup() {
  setup_scratch
  make_tool_fixtures
  mkdir -p "$SG_ROOT/etc"
  printf 'UUID=1234 / xfs defaults 1 1\n' >"$SG_ROOT/etc/fstab"
}

build() {
  run --separate-stderr "$PROVISION_DIR/build.sh" "$@"
}

@test "Amazon Linux on AWS: a complete image with the published layout" {
  os_release "Amazon Linux" amzn 2023
  disks_aws_nitro

  build --version 6.12.5040 --size M --cloud aws

  [ "$status" -eq 0 ]
  assert_call '^mkfs.xfs -L /mnt/data /dev/nvme1n1$'
  [ "$(cat "$SG_ROOT/home/ec2-user/.sourcegraph-version")" = 6.12.5040 ]
  [ "$(cat "$SG_ROOT/home/ec2-user/.sourcegraph-size")" = M ]
  [ "$(data_version)" = 6.12.5040-base ]
  grep -qxF 'SG_IMAGE_USER=ec2-user' "$SG_ROOT/etc/sourcegraph-launch/image.env"
  grep -qxF 'SG_IMAGE_SIZE=M' "$SG_ROOT/etc/sourcegraph-launch/image.env"
  for size in XS S M L XL; do
    cmp "$PRESETS_DIR/$size.yaml" "$SG_ROOT/var/lib/sourcegraph-launch/values/$size.yaml"
  done
  for script in lib.sh boot.sh detect-data-disk.sh; do
    [ -x "$SG_ROOT/opt/sourcegraph-launch/provision/$script" ]
  done
  [ -f "$SG_ROOT/opt/sourcegraph-launch/provision/manifests/ingress.yaml" ]
  [ -f "$SG_ROOT/opt/sourcegraph-launch/provision/versions.env" ]
  cmp "$PROVISION_DIR/sourcegraph-boot.service" "$SG_ROOT/etc/systemd/system/sourcegraph-boot.service"
  [ -f "$STUB_STATE/units/sourcegraph-boot.enabled" ]
  [ -f "$SG_ROOT/var/lib/sourcegraph-launch/charts/sourcegraph-6.12.5040.tgz" ]
  grep -qxF 'fs.inotify.max_user_watches=128000' "$SG_ROOT/etc/sysctl.d/90-sourcegraph.conf"
  [ -x "$SG_ROOT/usr/local/bin/k3s" ] && [ -x "$SG_ROOT/usr/local/bin/helm" ]
}

@test "the prewarm installs once, then k3s is left stopped and disabled, the data at <v>-base" {
  os_release "Amazon Linux" amzn 2023
  disks_aws_nitro

  build --version 6.12.5040 --size XS --cloud aws

  [ "$status" -eq 0 ]
  [ "$(grep -cE 'upgrade --install sourcegraph ' "$STUB_LOG")" -eq 1 ]
  [ "$(last_call_line '^systemctl stop k3s$')" -gt "$(call_line 'upgrade --install sourcegraph ')" ]
  [ "$(cat "$STUB_STATE/units/k3s.active")" = inactive ]
  [ ! -f "$STUB_STATE/units/k3s.enabled" ]
  [ "$(data_version)" = 6.12.5040-base ]
  [ "$(root_version)" = 6.12.5040 ]
  # The build's own status must not look like a finished boot of the image.
  [ ! -e "$SG_ROOT/var/lib/sourcegraph-launch/status.json" ]
}

@test "a second build changes nothing: no format, download, pull, install or service change" {
  os_release "Amazon Linux" amzn 2023
  disks_aws_nitro
  build --version 6.12.5040 --size XS --cloud aws
  [ "$status" -eq 0 ]
  before="$(snapshot_root)"
  reset_stub_log

  build --version 6.12.5040 --size XS --cloud aws

  [ "$status" -eq 0 ]
  refute_calls '^(mkfs|mount |curl|helm|kubectl|sysctl)'
  refute_calls '^systemctl (start|stop|restart|enable|disable|daemon-reload)'
  [ "$(snapshot_root)" = "$before" ]
}

@test "Ubuntu on GCE: ext4 and the sourcegraph user's home, as GCE images had" {
  os_release Ubuntu ubuntu 24.04
  lsblk_dev sda "" disk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdb "" disk

  build --version 6.12.5040 --size S --cloud gcp --no-prewarm

  [ "$status" -eq 0 ]
  assert_call '^mkfs.ext4 .*-L /mnt/data /dev/sdb$'
  [ "$(cat "$SG_ROOT/home/sourcegraph/.sourcegraph-version")" = 6.12.5040 ]
  refute_calls 'upgrade --install'
}

@test "Ubuntu on Azure with an explicit user" {
  os_release Ubuntu ubuntu 24.04
  lsblk_dev sda "" disk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdc "" disk
  mkdir -p "$SG_ROOT/dev/disk/azure/scsi1"
  ln -s ../../../sdc "$SG_ROOT/dev/disk/azure/scsi1/lun0"

  build --version 6.12.5040 --size L --cloud azure --user sgadmin --no-prewarm

  [ "$status" -eq 0 ]
  assert_call '^mkfs.ext4 .* /dev/sdc$'
  [ "$(cat "$SG_ROOT/home/sgadmin/.sourcegraph-version")" = 6.12.5040 ]
  grep -qxF 'SG_IMAGE_USER=sgadmin' "$SG_ROOT/etc/sourcegraph-launch/image.env"
}

@test "an existing data disk keeps its version file" {
  os_release "Amazon Linux" amzn 2023
  disks_aws_nitro
  fs_on nvme1n1 xfs /mnt/data
  mkdir -p "$SG_ROOT/mnt/data"
  printf '6.11.6000\n' >"$SG_ROOT/mnt/data/.sourcegraph-version"

  build --version 6.12.5040 --size XS --cloud aws --no-prewarm

  [ "$status" -eq 0 ]
  refute_calls '^mkfs'
  [ "$(data_version)" = 6.11.6000 ]
}

@test "a failing step stops the build with its exit code" {
  os_release "Amazon Linux" amzn 2023
  disks_aws_nitro
  printf 'x' >>"$STUB_FIXTURES/k3s"

  build --version 6.12.5040 --size XS --cloud aws

  [ "$status" -eq 4 ]
  [ ! -e "$SG_ROOT/home/ec2-user/.sourcegraph-version" ]
  [ ! -e "$SG_ROOT/etc/systemd/system/sourcegraph-boot.service" ]
}

@test "bad arguments exit 2 before touching anything" {
  build --version 6.12 --size XS --cloud aws
  [ "$status" -eq 2 ]
  build --version 6.12.5040 --size XXL --cloud aws
  [ "$status" -eq 2 ]
  build --version 6.12.5040 --size XS --cloud oracle
  [ "$status" -eq 2 ]
  build --version 6.12.5040 --size XS --cloud aws --user 'root;rm'
  [ "$status" -eq 2 ]
  [ ! -s "$STUB_LOG" ]
}
