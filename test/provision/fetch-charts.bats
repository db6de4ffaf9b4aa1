#!/usr/bin/env bats
# provision/fetch-charts.sh: both charts for the version saved on disk, once, and only when
# their digests match the repository's index (and a pinned checksum, when there is one).

load helpers/common

setup() {
  setup_scratch
  make_chart_fixtures 6.12.5040
  export SG_CHECKSUMS_FILE="$BATS_TEST_TMPDIR/checksums.sha256"
  printf '# none pinned\n' >"$SG_CHECKSUMS_FILE"
}

# Rebuilds CHART's archive with an extra file: still the right chart and version, another digest.
tamper_chart() {
  local chart="$1" work
  work="$(mktemp -d)"
  tar -xzf "$STUB_FIXTURES/charts/$chart-6.12.5040.tgz" -C "$work"
  printf 'kind: Job\n' >"$work/$chart/injected.yaml"
  tar -czf "$STUB_FIXTURES/charts/$chart-6.12.5040.tgz" -C "$work" "$chart"
  rm -rf "$work"
}

charts_dir() {
  printf '%s' "$SG_ROOT/var/lib/sourcegraph-launch/charts"
}

@test "saves the sourcegraph and executor charts for the version" {
  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040

  [ "$status" -eq 0 ]
  assert_call "^helm pull sourcegraph --repo $SOURCEGRAPH_HELM_REPO --version 6.12.5040 "
  assert_call "^helm pull sourcegraph-executor-k8s --repo $SOURCEGRAPH_HELM_REPO --version 6.12.5040 "
  tar -xzOf "$(charts_dir)/sourcegraph-6.12.5040.tgz" sourcegraph/Chart.yaml | grep -qx 'version: 6.12.5040'
  tar -xzOf "$(charts_dir)/sourcegraph-executor-k8s-6.12.5040.tgz" sourcegraph-executor-k8s/Chart.yaml | grep -qx 'version: 6.12.5040'
  assert_call "^curl .*$SOURCEGRAPH_HELM_REPO/index.yaml\$"
  [ "$(grep -c "^curl .*index.yaml" "$STUB_LOG")" -eq 1 ]
  [[ "$output" == *"verified SHA256 of sourcegraph-6.12.5040.tgz (repository index)"* ]]
}

@test "a chart whose digest differs from the repository index is refused and not saved" {
  tamper_chart sourcegraph

  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040

  [ "$status" -eq 4 ]
  [[ "$output" == *"SHA256 of sourcegraph-6.12.5040.tgz is"*"but $SOURCEGRAPH_HELM_REPO/index.yaml says"* ]]
  [ ! -e "$(charts_dir)/sourcegraph-6.12.5040.tgz" ]
}

@test "a tampered executor chart fails the fetch too (it is not a mere warning)" {
  tamper_chart sourcegraph-executor-k8s

  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040

  [ "$status" -eq 4 ]
  [ ! -e "$(charts_dir)/sourcegraph-executor-k8s-6.12.5040.tgz" ]
}

@test "a chart the index lists without a digest is refused" {
  sed -i '/digest:/d' "$STUB_FIXTURES/index.yaml"

  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040

  [ "$status" -eq 4 ]
  [[ "$output" == *"lists no SHA256 digest for sourcegraph 6.12.5040"* ]]
}

@test "a pinned checksum must match as well" {
  printf '%s  sourcegraph-6.12.5040.tgz\n' "$(printf 'other' | sha256sum | cut -c1-64)" >>"$SG_CHECKSUMS_FILE"

  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040

  [ "$status" -eq 4 ]
  [[ "$output" == *"but checksums.sha256 pins"* ]]

  printf '%s  sourcegraph-6.12.5040.tgz\n' "$(sha256sum <"$STUB_FIXTURES/charts/sourcegraph-6.12.5040.tgz" | cut -c1-64)" >"$SG_CHECKSUMS_FILE"
  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040
  [ "$status" -eq 0 ]
  [[ "$output" == *"verified SHA256 of sourcegraph-6.12.5040.tgz (repository index and pinned checksum)"* ]]
}

@test "with a keyring the pull also verifies the provenance" {
  export SG_HELM_KEYRING=/etc/sourcegraph-launch/pubring.gpg

  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040

  [ "$status" -eq 0 ]
  assert_call "^helm pull sourcegraph .* --verify --keyring /etc/sourcegraph-launch/pubring.gpg\$"
}

@test "a second run pulls nothing and changes nothing" {
  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040
  before="$(snapshot_root)"
  reset_stub_log

  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040

  [ "$status" -eq 0 ]
  refute_calls '^helm'
  [ "$(snapshot_root)" = "$before" ]
}

@test "a corrupt saved chart is fetched again" {
  mkdir -p "$(charts_dir)"
  printf 'not a chart\n' >"$(charts_dir)/sourcegraph-6.12.5040.tgz"

  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040

  [ "$status" -eq 0 ]
  assert_call '^helm pull sourcegraph '
  tar -tzf "$(charts_dir)/sourcegraph-6.12.5040.tgz" >/dev/null
}

@test "a missing sourcegraph chart fails the fetch" {
  touch "$STUB_STATE/helm.pull-fail-sourcegraph"

  run "$PROVISION_DIR/fetch-charts.sh" --version 6.12.5040

  [ "$status" -eq 1 ]
  [ ! -e "$(charts_dir)/sourcegraph-6.12.5040.tgz" ]
}

@test "a missing executor chart is only a warning" {
  touch "$STUB_STATE/helm.pull-fail-sourcegraph-executor-k8s"

  make_chart_fixtures 5.0.6

  run "$PROVISION_DIR/fetch-charts.sh" --version 5.0.6

  [ "$status" -eq 0 ]
  [[ "$output" == *"WARNING: chart sourcegraph-executor-k8s 5.0.6 is not available"* ]]
  [ -f "$(charts_dir)/sourcegraph-5.0.6.tgz" ]
}

@test "a version that is not X.Y.Z is a usage error" {
  run "$PROVISION_DIR/fetch-charts.sh" --version latest

  [ "$status" -eq 2 ]
  refute_calls '^helm'
}
