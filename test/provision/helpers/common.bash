# shellcheck shell=bash
# Shared setup for the provision bats tests: a scratch root (SG_ROOT), stub commands first on
# PATH that log their argv to $STUB_LOG and keep their state in $STUB_STATE, and helpers to
# describe disks, provision an image and compare the scratch root before and after a run.

bats_require_minimum_version 1.5.0

PROVISION_DIR="$(cd "$BATS_TEST_DIRNAME/../../provision" && pwd)"
PRESETS_DIR="$(cd "$BATS_TEST_DIRNAME/../../presets/helm" && pwd)"
HELPERS_DIR="$BATS_TEST_DIRNAME/helpers"
# shellcheck source=../../../provision/versions.env
source "$PROVISION_DIR/versions.env"

setup_scratch() {
  export SG_ROOT="$BATS_TEST_TMPDIR/root"
  export STUB_STATE="$BATS_TEST_TMPDIR/state"
  export STUB_LOG="$STUB_STATE/calls.log"
  export STUB_FIXTURES="$BATS_TEST_TMPDIR/fixtures"
  mkdir -p "$SG_ROOT" "$STUB_STATE/units" "$STUB_STATE/fs" "$STUB_FIXTURES" "$BATS_TEST_TMPDIR/bin"
  : >"$STUB_LOG"
  local stub
  for stub in "$HELPERS_DIR"/*; do
    [[ "$stub" == *.bash ]] && continue
    cp "$stub" "$BATS_TEST_TMPDIR/bin/"
  done
  export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  # Waits and delays are counted in polls; with a zero interval and a stubbed sleep they are instant.
  export SG_POLL_INTERVAL=0 SG_RECYCLE_DELAY=0 SG_K3S_SETTLE_TIMEOUT=3 SG_K3S_READY_TIMEOUT=3 SG_DATA_DISK_WAIT=3
  unset SG_HELM_ONLINE SG_DATA_DEVICE
}

# Lists every path under the scratch root with its type, mode, target or content hash and, for
# files, the modification time in nanoseconds, so that even rewriting a file with the same
# content shows up. Logs are left out (they grow by design), and so are the paths given.
snapshot_root() {
  local exclude=(-path ./var/log)
  local path
  for path in "$@"; do
    exclude+=(-o -path "./$path")
  done
  (
    cd "$SG_ROOT" || return 1
    find . \( "${exclude[@]}" \) -prune -o -print | LC_ALL=C sort | while IFS= read -r path; do
      if [[ -L "$path" ]]; then
        printf 'L %s -> %s\n' "$path" "$(readlink "$path")"
      elif [[ -f "$path" ]]; then
        printf 'F %s %s %s %s\n' "$path" "$(stat -c %a "$path")" "$(stat -c %y "$path")" "$(sha256sum <"$path" | cut -c1-64)"
      else
        printf 'D %s %s\n' "$path" "$(stat -c %a "$path")"
      fi
    done
  )
}

stub_calls() {
  cat "$STUB_LOG"
}

reset_stub_log() {
  : >"$STUB_LOG"
}

# Fails listing the offending lines when any stub call matches the extended regex.
refute_calls() {
  local pattern="$1" hits
  hits="$(grep -E -- "$pattern" "$STUB_LOG" || true)"
  if [[ -n "$hits" ]]; then
    printf 'unexpected calls matching /%s/:\n%s\n' "$pattern" "$hits" >&2
    return 1
  fi
}

assert_call() {
  local pattern="$1"
  if ! grep -qE -- "$pattern" "$STUB_LOG"; then
    printf 'no call matching /%s/ in:\n%s\n' "$pattern" "$(cat "$STUB_LOG")" >&2
    return 1
  fi
}

# Line number of the first stub call matching the pattern (0 if none), to check ordering.
call_line() {
  grep -nE -- "$1" "$STUB_LOG" | head -n 1 | cut -d: -f1 || true
}

last_call_line() {
  grep -nE -- "$1" "$STUB_LOG" | tail -n 1 | cut -d: -f1 || true
}

# lsblk -P line for one device: lsblk_dev NAME PKNAME TYPE [FSTYPE] [LABEL] [MOUNTPOINT] [MODEL]
lsblk_dev() {
  printf 'NAME="%s" PKNAME="%s" TYPE="%s" FSTYPE="%s" LABEL="%s" MOUNTPOINT="%s" MODEL="%s" RO="0"\n' \
    "$1" "$2" "$3" "${4:-}" "${5:-}" "${6:-}" "${7:-}" >>"$STUB_STATE/lsblk"
}

# Gives DEVICE's filesystem to the blkid stub: fs_on NAME TYPE LABEL
fs_on() {
  printf '%s\n' "$2" >"$STUB_STATE/fs/$1.type"
  printf '%s\n' "$3" >"$STUB_STATE/fs/$1.label"
}

# A Nitro instance: root on nvme0n1 (partitioned, mounted), an empty EBS volume nvme1n1.
disks_aws_nitro() {
  lsblk_dev nvme0n1 "" disk "" "" "" "Amazon Elastic Block Store"
  lsblk_dev nvme0n1p1 nvme0n1 part xfs / / "Amazon Elastic Block Store"
  lsblk_dev nvme0n1p128 nvme0n1 part vfat "" /boot/efi "Amazon Elastic Block Store"
  lsblk_dev nvme1n1 "" disk "" "" "" "Amazon Elastic Block Store"
}

mounted() {
  printf '%s\n' "$1" >>"$STUB_STATE/mounts"
}

k3s_state() {
  printf '%s\n' "$1" >"$STUB_STATE/units/k3s.active"
}

os_release() {
  mkdir -p "$SG_ROOT/etc"
  printf 'NAME="%s"\nID=%s\nVERSION_ID="%s"\n' "$1" "$2" "$3" >"$SG_ROOT/etc/os-release"
}

# Fake k3s and Helm release artefacts that print the pinned versions, and a checksum list that
# matches them (the real list pins the real artefacts).
make_tool_fixtures() {
  local work="$BATS_TEST_TMPDIR/helm-build"
  printf '#!/bin/sh\necho "k3s version %s (6ab750f9)"\necho "go version go1.22.12"\n' "$K3S_VERSION" >"$STUB_FIXTURES/k3s"
  mkdir -p "$work/linux-amd64"
  printf '#!/bin/sh\necho "%s"\n' "$HELM_VERSION" >"$work/linux-amd64/helm"
  chmod +x "$STUB_FIXTURES/k3s" "$work/linux-amd64/helm"
  tar -czf "$STUB_FIXTURES/helm-$HELM_VERSION-linux-amd64.tar.gz" -C "$work" linux-amd64
  export SG_CHECKSUMS_FILE="$BATS_TEST_TMPDIR/checksums.sha256"
  {
    printf '# test checksums\n'
    printf '%s  k3s_%s_amd64\n' "$(sha256sum <"$STUB_FIXTURES/k3s" | cut -c1-64)" "$K3S_VERSION"
    printf '%s  helm-%s-linux-amd64.tar.gz\n' "$(sha256sum <"$STUB_FIXTURES/helm-$HELM_VERSION-linux-amd64.tar.gz" | cut -c1-64)" "$HELM_VERSION"
  } >"$SG_CHECKSUMS_FILE"
}

# What build.sh leaves for boot.sh: provision_image IMAGE_VERSION DATA_VERSION [SIZE] [USER]
# (an empty DATA_VERSION leaves the data disk without a version file).
provision_image() {
  local image_version="$1" data_version="$2" size="${3:-XS}" user="${4:-ec2-user}"
  local state="$SG_ROOT/var/lib/sourcegraph-launch" chart
  mkdir -p "$SG_ROOT/etc/sourcegraph-launch" "$SG_ROOT/home/$user" "$SG_ROOT/mnt/data" "$state/values" "$state/charts"
  printf 'SG_IMAGE_VERSION=%s\nSG_IMAGE_SIZE=%s\nSG_IMAGE_CLOUD=aws\nSG_IMAGE_USER=%s\n' \
    "$image_version" "$size" "$user" >"$SG_ROOT/etc/sourcegraph-launch/image.env"
  printf '%s\n' "$image_version" >"$SG_ROOT/home/$user/.sourcegraph-version"
  if [[ -n "$data_version" ]]; then
    printf '%s\n' "$data_version" >"$SG_ROOT/mnt/data/.sourcegraph-version"
  fi
  cp "$PRESETS_DIR/$size.yaml" "$state/values/$size.yaml"
  for chart in sourcegraph sourcegraph-executor-k8s; do
    printf 'chart %s %s\n' "$chart" "$image_version" >"$state/charts/$chart-$image_version.tgz"
  done
  mkdir -p "$SG_ROOT/var/lib/rancher/k3s/server/cred" "$SG_ROOT/var/lib/rancher/k3s/server/tls" "$SG_ROOT/mnt/data/db"
  printf 'passwd\n' >"$SG_ROOT/var/lib/rancher/k3s/server/cred/passwd"
  printf 'cert\n' >"$SG_ROOT/var/lib/rancher/k3s/server/tls/server-ca.crt"
  printf 'sqlite\n' >"$SG_ROOT/mnt/data/db/state.db"
  mounted "$SG_ROOT/mnt/data"
}

# The system Python starts in a few milliseconds; a version-manager shim on PATH can take ten
# times that, and status fields are read many times per test.
PYTHON="$(command -v /usr/bin/python3 || command -v python3)"

status_field() {
  "$PYTHON" -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if v is None else v)' \
    "$SG_ROOT/var/lib/sourcegraph-launch/status.json" "$1"
}

data_version() {
  cat "$SG_ROOT/mnt/data/.sourcegraph-version"
}

root_version() {
  cat "$SG_ROOT/home/${1:-ec2-user}/.sourcegraph-version"
}
