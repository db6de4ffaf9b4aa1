#!/usr/bin/env bats
# provision/k3s-prestart.sh (ExecStartPre of k3s.service): k3s starts only on a mounted data disk
# that carries its token, and only one Kubernetes minor at a time onto a datastore.

load helpers/common

setup() {
  setup_scratch
  mkdir -p "$SG_ROOT/mnt/data/.sourcegraph-launch" "$SG_ROOT/mnt/data/db" "$SG_ROOT/etc"
  printf 'token\n' >"$SG_ROOT/mnt/data/.sourcegraph-launch/k3s-token"
  printf 'nameserver 127.0.0.53\n' >"$SG_ROOT/etc/resolv.conf"
  mkdir -p "$SG_ROOT/run/systemd/resolve"
  printf 'nameserver 172.31.0.2\n' >"$SG_ROOT/run/systemd/resolve/resolv.conf"
  make_fake_k3s "$K3S_VERSION" "$SG_ROOT/usr/local/bin/k3s"
  mounted "$SG_ROOT/mnt/data"
}

prestart() {
  run "$PROVISION_DIR/k3s-prestart.sh"
}

datastore_run_by() {
  printf 'kubeletVersion %s\n' "$1" >"$SG_ROOT/mnt/data/db/state.db"
}

@test "a new volume: k3s may start, and the pods' resolver is the cloud's" {
  prestart

  [ "$status" -eq 0 ]
  grep -qx 'nameserver 172.31.0.2' "$SG_ROOT/etc/rancher/k3s/resolv.conf"
}

@test "no data disk mounted: refused, so k3s never makes a cluster on the root disk" {
  : >"$STUB_STATE/mounts"

  prestart

  [ "$status" -eq 3 ]
  [[ "$output" == *"data disk is not mounted"* ]]
}

@test "no token on the volume: refused" {
  rm "$SG_ROOT/mnt/data/.sourcegraph-launch/k3s-token"

  prestart

  [ "$status" -eq 3 ]
  [[ "$output" == *"no k3s token"* ]]
}

@test "same minor and the next minor may start; two minors ahead or back may not" {
  minor="$(printf '%s' "$K3S_VERSION" | cut -d. -f2)"

  datastore_run_by "v1.$minor.0+k3s1"
  prestart
  [ "$status" -eq 0 ]

  datastore_run_by "v1.$((minor - 1)).9+k3s1"
  prestart
  [ "$status" -eq 0 ]

  datastore_run_by "v1.$((minor - 2)).9+k3s1"
  prestart
  [ "$status" -eq 3 ]
  [[ "$output" == *"must be walked up one minor at a time"* ]]

  datastore_run_by "v1.$((minor + 1)).0+k3s1"
  prestart
  [ "$status" -eq 3 ]
  [[ "$output" == *"cannot move a datastore back"* ]]
}

@test "the volume's record wins over the scan, and SG_K3S_BINARY names the binary checked" {
  datastore_run_by v1.31.0+k3s1
  printf 'v1.31.0+k3s1\n' >"$SG_ROOT/mnt/data/.sourcegraph-launch/k3s-version"
  walk=($K3S_WALK_VERSIONS)
  make_fake_k3s "${walk[0]}" "$BATS_TEST_TMPDIR/walk-k3s"

  SG_K3S_BINARY="$BATS_TEST_TMPDIR/walk-k3s" prestart
  [ "$status" -eq 0 ]

  prestart
  [ "$status" -eq 3 ]
}

@test "a datastore with no version in it and no record: refused" {
  printf 'SQLite format 3\n' >"$SG_ROOT/mnt/data/db/state.db"

  prestart

  [ "$status" -eq 3 ]
  [[ "$output" == *"shows no k3s version"* ]]
}
