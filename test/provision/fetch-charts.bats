#!/usr/bin/env bats
# provision/fetch-charts.sh: both charts for the version saved on disk, once.

load helpers/common

setup() {
  setup_scratch
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
