#!/usr/bin/env bats
# provision/install-k3s.sh and install-helm.sh: pinned versions, verified checksums, skip when
# already installed.

load helpers/common

setup() {
  setup_scratch
  make_tool_fixtures
}

@test "k3s: downloads the pinned release, verifies it and installs it disabled" {
  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 0 ]
  assert_call "^curl .*https://github.com/k3s-io/k3s/releases/download/${K3S_VERSION//+/%2B}/k3s\$"
  [ -x "$SG_ROOT/usr/local/bin/k3s" ]
  cmp "$STUB_FIXTURES/k3s" "$SG_ROOT/usr/local/bin/k3s"
  for tool in kubectl crictl ctr; do
    [ "$(readlink "$SG_ROOT/usr/local/bin/$tool")" = k3s ]
  done
  config="$SG_ROOT/etc/rancher/k3s/config.yaml"
  grep -qxF 'node-name: sourcegraph-0' "$config"
  grep -qxF 'cluster-cidr: 10.10.0.0/16' "$config"
  grep -qxF 'write-kubeconfig: /etc/rancher/k3s/k3s.yaml' "$config"
  grep -qxF 'ExecStart=/usr/local/bin/k3s server' "$SG_ROOT/etc/systemd/system/k3s.service"
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
  printf 'tampered\n' >>"$STUB_FIXTURES/k3s"

  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 4 ]
  [[ "$output" == *"SHA256 mismatch for k3s_${K3S_VERSION}_amd64"* ]]
  [ ! -e "$SG_ROOT/usr/local/bin/k3s" ]
  [ ! -e "$SG_ROOT/etc/systemd/system/k3s.service" ]
}

@test "k3s: an architecture without a pinned checksum is refused" {
  export STUB_ARCH=aarch64
  cp "$STUB_FIXTURES/k3s" "$STUB_FIXTURES/k3s-arm64"

  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 4 ]
  [[ "$output" == *"no pinned SHA256 for k3s_${K3S_VERSION}_arm64"* ]]
  [ ! -e "$SG_ROOT/usr/local/bin/k3s" ]
}

@test "k3s: another installed version is replaced by the pinned one" {
  mkdir -p "$SG_ROOT/usr/local/bin"
  printf '#!/bin/sh\necho "k3s version v1.30.2+k3s1 (aaaa)"\n' >"$SG_ROOT/usr/local/bin/k3s"
  chmod +x "$SG_ROOT/usr/local/bin/k3s"

  run "$PROVISION_DIR/install-k3s.sh"

  [ "$status" -eq 0 ]
  assert_call '^curl '
  cmp "$STUB_FIXTURES/k3s" "$SG_ROOT/usr/local/bin/k3s"
}

@test "k3s: a download failure fails the install" {
  rm "$STUB_FIXTURES/k3s"

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
  grep -qE "^[0-9a-f]{64}  k3s_${K3S_VERSION//+/\\+}_amd64\$" "$checksums"
  grep -qE "^[0-9a-f]{64}  helm-$HELM_VERSION-linux-amd64\.tar\.gz\$" "$checksums"
  # Every non-comment line is in sha256sum format and names one artefact once.
  ! grep -vE '^(#|$|[0-9a-f]{64}  [A-Za-z0-9_.+-]+$)' "$checksums"
  [ -z "$(grep -vE '^(#|$)' "$checksums" | awk '{print $2}' | sort | uniq -d)" ]
}
