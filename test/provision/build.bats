#!/usr/bin/env bats
# provision/build.sh end to end on a scratch root: every step with stubbed system commands.

load helpers/common

setup() {
  setup_scratch
  make_tool_fixtures
  make_chart_fixtures 6.12.5040
  mkdir -p "$SG_ROOT/etc"
  printf 'UUID=1234 / xfs defaults 1 1\n' >"$SG_ROOT/etc/fstab"
  printf 'root:x:0:0::/root:/bin/bash\nec2-user:x:1000:1000::/home/ec2-user:/bin/bash\n' >"$SG_ROOT/etc/passwd"
}

build() {
  run --separate-stderr "$PROVISION_DIR/build.sh" "$@"
}

@test "Amazon Linux on AWS: a complete image with the published layout" {
  os_release "Amazon Linux" amzn 2023
  disks_aws_nitro
  sdb_is nvme1n1

  build --version 6.12.5040 --size M --cloud aws

  [ "$status" -eq 0 ]
  assert_call '^mkfs.xfs -q -L /mnt/data /dev/nvme1n1$'
  [ "$(cat "$SG_ROOT/home/ec2-user/.sourcegraph-version")" = 6.12.5040 ]
  [ "$(cat "$SG_ROOT/home/ec2-user/.sourcegraph-size")" = M ]
  [ "$(data_version)" = 6.12.5040-base ]
  grep -qxF 'SG_IMAGE_USER=ec2-user' "$SG_ROOT/etc/sourcegraph-launch/image.env"
  grep -qxF 'SG_IMAGE_SIZE=M' "$SG_ROOT/etc/sourcegraph-launch/image.env"
  for size in XS S M L XL; do
    cmp "$PRESETS_DIR/$size.yaml" "$SG_ROOT/var/lib/sourcegraph-launch/values/$size.yaml"
  done
  cmp "$PRESETS_DIR/common.yaml" "$SG_ROOT/var/lib/sourcegraph-launch/values/common.yaml"
  for script in lib.sh boot.sh detect-data-disk.sh k3s-prestart.sh k3s-stop-all.sh seal-image.sh; do
    [ -x "$SG_ROOT/opt/sourcegraph-launch/provision/$script" ]
  done
  for manifest in ingress.yaml prometheus-override.yaml; do
    cmp "$PROVISION_DIR/manifests/$manifest" "$SG_ROOT/opt/sourcegraph-launch/provision/manifests/$manifest"
  done
  [ -f "$SG_ROOT/opt/sourcegraph-launch/provision/versions.env" ]
  cmp "$PROVISION_DIR/sourcegraph-boot.service" "$SG_ROOT/etc/systemd/system/sourcegraph-boot.service"
  [ -f "$STUB_STATE/units/sourcegraph-boot.enabled" ]
  # AWS brings Systems Manager: the GCE run agent is shipped but not enabled.
  [ ! -e "$SG_ROOT/etc/systemd/system/sourcegraph-run-agent.service" ]
  [ ! -e "$STUB_STATE/units/sourcegraph-run-agent.enabled" ]
  [ -f "$SG_ROOT/var/lib/sourcegraph-launch/charts/sourcegraph-6.12.5040.tgz" ]
  grep -qxF 'fs.inotify.max_user_watches=128000' "$SG_ROOT/etc/sysctl.d/90-sourcegraph.conf"
  [ -x "$SG_ROOT/usr/local/bin/k3s" ] && [ -x "$SG_ROOT/usr/local/bin/helm" ]
  for version in $K3S_WALK_VERSIONS; do
    [ -x "$SG_ROOT/var/lib/sourcegraph-launch/k3s/$version/k3s" ]
  done
  # ec2-user exists on the builder: not created again.
  refute_calls '^useradd'
}

@test "the prewarm pulls every image of the charts and installs nothing; k3s is left stopped and disabled" {
  os_release "Amazon Linux" amzn 2023
  disks_aws_nitro
  sdb_is nvme1n1

  build --version 6.12.5040 --size XS --cloud aws

  [ "$status" -eq 0 ]
  refute_calls 'upgrade --install'
  assert_call '^systemctl start k3s$'
  assert_call "^helm template sourcegraph $SG_ROOT/var/lib/sourcegraph-launch/charts/sourcegraph-6.12.5040.tgz -f $SG_ROOT/var/lib/sourcegraph-launch/values/common.yaml -f $SG_ROOT/var/lib/sourcegraph-launch/values/XS.yaml\$"
  assert_call "^helm template sourcegraph .*/sourcegraph-executor-k8s-6.12.5040.tgz "
  # Each image once, though the charts name some twice.
  assert_call "^k3s-${K3S_VERSION//+/\\+} crictl pull index.docker.io/sourcegraph/frontend:sourcegraph-6.12.5040.tgz\$"
  [ "$(grep -c "crictl pull index.docker.io/sourcegraph/migrator:x\$" "$STUB_LOG")" -eq 1 ]
  [ "$(grep -c "crictl pull index.docker.io/sourcegraph/gitserver:x\$" "$STUB_LOG")" -eq 1 ]
  [ "$(last_call_line '^systemctl stop k3s$')" -gt "$(last_call_line 'crictl pull')" ]
  [ "$(cat "$STUB_STATE/units/k3s.active")" = inactive ]
  [ ! -f "$STUB_STATE/units/k3s.enabled" ]
  [ "$(data_version)" = 6.12.5040-base ]
  [ "$(root_version)" = 6.12.5040 ]
  # Nothing of a deployment is made at build time: no executor token, no saved values.
  [ ! -e "$SG_ROOT/mnt/data/.sourcegraph-launch/executor-values.yaml" ]
  [ ! -e "$SG_ROOT/mnt/data/.sourcegraph-launch/inherited-values.yaml" ]
  [ ! -e "$SG_ROOT/var/lib/sourcegraph-launch/status.json" ]
}

@test "a second build changes nothing: no format, download, pull, install or service change" {
  os_release "Amazon Linux" amzn 2023
  disks_aws_nitro
  sdb_is nvme1n1
  build --version 6.12.5040 --size XS --cloud aws
  [ "$status" -eq 0 ]
  before="$(snapshot_root)"
  reset_stub_log

  build --version 6.12.5040 --size XS --cloud aws

  [ "$status" -eq 0 ]
  refute_calls '^(mkfs|mount |curl|helm|kubectl|sysctl|useradd|apt-get|dnf)'
  refute_calls 'crictl'
  refute_calls '^systemctl (start|stop|restart|enable|disable|daemon-reload)'
  [ "$(snapshot_root)" = "$before" ]
}

@test "Ubuntu on GCE: ext4 on the disk named sourcegraph-data, the sourcegraph user created with its home" {
  os_release Ubuntu ubuntu 24.04
  lsblk_dev sda "" disk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdb "" disk
  mkdir -p "$SG_ROOT/dev/disk/by-id"
  ln -s ../../sdb "$SG_ROOT/dev/disk/by-id/google-sourcegraph-data"

  build --version 6.12.5040 --size S --cloud gcp --no-prewarm

  [ "$status" -eq 0 ]
  assert_call '^mkfs.ext4 .*-L /mnt/data /dev/sdb$'
  assert_call '^useradd --create-home --shell /bin/bash --user-group sourcegraph$'
  [ "$(cat "$SG_ROOT/home/sourcegraph/.sourcegraph-version")" = 6.12.5040 ]
  grep -qxF 'SG_IMAGE_USER=sourcegraph' "$SG_ROOT/etc/sourcegraph-launch/image.env"
  refute_calls 'upgrade --install'
  refute_calls 'crictl'
  # The run-command agent (GCE has no run-command API): installed, its unit enabled.
  [ -x "$SG_ROOT/opt/sourcegraph-launch/provision/gce-run-agent.sh" ]
  cmp "$PROVISION_DIR/sourcegraph-run-agent.service" "$SG_ROOT/etc/systemd/system/sourcegraph-run-agent.service"
  [ -f "$STUB_STATE/units/sourcegraph-run-agent.enabled" ]
}

@test "Ubuntu on Azure: LUN 0, ext4, user sourcegraph by default" {
  os_release Ubuntu ubuntu 24.04
  lsblk_dev sda "" disk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdb "" disk "" "" "" "Virtual Disk"
  lsblk_dev sdb1 sdb part ext4 "" /mnt
  lsblk_dev sdc "" disk
  mkdir -p "$SG_ROOT/dev/disk/azure/scsi1"
  ln -s ../../sdb "$SG_ROOT/dev/disk/azure/resource"
  ln -s ../../../sdc "$SG_ROOT/dev/disk/azure/scsi1/lun0"

  build --version 6.12.5040 --size L --cloud azure --no-prewarm

  [ "$status" -eq 0 ]
  assert_call '^mkfs.ext4 .* /dev/sdc$'
  refute_calls 'mkfs.* /dev/sdb'
  [ "$(cat "$SG_ROOT/home/sourcegraph/.sourcegraph-version")" = 6.12.5040 ]
}

@test "an explicit --user is used as given" {
  os_release Ubuntu ubuntu 24.04
  lsblk_dev sda "" disk
  lsblk_dev sda1 sda part ext4 cloudimg-rootfs /
  lsblk_dev sdc "" disk
  mkdir -p "$SG_ROOT/dev/disk/azure/scsi1"
  ln -s ../../../sdc "$SG_ROOT/dev/disk/azure/scsi1/lun0"

  build --version 6.12.5040 --size L --cloud azure --user sgadmin --no-prewarm

  [ "$status" -eq 0 ]
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

@test "no identifiable data disk stops the build before anything is installed" {
  os_release "Amazon Linux" amzn 2023
  disks_aws_nitro

  build --version 6.12.5040 --size XS --cloud aws

  [ "$status" -eq 5 ]
  refute_calls '^(mkfs|curl)'
  [ ! -e "$SG_ROOT/usr/local/bin/k3s" ]
}

@test "a failing step stops the build with its exit code" {
  os_release "Amazon Linux" amzn 2023
  disks_aws_nitro
  sdb_is nvme1n1
  printf 'x' >>"$STUB_FIXTURES/$K3S_VERSION/k3s"

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
  # Presets without the values every size shares: the stateful services would not be pinned.
  mkdir -p "$BATS_TEST_TMPDIR/presets"
  cp "$PRESETS_DIR/XS.yaml" "$BATS_TEST_TMPDIR/presets/"
  build --version 6.12.5040 --size XS --cloud aws --presets "$BATS_TEST_TMPDIR/presets"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"no common.yaml"* ]]
  [ ! -s "$STUB_LOG" ]
}
