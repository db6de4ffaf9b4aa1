#!/usr/bin/env bats
# The every-boot decision table of provision/boot.sh, run in a scratch root with stubbed
# systemctl/kubectl/helm.

load helpers/common

setup() {
  setup_scratch
}

boot() {
  run "$PROVISION_DIR/boot.sh"
}

helm_installs() {
  grep -cE '^helm .* upgrade --install ' "$STUB_LOG" || true
}

@test "versions equal and k3s running: plain restart, no Helm" {
  provision_image 6.12.5040 6.12.5040
  k3s_state active

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = unchanged ]
  [ "$(status_field stage)" = done ]
  assert_call '^systemctl restart k3s$'
  refute_calls '^helm '
  refute_calls 'delete ingress'
  [ -d "$SG_ROOT/var/lib/rancher/k3s/server/tls" ]
  grep -q 'Started Sourcegraph on version 6.12.5040' "$SG_ROOT/var/log/reboot.sh.log"
}

@test "versions differ: upgrade to the image version from the saved chart, both files written" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = upgrade ]
  [ "$(status_field targetVersion)" = 6.12.5040 ]
  assert_call "^helm --kubeconfig $SG_ROOT/etc/rancher/k3s/k3s.yaml upgrade --install sourcegraph $SG_ROOT/var/lib/sourcegraph-launch/charts/sourcegraph-6.12.5040.tgz --version 6.12.5040 -f $SG_ROOT/var/lib/sourcegraph-launch/values/XS.yaml\$"
  assert_call '^helm .* upgrade --install executor .*sourcegraph-executor-k8s-6.12.5040.tgz'
  refute_calls ' --repo '
  [ "$(data_version)" = 6.12.5040 ]
  [ "$(root_version)" = 6.12.5040 ]
  # k3s was healthy: its credentials are kept.
  [ -f "$SG_ROOT/var/lib/rancher/k3s/server/tls/server-ca.crt" ]
}

@test "a reinstall deletes the ingress first, recreates it after Helm, then recycles k3s" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active

  boot

  [ "$status" -eq 0 ]
  delete_at="$(call_line 'delete ingress sourcegraph-ingress')"
  helm_at="$(call_line 'upgrade --install sourcegraph ')"
  apply_at="$(call_line "apply -f $PROVISION_DIR/manifests/ingress.yaml")"
  restart_at="$(call_line '^systemctl restart k3s')"
  [ "$delete_at" -gt 0 ] && [ "$helm_at" -gt "$delete_at" ]
  [ "$apply_at" -gt "$helm_at" ]
  [ "$restart_at" -gt "$apply_at" ]
}

@test "data at <v>-base: first boot installs the image version" {
  provision_image 6.12.5040 6.12.5040-base
  k3s_state active

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = first-boot ]
  [ "$(helm_installs)" -eq 2 ]
  [ "$(data_version)" = 6.12.5040 ]
  [ "$(root_version)" = 6.12.5040 ]
}

@test "no version file on the data disk counts as a first boot" {
  provision_image 6.12.5040 ""
  k3s_state active

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = first-boot ]
  [ "$(data_version)" = 6.12.5040 ]
}

@test "k3s down: credentials reset, data kept, k3s enabled and started, reinstall" {
  provision_image 6.12.5040 6.12.5040
  k3s_state failed

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = k3s-down ]
  [ ! -e "$SG_ROOT/var/lib/rancher/k3s/server/cred" ]
  [ ! -e "$SG_ROOT/var/lib/rancher/k3s/server/tls" ]
  [ "$(cat "$SG_ROOT/mnt/data/db/state.db")" = sqlite ]
  assert_call '^systemctl enable --now k3s$'
  [ -f "$STUB_STATE/units/k3s.enabled" ]
  [ "$(helm_installs)" -eq 2 ]
  [ "$(data_version)" = 6.12.5040 ]
}

@test "k3s still starting: waits for it instead of resetting a healthy cluster" {
  provision_image 6.12.5040 6.12.5040
  k3s_state activating
  # The stubbed sleep makes k3s finish starting during the first wait.
  cat >"$BATS_TEST_TMPDIR/bin/sleep" <<EOF
#!/usr/bin/env bash
printf 'sleep %s\n' "\$*" >>"$STUB_LOG"
printf 'active\n' >"$STUB_STATE/units/k3s.active"
EOF
  chmod +x "$BATS_TEST_TMPDIR/bin/sleep"

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = unchanged ]
  [ -d "$SG_ROOT/var/lib/rancher/k3s/server/tls" ]
  refute_calls '^helm '
}

@test "override.yaml present: reinstall with it, after the size values, even when versions are equal" {
  provision_image 6.12.5040 6.12.5040
  k3s_state active
  printf 'frontend:\n  replicaCount: 3\n' >"$SG_ROOT/mnt/data/override.yaml"

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = override ]
  assert_call "upgrade --install sourcegraph .* -f $SG_ROOT/var/lib/sourcegraph-launch/values/XS.yaml -f $SG_ROOT/mnt/data/override.yaml\$"
  assert_call "upgrade --install executor .* -f $SG_ROOT/mnt/data/override.yaml\$"
  [ "$(data_version)" = 6.12.5040 ]
}

@test "override.yaml wins over k3s down, and k3s is still reset and started" {
  provision_image 6.12.5040 6.11.6000
  k3s_state inactive
  printf 'frontend:\n  replicaCount: 3\n' >"$SG_ROOT/mnt/data/override.yaml"

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = override ]
  [ ! -e "$SG_ROOT/var/lib/rancher/k3s/server/tls" ]
  assert_call '^systemctl enable --now k3s$'
  assert_call 'override.yaml'
}

@test "a failing helm leaves both version files unchanged and reports failed with the error" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  touch "$STUB_STATE/helm.fail"

  boot

  [ "$status" -ne 0 ]
  [ "$(data_version)" = 6.11.6000 ]
  [ "$(root_version)" = 6.12.5040 ]
  [ "$(status_field stage)" = failed ]
  [ "$(status_field decision)" = upgrade ]
  [[ "$(status_field lastError)" == *"helm upgrade --install sourcegraph 6.12.5040 failed"*"UPGRADE FAILED"* ]]
  [ "$(status_field finishedAt)" != null ]
  refute_calls "apply -f"
  ! grep -q 'Started Sourcegraph' "$SG_ROOT/var/log/reboot.sh.log" 2>/dev/null
}

@test "after a failed install the next boot tries again and then succeeds" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  touch "$STUB_STATE/helm.fail"
  boot
  [ "$status" -ne 0 ]
  rm "$STUB_STATE/helm.fail"

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = upgrade ]
  [ "$(status_field lastError)" = null ]
  [ "$(data_version)" = 6.12.5040 ]
}

@test "a failing ingress apply also keeps the version files" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  touch "$STUB_STATE/kubectl.fail-apply"

  boot

  [ "$status" -ne 0 ]
  [ "$(data_version)" = 6.11.6000 ]
  [[ "$(status_field lastError)" == *"could not create ingress"* ]]
}

@test "k3s that will not start fails the boot with a pointer to its journal" {
  provision_image 6.12.5040 6.12.5040
  k3s_state failed
  touch "$STUB_STATE/units/k3s.fail-start"

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field stage)" = failed ]
  [[ "$(status_field lastError)" == *"journalctl -u k3s"* ]]
  refute_calls '^helm '
}

@test "the k3s API never answering fails the boot without writing versions" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  touch "$STUB_STATE/kubectl.api-down"

  boot

  [ "$status" -ne 0 ]
  [[ "$(status_field lastError)" == *"k3s API did not become ready"* ]]
  [ "$(data_version)" = 6.11.6000 ]
}

@test "no data disk mounted: refuses to install onto the root disk" {
  provision_image 6.12.5040 6.12.5040-base
  : >"$STUB_STATE/mounts"
  k3s_state active

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field stage)" = failed ]
  [[ "$(status_field lastError)" == *"data disk is not mounted"* ]]
  refute_calls '^helm '
  [ "$(data_version)" = 6.12.5040-base ]
}

@test "online charts only when allowed, falling back to the saved chart" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  export SG_HELM_ONLINE=1
  touch "$STUB_STATE/helm.fail-online"

  boot

  [ "$status" -eq 0 ]
  online_at="$(call_line "upgrade --install sourcegraph sourcegraph --repo $SOURCEGRAPH_HELM_REPO --version 6.12.5040")"
  saved_at="$(call_line 'upgrade --install sourcegraph .*/charts/sourcegraph-6.12.5040.tgz')"
  [ "$online_at" -gt 0 ] && [ "$saved_at" -gt "$online_at" ]
  [ "$(data_version)" = 6.12.5040 ]
}

@test "missing saved chart fails clearly when online installs are not allowed" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  rm "$SG_ROOT/var/lib/sourcegraph-launch/charts/sourcegraph-6.12.5040.tgz"

  boot

  [ "$status" -ne 0 ]
  [[ "$(status_field lastError)" == *"chart for 6.12.5040 not found"*"SG_HELM_ONLINE=1"* ]]
}

@test "a second boot after a successful install is a plain restart and changes nothing on disk" {
  provision_image 6.12.5040 6.12.5040-base
  k3s_state active
  boot
  [ "$status" -eq 0 ]
  before="$(snapshot_root var/lib/sourcegraph-launch/status.json)"
  reset_stub_log

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = unchanged ]
  refute_calls '^helm '
  [ "$(snapshot_root var/lib/sourcegraph-launch/status.json)" = "$before" ]
}

@test "the executor token is generated once per data disk and kept private" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  boot
  token_file="$SG_ROOT/mnt/data/.sourcegraph-launch/executor-values.yaml"
  [ "$(stat -c %a "$token_file")" = 600 ]
  first="$(cat "$token_file")"
  [[ "$first" =~ frontendPassword:\ \"[0-9a-f]{48}\" ]]
  printf '6.11.6000\n' >"$SG_ROOT/mnt/data/.sourcegraph-version"

  boot

  [ "$status" -eq 0 ]
  [ "$(cat "$token_file")" = "$first" ]
}

@test "status.json is valid JSON with every field at each run" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active

  boot

  "$PYTHON" - "$SG_ROOT/var/lib/sourcegraph-launch/status.json" <<'EOF'
import json, sys
status = json.load(open(sys.argv[1]))
for key in ("stage", "targetVersion", "decision", "startedAt", "finishedAt", "lastError"):
    assert key in status, key
assert status["stage"] == "done", status
assert status["startedAt"] <= status["finishedAt"], status
EOF
}

@test "a second boot.sh while one runs leaves the running one's status alone" {
  provision_image 6.12.5040 6.12.5040
  k3s_state active
  mkdir -p "$SG_ROOT/var/lib/sourcegraph-launch"
  printf '{"stage": "installing"}\n' >"$SG_ROOT/var/lib/sourcegraph-launch/status.json"
  exec 8>>"$SG_ROOT/var/lib/sourcegraph-launch/boot.lock"
  flock 8

  boot

  exec 8>&-
  [ "$status" -ne 0 ]
  [[ "$output" == *"another boot.sh is already running"* ]]
  [ "$(status_field stage)" = installing ]
}

@test "an image without image.env is reported, not guessed" {
  mkdir -p "$SG_ROOT/mnt/data"
  mounted "$SG_ROOT/mnt/data"

  boot

  [ "$status" -ne 0 ]
  [[ "$(status_field lastError)" == *"image.env is missing"* ]]
}
