# shellcheck shell=bash
# The systemd tier: a Debian bookworm rootfs (debootstrap, cached by rootfs.sh) with the appliance's
# scripts and units installed as build.sh installs them, booted with systemd 252 as PID 1 in PID,
# mount, cgroup, UTS, IPC and network namespaces of its own. The data disk is a loop device this
# test attached, mounted on /mnt/data. k3s, kubectl and helm are stand-ins (fake-k3s is a real
# Type=notify service); everything else, systemd, the units, k3s-prestart.sh and boot.sh, is real.

# shellcheck source=test/provision/helpers/common.bash
source "$BATS_TEST_DIRNAME/../provision/helpers/common.bash"

SYSTEMD_DIR="$BATS_TEST_DIRNAME"

require_systemd_tools() {
  local tool missing=()
  [[ "$(id -u)" == 0 ]] || missing+=("root")
  for tool in unshare nsenter losetup mkfs.ext4 mount chroot tar; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    printf 'the systemd tier needs: %s\n' "${missing[*]}" >&2
    return 1
  fi
}

# Masked in the container: units that would reach the host kernel (sysctls, modules, binfmt) or
# its terminals. The tier only needs systemd's service management.
MASKED_UNITS=(systemd-sysctl.service systemd-modules-load.service systemd-binfmt.service
  proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount getty.target console-getty.service
  systemd-firstboot.service systemd-timesyncd.service)

install_fake() {
  local source="$1" target="$2" version="${3:-}"
  mkdir -p "$(dirname "$target")"
  sed "s/@VERSION@/$version/" "$SYSTEMD_DIR/$source" >"$target"
  chmod 0755 "$target"
}

# Unpacks the rootfs into ROOT and installs what build.sh installs for IMAGE_VERSION: the scripts,
# values, charts, image.env and version file, k3s's config and unit (written by install-k3s.sh
# itself), the boot unit, enabled, and the fstab lines of setup-data-disk.sh.
make_machine() {
  local root="$1" image_version="$2" tarball unit version
  tarball="$(bash "$SYSTEMD_DIR/rootfs.sh")"
  mkdir -p "$root"
  tar -xzf "$tarball" -C "$root"
  for unit in "${MASKED_UNITS[@]}"; do
    ln -sfn /dev/null "$root/etc/systemd/system/$unit"
  done
  mkdir -p "$root/opt/sourcegraph-launch"
  cp -r "$PROVISION_DIR" "$root/opt/sourcegraph-launch/provision"
  # The stand-ins, at the versions versions.env pins: install-k3s.sh finds them installed already.
  install_fake fake-k3s "$root/usr/local/bin/k3s" "$K3S_VERSION"
  for version in $K3S_WALK_VERSIONS; do
    install_fake fake-k3s "$root/var/lib/sourcegraph-launch/k3s/$version/k3s" "$version"
  done
  install_fake fake-kubectl "$root/usr/local/bin/kubectl"
  install_fake fake-helm "$root/usr/local/bin/helm"
  (
    export SG_ROOT="$root" STUB_STATE="$BATS_FILE_TMPDIR/stub" STUB_LOG="$BATS_FILE_TMPDIR/stub/calls.log"
    mkdir -p "$STUB_STATE/units"
    PATH="$HELPERS_DIR:$PATH" "$PROVISION_DIR/install-k3s.sh" >/dev/null 2>&1
  )
  grep -qxF 'ExecStartPre=/opt/sourcegraph-launch/provision/k3s-prestart.sh' "$root/etc/systemd/system/k3s.service"
  install -m 0644 "$PROVISION_DIR/sourcegraph-boot.service" "$root/etc/systemd/system/sourcegraph-boot.service"
  mkdir -p "$root/etc/systemd/system/multi-user.target.wants" "$root/etc/systemd/system/sourcegraph-boot.service.d"
  ln -sfn ../sourcegraph-boot.service "$root/etc/systemd/system/multi-user.target.wants/sourcegraph-boot.service"
  # Test only: shorter polls and no 60 s recycle pause, so that a boot takes seconds.
  printf '[Service]\nEnvironment=SG_POLL_INTERVAL=1 SG_K3S_SETTLE_TIMEOUT=10 SG_RECYCLE_DELAY=0 SG_K3S_READY_TIMEOUT=30 SG_DATA_DISK_WAIT=10\n' \
    >"$root/etc/systemd/system/sourcegraph-boot.service.d/test.conf"
  mkdir -p "$root/etc/sourcegraph-launch" "$root/home/sourcegraph" "$root/var/lib/sourcegraph-launch/values" \
    "$root/var/lib/sourcegraph-launch/charts" "$root/var/lib/rancher/k3s/server" "$root/var/lib/kubelet" "$root/mnt/data"
  printf 'SG_IMAGE_VERSION=%s\nSG_IMAGE_SIZE=XS\nSG_IMAGE_CLOUD=gcp\nSG_IMAGE_USER=sourcegraph\n' "$image_version" >"$root/etc/sourcegraph-launch/image.env"
  printf '%s\n' "$image_version" >"$root/home/sourcegraph/.sourcegraph-version"
  cp "$PRESETS_DIR/common.yaml" "$root/var/lib/sourcegraph-launch/values/common.yaml"
  cp "$PRESETS_DIR/XS.yaml" "$root/var/lib/sourcegraph-launch/values/XS.yaml"
  printf 'chart\n' >"$root/var/lib/sourcegraph-launch/charts/sourcegraph-$image_version.tgz"
  ln -sfn /mnt/data/db "$root/var/lib/rancher/k3s/server/db"
  ln -sfn /mnt/data/storage "$root/var/lib/rancher/k3s/storage"
  printf 'LABEL=/mnt/data /mnt/data ext4 defaults,nofail 0 2\n/mnt/data/kubelet /var/lib/kubelet none bind,nofail,x-systemd.requires-mounts-for=/mnt/data 0 0\n' >"$root/etc/fstab"
}

# new_data_disk VAR NAME: an ext4 loop device labelled /mnt/data; its path goes into VAR and into
# the file of devices teardown detaches.
new_data_disk() {
  local -n out="$1"
  local file="$BATS_FILE_TMPDIR/$2.img" device
  truncate -s 64M "$file"
  device="$(losetup -f --show "$file")"
  printf '%s\n' "$device" >>"$BATS_FILE_TMPDIR/loops"
  [[ "$device" =~ ^/dev/loop[0-9]+$ ]]
  mkfs.ext4 -q -m 0 -L /mnt/data "$device"
  # shellcheck disable=SC2034  # a nameref to the caller's variable
  out="$device"
}

# fill_disk DEVICE SCRIPT: runs SCRIPT with the disk mounted at $MNT, in a throwaway mount namespace.
fill_disk() {
  local mnt="$BATS_FILE_TMPDIR/fill"
  mkdir -p "$mnt"
  unshare --mount --propagation private sh -c "mount '$1' '$mnt' && MNT='$mnt' && $2"
}

# boot_machine ROOT DEVICE: boots systemd on ROOT with DEVICE as the data disk and waits until the
# boot unit has finished (active or failed). Sets MACHINE_PID (systemd, PID 1 inside).
boot_machine() {
  local root="$1" device="$2" cgroup_root cg i state
  cgroup_root="$(findmnt -rn -t cgroup2 -o TARGET | head -n 1)"
  [[ -n "$cgroup_root" ]]
  # A cgroup subtree of its own, so that this systemd manages only its own processes.
  cg="$cgroup_root/sourcegraph-launch-test.$$.$RANDOM"
  mkdir "$cg"
  printf '%s\n' "$cg" >"$BATS_FILE_TMPDIR/cgroup"
  (
    printf '%s\n' "$BASHPID" >"$cg/cgroup.procs"
    exec unshare --cgroup --fork --pid --mount --uts --ipc --net "$SYSTEMD_DIR/container.sh" "$root" "$device"
  ) >"$BATS_FILE_TMPDIR/console.log" 2>&1 &
  UNSHARE_PID=$!
  for ((i = 0; i < 100; i++)); do
    MACHINE_PID="$(awk '{ print $1 }' "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null || true)"
    [[ -n "$MACHINE_PID" && "$(cat "/proc/$MACHINE_PID/comm" 2>/dev/null)" == systemd ]] && break
    sleep 0.1
  done
  [[ "$(cat "/proc/$MACHINE_PID/comm" 2>/dev/null)" == systemd ]] || { cat "$BATS_FILE_TMPDIR/console.log" >&2; return 1; }
  export MACHINE_PID UNSHARE_PID
  for ((i = 0; i < 600; i++)); do
    state="$(machine systemctl is-active sourcegraph-boot.service 2>/dev/null || true)"
    [[ "$state" == active || "$state" == failed ]] && return 0
    sleep 0.1
  done
  echo "the boot unit did not finish: $state" >&2
  machine journalctl -b --no-pager 2>/dev/null | tail -n 40 >&2
  return 1
}

machine() {
  nsenter -t "$MACHINE_PID" -a -r -w "$@"
}

# Powers the machine off (systemd's own shutdown), or kills it if it does not go.
shutdown_machine() {
  local i cg
  [[ -n "${UNSHARE_PID:-}" ]] || return 0
  machine systemctl poweroff >/dev/null 2>&1 || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$UNSHARE_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$UNSHARE_PID" 2>/dev/null; then
    kill -KILL "$MACHINE_PID" 2>/dev/null || true
    wait "$UNSHARE_PID" 2>/dev/null || true
  fi
  UNSHARE_PID=""
  cg="$(cat "$BATS_FILE_TMPDIR/cgroup" 2>/dev/null || true)"
  if [[ -n "$cg" && -d "$cg" ]]; then
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  fi
}

detach_disks() {
  local loop
  [[ -f "$BATS_FILE_TMPDIR/loops" ]] || return 0
  while read -r loop; do
    [[ "$(losetup -n -O BACK-FILE "$loop" 2>/dev/null)" == "$BATS_FILE_TMPDIR/"* ]] || continue
    losetup -d "$loop" 2>/dev/null || true
  done <"$BATS_FILE_TMPDIR/loops"
}

unit_time() {
  machine systemctl show -P "$2" "$1"
}

machine_status() {
  "$PYTHON" -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if v is None else v)' \
    "$MACHINE_ROOT/var/lib/sourcegraph-launch/status.json" "$1"
}
