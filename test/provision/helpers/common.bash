# shellcheck shell=bash
# Shared setup for the provision bats tests: a scratch root (SG_ROOT), stub commands first on
# PATH that log their argv to $STUB_LOG and keep their state in $STUB_STATE, and helpers to
# describe disks, provision an image and compare the scratch root before and after a run.

bats_require_minimum_version 1.5.0

# From this file's own place, so that other tiers (test/provision-disks, -systemd) can load it.
HELPERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROVISION_DIR="$(cd "$HELPERS_DIR/../../../provision" && pwd)"
PRESETS_DIR="$(cd "$HELPERS_DIR/../../../presets/helm" && pwd)"
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
  export SG_PREWARM_TIMEOUT=3
  # k3s-stop-all.sh looks at these instead of the machine's /proc and cgroups.
  export SG_PROC_ROOT="$BATS_TEST_TMPDIR/proc" SG_CGROUP_ROOT="$BATS_TEST_TMPDIR/cgroup" SG_MOUNTINFO="$BATS_TEST_TMPDIR/mountinfo"
  mkdir -p "$SG_PROC_ROOT" "$SG_CGROUP_ROOT"
  : >"$SG_MOUNTINFO"
  unset SG_HELM_ONLINE SG_DATA_DEVICE SG_DISK_CANDIDATES SG_HELM_KEYRING SG_K3S_BINARY
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

# The udev link Amazon Linux makes for the volume attached as /dev/sdb (the data volume).
sdb_is() {
  mkdir -p "$SG_ROOT/dev"
  ln -sfn "$1" "$SG_ROOT/dev/sdb"
}

mounted() {
  printf '%s\n' "$1" >>"$STUB_STATE/mounts"
}

k3s_state() {
  printf '%s\n' "$1" >"$STUB_STATE/units/k3s.active"
}

os_release() {
  mkdir -p "$SG_ROOT/etc" "$SG_ROOT/etc/ssl/certs"
  printf 'NAME="%s"\nID=%s\nVERSION_ID="%s"\n' "$1" "$2" "$3" >"$SG_ROOT/etc/os-release"
  # A cloud image has its CA bundle (install-packages.sh checks for it).
  printf 'certs\n' >"$SG_ROOT/etc/ssl/certs/ca-certificates.crt"
}

# A fake k3s binary for VERSION at PATH: answers --version, logs every other call.
make_fake_k3s() {
  local version="$1" path="$2"
  mkdir -p "$(dirname "$path")"
  # shellcheck disable=SC2016  # the $ expressions belong to the generated script
  printf '#!/bin/sh\nif [ "$1" = --version ]; then echo "k3s version %s (6ab750f9)"; echo "go version go1.24"; exit 0; fi\nprintf "k3s-%s %%s\\n" "$*" >>"$STUB_LOG"\n' "$version" "$version" >"$path"
  chmod +x "$path"
}

# Fake k3s (the pinned one and the walk's) and Helm release artefacts that print their versions,
# and a checksum list that matches them (the real list pins the real artefacts).
make_tool_fixtures() {
  local work="$BATS_TEST_TMPDIR/helm-build" version
  make_fake_k3s "$K3S_VERSION" "$STUB_FIXTURES/$K3S_VERSION/k3s"
  for version in $K3S_WALK_VERSIONS; do
    make_fake_k3s "$version" "$STUB_FIXTURES/$version/k3s"
  done
  mkdir -p "$work/linux-amd64"
  printf '#!/bin/sh\necho "%s"\n' "$HELM_VERSION" >"$work/linux-amd64/helm"
  chmod +x "$work/linux-amd64/helm"
  tar -czf "$STUB_FIXTURES/helm-$HELM_VERSION-linux-amd64.tar.gz" -C "$work" linux-amd64
  export SG_CHECKSUMS_FILE="$BATS_TEST_TMPDIR/checksums.sha256"
  {
    printf '# test checksums\n'
    for version in $K3S_VERSION $K3S_WALK_VERSIONS; do
      printf '%s  k3s_%s_amd64\n' "$(sha256sum <"$STUB_FIXTURES/$version/k3s" | cut -c1-64)" "$version"
    done
    printf '%s  helm-%s-linux-amd64.tar.gz\n' "$(sha256sum <"$STUB_FIXTURES/helm-$HELM_VERSION-linux-amd64.tar.gz" | cut -c1-64)" "$HELM_VERSION"
  } >"$SG_CHECKSUMS_FILE"
}

# Chart archives for VERSION and the repository index.yaml listing their digests, as
# helm.sourcegraph.com serves them (the helm stub's pull copies these archives).
make_chart_fixtures() {
  local version="$1" chart work
  mkdir -p "$STUB_FIXTURES/charts"
  {
    printf 'apiVersion: v1\nentries:\n'
    for chart in sourcegraph sourcegraph-executor-k8s; do
      work="$(mktemp -d)"
      mkdir -p "$work/$chart"
      printf 'apiVersion: v2\nname: %s\nversion: %s\n' "$chart" "$version" >"$work/$chart/Chart.yaml"
      tar -czf "$STUB_FIXTURES/charts/$chart-$version.tgz" -C "$work" "$chart"
      rm -rf "$work"
      printf '  %s:\n  - apiVersion: v2\n    appVersion: %s\n    digest: %s\n    name: %s\n    urls:\n    - https://helm.sourcegraph.com/release/charts/%s-%s.tgz\n    version: %s\n' \
        "$chart" "$version" "$(sha256sum <"$STUB_FIXTURES/charts/$chart-$version.tgz" | cut -c1-64)" "$chart" "$chart" "$version" "$version"
    done
    printf 'generated: "2026-02-01T00:00:00Z"\n'
  } >"$STUB_FIXTURES/index.yaml"
}

# What build.sh leaves for boot.sh, on a data disk our image already installed on:
# provision_image IMAGE_VERSION DATA_VERSION [SIZE] [USER] (an empty DATA_VERSION leaves the data
# disk without a version file). The k3s binaries are fakes of the pinned versions.
provision_image() {
  local image_version="$1" data_version="$2" size="${3:-XS}" user="${4:-ec2-user}"
  local state="$SG_ROOT/var/lib/sourcegraph-launch" chart version
  mkdir -p "$SG_ROOT/etc/sourcegraph-launch" "$SG_ROOT/home/$user" "$SG_ROOT/mnt/data" "$state/values" "$state/charts"
  printf 'SG_IMAGE_VERSION=%s\nSG_IMAGE_SIZE=%s\nSG_IMAGE_CLOUD=aws\nSG_IMAGE_USER=%s\n' \
    "$image_version" "$size" "$user" >"$SG_ROOT/etc/sourcegraph-launch/image.env"
  printf '%s\n' "$image_version" >"$SG_ROOT/home/$user/.sourcegraph-version"
  if [[ -n "$data_version" ]]; then
    printf '%s\n' "$data_version" >"$SG_ROOT/mnt/data/.sourcegraph-version"
  fi
  cp "$PRESETS_DIR/$size.yaml" "$state/values/$size.yaml"
  cp "$PRESETS_DIR/common.yaml" "$state/values/common.yaml"
  for chart in sourcegraph sourcegraph-executor-k8s; do
    printf 'chart %s %s\n' "$chart" "$image_version" >"$state/charts/$chart-$image_version.tgz"
  done
  make_fake_k3s "$K3S_VERSION" "$SG_ROOT/usr/local/bin/k3s"
  for version in $K3S_WALK_VERSIONS; do
    make_fake_k3s "$version" "$state/k3s/$version/k3s"
  done
  mkdir -p "$SG_ROOT/var/lib/rancher/k3s/server/cred" "$SG_ROOT/var/lib/rancher/k3s/server/tls" "$SG_ROOT/mnt/data/db"
  printf 'passwd\n' >"$SG_ROOT/var/lib/rancher/k3s/server/cred/passwd"
  printf 'cert\n' >"$SG_ROOT/var/lib/rancher/k3s/server/tls/server-ca.crt"
  if [[ -n "$data_version" && "$data_version" != *-base ]]; then
    # A volume our image installed on: a datastore last run by the pinned k3s, and our records.
    printf 'sqlite node kubeletVersion %s\n' "$K3S_VERSION" >"$SG_ROOT/mnt/data/db/state.db"
    volume_of_ours "$K3S_VERSION"
    printf 'v-1\n' >"$state/k3s-credentials-volume"
  fi
  mounted "$SG_ROOT/mnt/data"
}

# Our records on the data volume: volume_of_ours K3S_VERSION [TOKEN]
volume_of_ours() {
  local dir="$SG_ROOT/mnt/data/.sourcegraph-launch"
  mkdir -p "$dir"
  printf 'sourcegraph-launch\n' >"$dir/origin"
  printf 'v-1\n' >"$dir/volume-id"
  printf '%s\n' "${2:-token-of-this-volume}" >"$dir/k3s-token"
  printf '%s\n' "$1" >"$dir/k3s-version"
}

# A data volume exactly as a published image leaves it: a datastore written by K3S (default
# v1.31.0+k3s1, as the last published images ran), storage and kubelet dirs, the version file
# (possibly empty), and none of our records.
published_volume() {
  local data_version="$1" k3s="${2:-v1.31.0+k3s1}"
  mkdir -p "$SG_ROOT/mnt/data/db" "$SG_ROOT/mnt/data/storage/pvc-1" "$SG_ROOT/mnt/data/kubelet"
  printf 'SQLite format 3 ... kubeletVersion %s ... kubeProxyVersion %s\n' "$k3s" "$k3s" >"$SG_ROOT/mnt/data/db/state.db"
  printf '%s\n' "$data_version" >"$SG_ROOT/mnt/data/.sourcegraph-version"
  rm -rf "$SG_ROOT/mnt/data/.sourcegraph-launch"
  rm -f "$SG_ROOT/var/lib/sourcegraph-launch/k3s-credentials-volume"
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
