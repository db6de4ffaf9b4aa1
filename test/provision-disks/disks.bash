# shellcheck shell=bash
# Shared setup for the real-disk tier: loop devices this test attached itself, real losetup,
# mkfs.xfs/mkfs.ext4, blkid, lsblk, wipefs and mount, and the provision scripts run in a private
# mount namespace held open for the test. systemctl, kubectl, helm and k3s stay stand-ins: there
# is no cluster here, only disks.
#
# The scripts only ever see the test's own loop devices: every run goes through `in_ns`, which
# refuses to run unless SG_DISK_CANDIDATES lists exactly the loop devices this test attached.

# shellcheck source=test/provision/helpers/common.bash
source "$BATS_TEST_DIRNAME/../provision/helpers/common.bash"

# A missing component fails the tier; it is never skipped.
require_disk_tools() {
  local tool missing=()
  [[ "$(id -u)" == 0 ]] || missing+=("root (loop devices and mounts)")
  for tool in losetup mkfs.xfs mkfs.ext4 blkid lsblk wipefs sfdisk mount umount unshare nsenter; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    printf 'the real-disk tier needs: %s (apt-get install -y xfsprogs e2fsprogs fdisk util-linux)\n' "${missing[*]}" >&2
    return 1
  fi
}

setup_disks() {
  require_disk_tools
  setup_scratch
  # Real disk tools: drop the stand-ins.
  local stub
  for stub in blkid lsblk mkfs.xfs mkfs.ext4 mount mountpoint wipefs dd umount; do
    rm -f "$BATS_TEST_TMPDIR/bin/$stub"
  done
  LOOPS=()
  export SG_DISK_CANDIDATES=""
  # A mount namespace of our own, kept open by a sleeper, entered by every script run.
  # The real sleep: the stand-in on PATH returns at once.
  unshare --mount --propagation private "$(PATH=/usr/bin:/bin command -v sleep)" infinity &
  NS_PID=$!
  local i
  for ((i = 0; i < 50; i++)); do
    [[ "$(readlink "/proc/$NS_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]] && break
    sleep 0.05
  done
  [[ "$(readlink "/proc/$NS_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]]
}

teardown_disks() {
  if [[ -n "${NS_PID:-}" ]]; then
    kill "$NS_PID" 2>/dev/null || true
    wait "$NS_PID" 2>/dev/null || true
  fi
  local loop
  for loop in "${LOOPS[@]}"; do
    # Only a device backed by this test's own file: never someone else's loop device.
    [[ "$(losetup -n -O BACK-FILE "$loop" 2>/dev/null)" == "$BATS_TEST_TMPDIR/"* ]] || continue
    losetup -d "$loop" 2>/dev/null || true
  done
}

# new_disk VAR NAME SIZE_MB [-P]: a sparse file attached as a loop device, whose path is put in
# VAR and added to the candidates. (Not a command substitution: the list must outlive it, so that
# teardown detaches every device.)
new_disk() {
  local -n out="$1"
  local file="$BATS_TEST_TMPDIR/$2.img" device
  truncate -s "${3}M" "$file"
  local partscan=()
  [[ -z "${4:-}" ]] || partscan=("$4")
  device="$(losetup -f --show "${partscan[@]}" "$file")"
  LOOPS+=("$device")
  SG_DISK_CANDIDATES="${LOOPS[*]}"
  export SG_DISK_CANDIDATES
  [[ "$device" =~ ^/dev/loop[0-9]+$ ]]
  # shellcheck disable=SC2034  # a nameref to the caller's variable
  out="$device"
}

# The guard: every candidate is a loop device this test attached, and nothing else.
assert_only_own_loops() {
  local candidate
  [[ -n "${SG_DISK_CANDIDATES:-}" ]] || { echo "refusing to run: SG_DISK_CANDIDATES is not set" >&2; return 1; }
  for candidate in $SG_DISK_CANDIDATES; do
    [[ " ${LOOPS[*]} " == *" $candidate "* && "$candidate" =~ ^/dev/loop[0-9]+$ ]] ||
      { echo "refusing to run: $candidate is not a loop device of this test" >&2; return 1; }
  done
}

# in_ns COMMAND...: runs COMMAND in the test's mount namespace with the test's environment.
in_ns() {
  assert_only_own_loops || return 1
  nsenter -t "$NS_PID" -m -- env PATH="$PATH" SG_ROOT="$SG_ROOT" SG_DISK_CANDIDATES="$SG_DISK_CANDIDATES" \
    STUB_STATE="$STUB_STATE" STUB_LOG="$STUB_LOG" STUB_FIXTURES="$STUB_FIXTURES" \
    SG_POLL_INTERVAL=0 SG_RECYCLE_DELAY=0 SG_K3S_SETTLE_TIMEOUT=3 SG_K3S_READY_TIMEOUT=3 SG_DATA_DISK_WAIT=3 \
    "$@"
}

# link NAME DEVICE: the cloud's stable name for a disk, as udev would make it.
link() {
  mkdir -p "$(dirname "$SG_ROOT$1")"
  ln -sfn "$2" "$SG_ROOT$1"
}

uuid_of() {
  blkid -p -o value -s UUID "$1"
}

# A disk laid out exactly as a published image leaves its data volume: XFS labelled /mnt/data
# (mkfs then xfs_admin in the published install.sh; -L here), db/ with a datastore last run by
# k3s v1.31.0, storage/ with a volume, kubelet/, the version file.
make_published_disk() {
  local device="$1" version="$2" mnt="$BATS_TEST_TMPDIR/prep"
  mkfs.xfs -q -L /mnt/data "$device"
  mkdir -p "$mnt"
  in_ns sh -c "mount '$device' '$mnt' && mkdir -p '$mnt/db' '$mnt/storage/pvc-1234_default_data-pgsql-0' '$mnt/kubelet' &&
    printf 'SQLite format 3 ... kubeletVersion v1.31.0+k3s1 ...' >'$mnt/db/state.db' &&
    printf 'PG data\n' >'$mnt/storage/pvc-1234_default_data-pgsql-0/PG_VERSION' &&
    printf '%s\n' '$version' >'$mnt/.sourcegraph-version' && umount '$mnt'"
}

# Lists a disk's files with their hashes: through its mount in the namespace when it is mounted,
# else mounted read-only for the look.
disk_manifest() {
  local device="$1" mnt="$BATS_TEST_TMPDIR/inspect"
  mkdir -p "$mnt"
  in_ns sh -c "
    target=\$(findmnt -rn -S '$device' -o TARGET | head -n 1)
    if [ -z \"\$target\" ]; then mount -o ro '$device' '$mnt' && target='$mnt'; fi
    cd \"\$target\" && find . -type f ! -path './lost+found/*' ! -path './.sourcegraph-launch/*' -exec sha256sum {} + | LC_ALL=C sort
    cd / && if [ \"\$target\" = '$mnt' ]; then umount '$mnt'; fi"
}

# What build.sh leaves on the root disk for boot.sh (nothing on the data disk): image.env, the
# image version, values, charts and stand-in k3s binaries of the pinned versions.
root_image() {
  local image_version="$1" size="${2:-XS}" user=sourcegraph state="$SG_ROOT/var/lib/sourcegraph-launch" chart version
  mkdir -p "$SG_ROOT/etc/sourcegraph-launch" "$SG_ROOT/home/$user" "$state/values" "$state/charts"
  printf 'SG_IMAGE_VERSION=%s\nSG_IMAGE_SIZE=%s\nSG_IMAGE_CLOUD=gcp\nSG_IMAGE_USER=%s\n' "$image_version" "$size" "$user" >"$SG_ROOT/etc/sourcegraph-launch/image.env"
  printf '%s\n' "$image_version" >"$SG_ROOT/home/$user/.sourcegraph-version"
  cp "$PRESETS_DIR/common.yaml" "$state/values/common.yaml"
  cp "$PRESETS_DIR/$size.yaml" "$state/values/$size.yaml"
  for chart in sourcegraph sourcegraph-executor-k8s; do
    printf 'chart\n' >"$state/charts/$chart-$image_version.tgz"
  done
  make_fake_k3s "$K3S_VERSION" "$SG_ROOT/usr/local/bin/k3s"
  for version in $K3S_WALK_VERSIONS; do
    make_fake_k3s "$version" "$state/k3s/$version/k3s"
  done
}

boot_status() {
  "$PYTHON" -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if v is None else v)' \
    "$SG_ROOT/var/lib/sourcegraph-launch/status.json" "$1"
}

volume_file() {
  in_ns cat "$SG_ROOT/mnt/data/.sourcegraph-launch/$1"
}
