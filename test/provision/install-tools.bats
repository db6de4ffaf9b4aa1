#!/usr/bin/env bats
# provision/install-k3s.sh and install-helm.sh: pinned versions, verified checksums, skip when
# already installed.

load helpers/common

setup() {
  setup_scratch
  make_tool_fixtures
}

@test "k3s: downloads the pinned release and the walk's, verifies them and installs k3s disabled" {
  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 0 ]
  assert_call "^curl .*https://github.com/k3s-io/k3s/releases/download/${K3S_VERSION//+/%2B}/k3s\$"
  [ -x "$SG_ROOT/usr/local/bin/k3s" ]
  cmp "$STUB_FIXTURES/$K3S_VERSION/k3s" "$SG_ROOT/usr/local/bin/k3s"
  for version in $K3S_WALK_VERSIONS; do
    assert_call "^curl .*/download/${version//+/%2B}/k3s\$"
    cmp "$STUB_FIXTURES/$version/k3s" "$SG_ROOT/var/lib/sourcegraph-launch/k3s/$version/k3s"
  done
  for tool in kubectl crictl ctr; do
    [ "$(readlink "$SG_ROOT/usr/local/bin/$tool")" = k3s ]
  done
  config="$SG_ROOT/etc/rancher/k3s/config.yaml"
  grep -qxF 'node-name: sourcegraph-0' "$config"
  grep -qxF 'cluster-cidr: 10.10.0.0/16' "$config"
  grep -qxF 'write-kubeconfig: /etc/rancher/k3s/k3s.yaml' "$config"
  # The token comes from the data volume; the pods' resolver from the prestart check.
  grep -qxF 'token-file: /mnt/data/.sourcegraph-launch/k3s-token' "$config"
  grep -qxF 'resolv-conf: /etc/rancher/k3s/resolv.conf' "$config"
  ! grep -qE '^token:' "$config"
  unit="$SG_ROOT/etc/systemd/system/k3s.service"
  grep -qxF 'ExecStart=/usr/local/bin/k3s server' "$unit"
  grep -qxF 'RequiresMountsFor=/mnt/data' "$unit"
  grep -qxF 'ExecStartPre=/opt/sourcegraph-launch/provision/k3s-prestart.sh' "$unit"
  assert_call '^systemctl daemon-reload$'
  refute_calls '^systemctl (enable|start)'
}

@test "k3s: a second run downloads nothing and changes nothing" {
  run "$PROVISION_DIR/install-k3s.sh"
  before="$(snapshot_root)"
  reset_stub_log

  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 0 ]
  refute_calls '^(curl|systemctl)'
  [ "$(snapshot_root)" = "$before" ]
}

@test "k3s: a checksum mismatch aborts before anything is installed" {
  printf 'tampered\n' >>"$STUB_FIXTURES/$K3S_VERSION/k3s"

  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 4 ]
  [[ "$output" == *"SHA256 mismatch for k3s_${K3S_VERSION}_amd64"* ]]
  [ ! -e "$SG_ROOT/usr/local/bin/k3s" ]
  [ ! -e "$SG_ROOT/etc/systemd/system/k3s.service" ]
}

@test "k3s: a tampered walk release is refused too" {
  walk=(${K3S_WALK_VERSIONS})
  printf 'tampered\n' >>"$STUB_FIXTURES/${walk[1]}/k3s"

  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 4 ]
  [[ "$output" == *"SHA256 mismatch for k3s_${walk[1]}_amd64"* ]]
  [ ! -e "$SG_ROOT/var/lib/sourcegraph-launch/k3s/${walk[1]}/k3s" ]
}

@test "k3s: an architecture without a pinned checksum is refused" {
  export STUB_ARCH=aarch64
  cp "$STUB_FIXTURES/$K3S_VERSION/k3s" "$STUB_FIXTURES/$K3S_VERSION/k3s-arm64"

  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 4 ]
  [[ "$output" == *"no pinned SHA256 for k3s_${K3S_VERSION}_arm64"* ]]
  [ ! -e "$SG_ROOT/usr/local/bin/k3s" ]
}

@test "k3s: a walk release without a pinned checksum is skipped with a warning, not fetched" {
  export STUB_ARCH=aarch64
  cp "$STUB_FIXTURES/$K3S_VERSION/k3s" "$STUB_FIXTURES/$K3S_VERSION/k3s-arm64"
  printf '%s  k3s_%s_arm64\n' "$(sha256sum <"$STUB_FIXTURES/$K3S_VERSION/k3s" | cut -c1-64)" "$K3S_VERSION" >>"$SG_CHECKSUMS_FILE"

  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 0 ]
  [ -x "$SG_ROOT/usr/local/bin/k3s" ]
  [[ "$output" == *"WARNING: no pinned SHA256 for k3s"*"cannot walk a datastore"* ]]
  [ "$(grep -c '^curl ' "$STUB_LOG")" -eq 1 ]
}

@test "k3s: another installed version is replaced by the pinned one" {
  mkdir -p "$SG_ROOT/usr/local/bin"
  printf '#!/bin/sh\necho "k3s version v1.30.2+k3s1 (aaaa)"\n' >"$SG_ROOT/usr/local/bin/k3s"
  chmod +x "$SG_ROOT/usr/local/bin/k3s"

  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 0 ]
  assert_call '^curl '
  cmp "$STUB_FIXTURES/$K3S_VERSION/k3s" "$SG_ROOT/usr/local/bin/k3s"
}

@test "k3s: a download failure fails the install" {
  rm "$STUB_FIXTURES/$K3S_VERSION/k3s"

  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -ne 0 ]
  [ ! -e "$SG_ROOT/usr/local/bin/k3s" ]
}

@test "helm: installs the pinned release from its verified tarball" {
  run "$PROVISION_DIR/install-helm.sh"

  [ "$status" -eq 0 ]
  assert_call "^curl .*https://get.helm.sh/helm-$HELM_VERSION-linux-amd64.tar.gz\$"
  [ -x "$SG_ROOT/usr/local/bin/helm" ]
  [ "$("$SG_ROOT/usr/local/bin/helm" version --template '{{.Version}}')" = "$HELM_VERSION" ]
}

@test "helm: a second run downloads nothing and changes nothing" {
  run "$PROVISION_DIR/install-helm.sh"
  before="$(snapshot_root)"
  reset_stub_log

  run "$PROVISION_DIR/install-helm.sh"

  [ "$status" -eq 0 ]
  refute_calls '^curl'
  [ "$(snapshot_root)" = "$before" ]
}

@test "helm: a checksum mismatch aborts before anything is installed" {
  printf 'x' >>"$STUB_FIXTURES/helm-$HELM_VERSION-linux-amd64.tar.gz"

  run "$PROVISION_DIR/install-helm.sh"

  [ "$status" -eq 4 ]
  [[ "$output" == *"SHA256 mismatch for helm-$HELM_VERSION-linux-amd64.tar.gz"* ]]
  [ ! -e "$SG_ROOT/usr/local/bin/helm" ]
}

@test "the shipped checksum list pins the versions in versions.env" {
  checksums="$PROVISION_DIR/checksums.sha256"
  for version in $K3S_VERSION $K3S_WALK_VERSIONS; do
    for arch in amd64 arm64; do
      grep -qE "^[0-9a-f]{64}  k3s_${version//+/\\+}_${arch}\$" "$checksums"
    done
  done
  grep -qE "^[0-9a-f]{64}  helm-$HELM_VERSION-linux-arm64\.tar\.gz\$" "$checksums"
  grep -qE "^[0-9a-f]{64}  helm-$HELM_VERSION-linux-amd64\.tar\.gz\$" "$checksums"
  # Every non-comment line is in sha256sum format and names one artefact once.
  ! grep -vE '^(#|$|[0-9a-f]{64}  [A-Za-z0-9_.+-]+$)' "$checksums"
  [ -z "$(grep -vE '^(#|$)' "$checksums" | awk '{print $2}' | sort | uniq -d)" ]
}

@test "the walk has exactly one release per minor between the oldest walkable datastore and k3s" {
  expected=$((K3S_WALK_FROM_MINOR + 1))
  for version in $K3S_WALK_VERSIONS; do
    [[ "$version" =~ ^v1\.([0-9]+)\.[0-9]+\+k3s[0-9]+$ ]]
    [ "${BASH_REMATCH[1]}" -eq "$expected" ]
    expected=$((expected + 1))
  done
  [[ "$K3S_VERSION" =~ ^v1\.([0-9]+)\. ]]
  [ "${BASH_REMATCH[1]}" -eq "$expected" ]
}
