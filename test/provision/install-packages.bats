#!/usr/bin/env bats
# provision/install-packages.sh: the distribution's package manager installs only what is missing.

load helpers/common

setup() {
  setup_scratch
  # A PATH with only what the script runs besides the commands it checks for, so that a test can
  # make one of those missing; the package managers are always the stubs.
  only="$BATS_TEST_TMPDIR/only"
  mkdir -p "$only"
  for cmd in bash env basename dirname cat grep cut head tail tr mkdir sed awk \
    curl tar blkid lsblk wipefs findmnt mountpoint flock mkfs.xfs mkfs.ext4; do
    ln -s "$(command -v "$cmd")" "$only/$cmd"
  done
}

packages() {
  run env PATH="$BATS_TEST_TMPDIR/bin:$only" "$PROVISION_DIR/install-packages.sh" "$@"
}

without() {
  rm -f "$only/$1" "$BATS_TEST_TMPDIR/bin/$1"
}

@test "Ubuntu: apt-get installs e2fsprogs for GCE and Azure when mkfs.ext4 is missing" {
  os_release Ubuntu ubuntu 24.04
  without mkfs.ext4

  packages --cloud gcp

  [ "$status" -eq 0 ]
  assert_call '^apt-get update -qq$'
  assert_call '^apt-get install -y -qq --no-install-recommends e2fsprogs$'
  refute_calls '^dnf'
}

@test "Amazon Linux: dnf installs xfsprogs and util-linux, each package once" {
  os_release "Amazon Linux" amzn 2023
  without mkfs.xfs
  without wipefs
  without findmnt

  packages --cloud aws

  [ "$status" -eq 0 ]
  assert_call '^dnf install -y -q util-linux xfsprogs$'
  refute_calls '^apt-get'
}

@test "everything present: nothing installed, nothing asked" {
  os_release Ubuntu ubuntu 24.04

  packages --cloud azure

  [ "$status" -eq 0 ]
  [ ! -s "$STUB_LOG" ]
}

@test "no CA bundle: ca-certificates too" {
  os_release Ubuntu ubuntu 24.04
  rm "$SG_ROOT/etc/ssl/certs/ca-certificates.crt"

  packages --cloud gcp

  [ "$status" -eq 0 ]
  assert_call '^apt-get install .* ca-certificates$'
}

@test "an unknown OS with something missing stops with what to install" {
  os_release Other other 1
  without curl

  packages --cloud aws

  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot install curl on other"* ]]
}
