#!/usr/bin/env bats
# The every-boot decision table of provision/boot.sh, run in a scratch root with stubbed
# systemctl/kubectl/helm and fake k3s binaries: our own volumes, volumes exactly as a published
# image leaves them, the k3s token, the datastore walk and the values a volume carries.

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

volume_file() {
  cat "$SG_ROOT/mnt/data/.sourcegraph-launch/$1"
}

# ---- the decision table, on a volume our image installed -----------------------------------

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
  [ "$(status_field k3sVersion)" = "$K3S_VERSION" ]
}

@test "versions differ: upgrade to the image version from the saved chart, both files written" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = upgrade ]
  [ "$(status_field targetVersion)" = 6.12.5040 ]
  [ "$(status_field dataVersion)" = 6.11.6000 ]
  [ "$(status_field volumeOrigin)" = sourcegraph-launch ]
  local common="$SG_ROOT/var/lib/sourcegraph-launch/values/common.yaml" values="$SG_ROOT/var/lib/sourcegraph-launch/values/XS.yaml" pinned="$SG_ROOT/mnt/data/.sourcegraph-launch/inherited-values.yaml"
  assert_call "^helm --kubeconfig $SG_ROOT/etc/rancher/k3s/k3s.yaml upgrade --install sourcegraph $SG_ROOT/var/lib/sourcegraph-launch/charts/sourcegraph-6.12.5040.tgz --version 6.12.5040 -f $common -f $values -f $pinned\$"
  assert_call '^helm .* upgrade --install executor .*sourcegraph-executor-k8s-6.12.5040.tgz'
  refute_calls ' --repo '
  [ "$(data_version)" = 6.12.5040 ]
  [ "$(root_version)" = 6.12.5040 ]
  # k3s was healthy on its own volume: its credentials are kept.
  [ -f "$SG_ROOT/var/lib/rancher/k3s/server/tls/server-ca.crt" ]
}

@test "a reinstall deletes the ingress, applies the Prometheus config, Helm, the ingress, then recycles k3s" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active

  boot

  [ "$status" -eq 0 ]
  delete_at="$(call_line 'delete ingress sourcegraph-ingress')"
  prometheus_at="$(call_line "apply -f $PROVISION_DIR/manifests/prometheus-override.yaml")"
  helm_at="$(call_line 'upgrade --install sourcegraph ')"
  apply_at="$(call_line "apply -f $PROVISION_DIR/manifests/ingress.yaml")"
  restart_at="$(call_line '^systemctl restart k3s')"
  [ "$delete_at" -gt 0 ] && [ "$prometheus_at" -gt "$delete_at" ] && [ "$helm_at" -gt "$prometheus_at" ]
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

@test "a fresh image's first boot is decided 'first-boot' although its k3s is disabled and stopped" {
  provision_image 6.12.5040 6.12.5040-base
  k3s_state inactive

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = first-boot ]
  assert_call '^systemctl enable --now k3s$'
  [ "$(status_field volumeOrigin)" = sourcegraph-launch ]
  [ "$(status_field k3sVersion)" = "$K3S_VERSION" ]
}

@test "k3s down on its own volume: credentials reset, data kept, k3s enabled and started, reinstall" {
  provision_image 6.12.5040 6.12.5040
  k3s_state failed

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = k3s-down ]
  [ ! -e "$SG_ROOT/var/lib/rancher/k3s/server/cred" ]
  [ ! -e "$SG_ROOT/var/lib/rancher/k3s/server/tls" ]
  grep -q sqlite "$SG_ROOT/mnt/data/db/state.db"
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

@test "override.yaml present: reinstall with it, after the shared, size and pinned values, even when versions are equal" {
  provision_image 6.12.5040 6.12.5040
  k3s_state active
  printf 'frontend:\n  replicaCount: 3\n' >"$SG_ROOT/mnt/data/override.yaml"

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = override ]
  assert_call "upgrade --install sourcegraph .* -f $SG_ROOT/var/lib/sourcegraph-launch/values/common.yaml -f $SG_ROOT/var/lib/sourcegraph-launch/values/XS.yaml -f $SG_ROOT/mnt/data/.sourcegraph-launch/inherited-values.yaml -f $SG_ROOT/mnt/data/override.yaml\$"
  assert_call "upgrade --install executor .* -f $SG_ROOT/mnt/data/override.yaml\$"
  [ "$(data_version)" = 6.12.5040 ]
}

@test "override.yaml wins over k3s down; k3s on its own volume is started without a credential reset" {
  provision_image 6.12.5040 6.11.6000
  k3s_state inactive
  printf 'frontend:\n  replicaCount: 3\n' >"$SG_ROOT/mnt/data/override.yaml"

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = override ]
  [ -e "$SG_ROOT/var/lib/rancher/k3s/server/tls" ]
  assert_call '^systemctl enable --now k3s$'
  assert_call 'override.yaml'
}

# ---- failures ------------------------------------------------------------------------------

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
  [ "$(status_field errorCode)" = helm-failed ]
  [ "$(status_field finishedAt)" != null ]
  refute_calls "apply -f .*ingress.yaml"
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
  [ "$(status_field errorCode)" = null ]
  [ "$(data_version)" = 6.12.5040 ]
}

@test "a failing ingress apply also keeps the version files" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  touch "$STUB_STATE/kubectl.fail-apply"

  boot

  [ "$status" -ne 0 ]
  [ "$(data_version)" = 6.11.6000 ]
  [[ "$(status_field lastError)" == *"could not apply the Prometheus configuration"* ]]
}

@test "k3s that will not start fails the boot with a pointer to its journal" {
  provision_image 6.12.5040 6.12.5040
  k3s_state failed
  touch "$STUB_STATE/units/k3s.fail-start"

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field stage)" = failed ]
  [[ "$(status_field lastError)" == *"journalctl -u k3s"* ]]
  [ "$(status_field errorCode)" = k3s-start-failed ]
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

@test "no data disk mounted: refuses to install onto the root disk, the pods' resolver is written anyway" {
  provision_image 6.12.5040 6.12.5040-base
  : >"$STUB_STATE/mounts"
  k3s_state active
  mkdir -p "$SG_ROOT/etc"
  printf 'nameserver 10.0.0.2\n' >"$SG_ROOT/etc/resolv.conf"

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field stage)" = failed ]
  [[ "$(status_field lastError)" == *"data disk is not mounted"* ]]
  [ "$(status_field errorCode)" = data-disk-missing ]
  refute_calls '^helm '
  [ "$(data_version)" = 6.12.5040-base ]
  grep -qx 'nameserver 10.0.0.2' "$SG_ROOT/etc/rancher/k3s/resolv.conf"
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

# ---- the second boot, the lock, the status -------------------------------------------------

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
  [[ "$first" =~ frontendPassword:\ \"[0-9a-f]{64}\" ]]
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
for key in ("stage", "targetVersion", "decision", "startedAt", "finishedAt", "lastError", "errorCode",
            "dataVersion", "volumeOrigin", "k3sVersion", "updatedAt"):
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

# ---- the k3s token travels with the volume --------------------------------------------------

@test "a new volume gets its own random k3s token at first boot, readable by root only" {
  provision_image 6.12.5040 6.12.5040-base
  k3s_state inactive

  boot

  [ "$status" -eq 0 ]
  token="$(volume_file k3s-token)"
  [[ "$token" =~ ^[0-9a-f]{64}$ ]]
  [ "$(stat -c %a "$SG_ROOT/mnt/data/.sourcegraph-launch/k3s-token")" = 600 ]
  [ "$(volume_file origin)" = sourcegraph-launch ]
  [[ "$(volume_file volume-id)" =~ ^[0-9a-f]{32}$ ]]
  # The token file was there before k3s was first started.
  [ "$(call_line '^systemctl enable --now k3s')" -gt 0 ]

  # Another first boot of the same image on another new volume: another token.
  rm -rf "$SG_ROOT/mnt/data/.sourcegraph-launch" "$SG_ROOT/mnt/data/db"/*
  printf '6.12.5040-base\n' >"$SG_ROOT/mnt/data/.sourcegraph-version"
  boot
  [ "$status" -eq 0 ]
  [ "$(volume_file k3s-token)" != "$token" ]
}

@test "our volume keeps its token: any of our images boots it" {
  provision_image 6.13.100 6.12.5040
  volume_of_ours "$K3S_VERSION" 0123abcd
  k3s_state inactive

  boot

  [ "$status" -eq 0 ]
  [ "$(volume_file k3s-token)" = 0123abcd ]
  [ "$(status_field decision)" = upgrade ]
}

@test "our volume without its token is refused: its datastore cannot be opened" {
  provision_image 6.13.100 6.12.5040
  rm "$SG_ROOT/mnt/data/.sourcegraph-launch/k3s-token"
  k3s_state inactive

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field errorCode)" = k3s-token-missing ]
  refute_calls '^systemctl (enable|start)'
}

# ---- a volume exactly as a published image leaves it ----------------------------------------

@test "published 6.11 volume onto our 6.12 image: token none, the datastore walked 1.31 -> 1.35, published values kept" {
  provision_image 6.12.5040 6.12.5040-base L
  published_volume 6.11.6000
  k3s_state inactive
  printf 'frontend:\n  env:\n    DEPLOY_TYPE:\n      value: ami\ngitserver:\n  replicaCount: 1\nprometheus:\n  existingConfig: prometheus-override\n' >"$STUB_STATE/helm-values-sourcegraph"
  printf 'executor:\n  frontendPassword: sourcegraph-ami-password\n' >"$STUB_STATE/helm-values-executor"
  before_db="$(sha256sum <"$SG_ROOT/mnt/data/db/state.db")"

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = upgrade ]
  [ "$(status_field volumeOrigin)" = published ]
  [ "$(volume_file k3s-token)" = none ]
  [ "$(volume_file origin)" = published ]
  # Walked one minor at a time, each release under k3s.service, then the pinned one.
  walk=($K3S_WALK_VERSIONS)
  previous=0
  for version in "${walk[@]}"; do
    started="$(grep -n "stage: k3s-walk-$version" "$SG_ROOT/var/log/sourcegraph-launch/boot.log" | head -n 1 | cut -d: -f1)"
    [ -n "$started" ] && [ "$started" -gt "$previous" ]
    previous="$started"
  done
  [ "$(grep -c '^systemctl enable --now k3s$' "$STUB_LOG")" -eq $((${#walk[@]} + 1)) ]
  grep -q "walking the datastore from k3s v1.31.0+k3s1 through ${walk[*]} to $K3S_VERSION" "$SG_ROOT/var/log/sourcegraph-launch/boot.log"
  [ "$(volume_file k3s-version)" = "$K3S_VERSION" ]
  [ ! -e "$SG_ROOT/run/systemd/system/k3s.service.d/50-sourcegraph-walk.conf" ]
  # Credentials of the new root disk, and the node password secret made for the published root disk.
  assert_call 'delete secret sourcegraph-0.node-password.k3s'
  # What the published deployment had is applied after our size values, and its executor password kept.
  inherited="$SG_ROOT/mnt/data/.sourcegraph-launch/inherited-values.yaml"
  grep -q 'value: ami' "$inherited"
  assert_call "upgrade --install sourcegraph .* -f $SG_ROOT/var/lib/sourcegraph-launch/values/common.yaml -f $SG_ROOT/var/lib/sourcegraph-launch/values/L.yaml -f $inherited\$"
  assert_call "upgrade --install executor .* -f $SG_ROOT/mnt/data/.sourcegraph-launch/inherited-executor-values.yaml\$"
  [ ! -e "$SG_ROOT/mnt/data/.sourcegraph-launch/executor-values.yaml" ]
  # The data is untouched: same datastore bytes (the fakes never write it), volumes kept.
  [ "$(sha256sum <"$SG_ROOT/mnt/data/db/state.db")" = "$before_db" ]
  [ -d "$SG_ROOT/mnt/data/storage/pvc-1" ]
  [ "$(data_version)" = 6.12.5040 ]
}

@test "the walk's steps run the intermediate binaries through a runtime drop-in checked by the prestart" {
  provision_image 6.12.5040 6.12.5040-base
  published_volume 6.11.6000
  k3s_state inactive
  # Record each drop-in as systemctl sees it.
  mv "$BATS_TEST_TMPDIR/bin/systemctl" "$BATS_TEST_TMPDIR/bin/systemctl.real"
  cat >"$BATS_TEST_TMPDIR/bin/systemctl" <<EOF
#!/usr/bin/env bash
if [[ "\$1" == enable ]]; then cat "$SG_ROOT/run/systemd/system/k3s.service.d/50-sourcegraph-walk.conf" >>"$STUB_STATE/dropins" 2>/dev/null || printf 'no drop-in\n' >>"$STUB_STATE/dropins"; fi
exec "$BATS_TEST_TMPDIR/bin/systemctl.real" "\$@"
EOF
  chmod +x "$BATS_TEST_TMPDIR/bin/systemctl"

  boot

  [ "$status" -eq 0 ]
  for version in $K3S_WALK_VERSIONS; do
    grep -qx "Environment=SG_K3S_BINARY=/var/lib/sourcegraph-launch/k3s/$version/k3s" "$STUB_STATE/dropins"
    grep -qx "ExecStart=/var/lib/sourcegraph-launch/k3s/$version/k3s server" "$STUB_STATE/dropins"
  done
  # The final start runs the unit's own ExecStart.
  [ "$(tail -n 1 "$STUB_STATE/dropins")" = "no drop-in" ]
}

@test "published volume with an empty version file (a failed published install): installed on top, data untouched" {
  provision_image 6.12.5040 6.12.5040-base
  published_volume ""
  k3s_state inactive

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = first-boot ]
  [ "$(status_field dataVersion)" = null ]
  [ "$(volume_file k3s-token)" = none ]
  [ -d "$SG_ROOT/mnt/data/storage/pvc-1" ]
  grep -q 'kubeletVersion v1.31.0+k3s1' "$SG_ROOT/mnt/data/db/state.db"
  [ "$(data_version)" = 6.12.5040 ]
}

@test "published volume at <v>-base: a first boot too, with the published token" {
  provision_image 6.12.5040 6.12.5040-base
  published_volume 6.12.5040-base
  k3s_state inactive

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = first-boot ]
  [ "$(volume_file k3s-token)" = none ]
  [ "$(status_field volumeOrigin)" = published ]
}

@test "a datastore newer than this image's k3s is refused: nothing started, nothing installed" {
  provision_image 6.12.5040 6.13.100
  volume_of_ours v1.36.1+k3s1
  k3s_state inactive

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field errorCode)" = k3s-datastore-newer ]
  [[ "$(status_field lastError)" == *"newer than this image's $K3S_VERSION"*"restore the snapshot taken before the upgrade"* ]]
  refute_calls '^systemctl (enable|start|restart)'
  refute_calls '^helm '
  [ "$(data_version)" = 6.13.100 ]
}

@test "a datastore older than the walk reaches is refused with the reason" {
  provision_image 6.12.5040 6.12.5040-base
  published_volume 5.0.6 v1.26.2+k3s1
  k3s_state inactive

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field errorCode)" = k3s-walk-unavailable ]
  [[ "$(status_field lastError)" == *"k3s v1.26.2+k3s1"*"walks datastores from k3s 1.31 up"* ]]
  refute_calls '^systemctl (enable|start)'
}

@test "a missing intermediate release (no verified binary for this architecture) refuses the walk up front" {
  provision_image 6.12.5040 6.12.5040-base
  published_volume 6.11.6000
  walk=($K3S_WALK_VERSIONS)
  rm "$SG_ROOT/var/lib/sourcegraph-launch/k3s/${walk[1]}/k3s"
  k3s_state inactive

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field errorCode)" = k3s-walk-unavailable ]
  [[ "${walk[1]}" =~ ^v1\.([0-9]+)\. ]]
  [[ "$(status_field lastError)" == *"walked through Kubernetes 1.${BASH_REMATCH[1]} before"* ]]
  # Refused before any step ran: the datastore never saw a newer k3s.
  refute_calls '^systemctl (enable|start)'
}

@test "a datastore showing no k3s version and no record is refused rather than guessed" {
  provision_image 6.12.5040 6.12.5040-base
  published_volume 6.11.6000
  printf 'SQLite format 3 unreadable\n' >"$SG_ROOT/mnt/data/db/state.db"
  k3s_state inactive

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field errorCode)" = k3s-datastore-unknown ]
}

@test "a datastore one minor behind starts straight on the pinned k3s, no walk" {
  provision_image 6.12.5040 6.11.6000
  walk=($K3S_WALK_VERSIONS)
  volume_of_ours "${walk[-1]}"
  k3s_state inactive

  boot

  [ "$status" -eq 0 ]
  refute_calls '^systemctl daemon-reload'
  [ "$(volume_file k3s-version)" = "$K3S_VERSION" ]
}

# ---- swapping volumes on one root disk ------------------------------------------------------

@test "a swapped data volume gets fresh credentials once; the same volume keeps them" {
  provision_image 6.12.5040 6.12.5040
  k3s_state active
  boot
  [ "$status" -eq 0 ]
  refute_calls 'delete secret'

  # Another of our volumes, same version: the root disk's credentials belong to the first one.
  rm -rf "$SG_ROOT/mnt/data/.sourcegraph-launch"
  volume_of_ours "$K3S_VERSION" other-token
  printf 'v-2\n' >"$SG_ROOT/mnt/data/.sourcegraph-launch/volume-id"
  mkdir -p "$SG_ROOT/var/lib/rancher/k3s/server/tls"
  k3s_state failed
  reset_stub_log
  boot
  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = k3s-down ]
  [ ! -e "$SG_ROOT/var/lib/rancher/k3s/server/tls" ]
  assert_call 'delete secret sourcegraph-0.node-password.k3s'
  [ "$(cat "$SG_ROOT/var/lib/sourcegraph-launch/k3s-credentials-volume")" = v-2 ]

  mkdir -p "$SG_ROOT/var/lib/rancher/k3s/server/tls"
  reset_stub_log
  boot
  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = unchanged ]
  [ -d "$SG_ROOT/var/lib/rancher/k3s/server/tls" ]
  refute_calls 'delete secret'
}

# ---- values that reshard data stay as the volume had them -----------------------------------

@test "our volume pins the replica counts of its installed release, not the new size's" {
  provision_image 6.12.5040 6.11.6000 L
  rm -f "$SG_ROOT/mnt/data/.sourcegraph-launch/inherited-values.yaml"
  printf 'frontend:\n  replicaCount: 2\ngitserver:\n  replicaCount: 2\n  resources: {}\nindexedSearch:\n  replicaCount: 3\n' >"$STUB_STATE/helm-values-sourcegraph"
  k3s_state active

  boot

  [ "$status" -eq 0 ]
  pinned="$SG_ROOT/mnt/data/.sourcegraph-launch/inherited-values.yaml"
  "$PYTHON" - "$pinned" <<'EOF'
import sys, yaml
pinned = yaml.safe_load(open(sys.argv[1]))
assert pinned == {"gitserver": {"replicaCount": 2}, "indexedSearch": {"replicaCount": 3}, "indexedSearchIndexer": {"replicaCount": 1}}, pinned
EOF
  assert_call "-f $SG_ROOT/var/lib/sourcegraph-launch/values/common.yaml -f $SG_ROOT/var/lib/sourcegraph-launch/values/L.yaml -f $pinned\$"
}

@test "a new volume pins the size's replica counts at its first install" {
  provision_image 6.12.5040 6.12.5040-base M
  k3s_state inactive

  boot

  [ "$status" -eq 0 ]
  "$PYTHON" - "$SG_ROOT/mnt/data/.sourcegraph-launch/inherited-values.yaml" "$PRESETS_DIR/M.yaml" <<'EOF'
import sys, yaml
pinned = yaml.safe_load(open(sys.argv[1]))
preset = yaml.safe_load(open(sys.argv[2]))
for key in ("gitserver", "indexedSearch", "indexedSearchIndexer"):
    assert pinned[key]["replicaCount"] == preset[key]["replicaCount"], key
EOF
}

@test "unreadable release values stop the install instead of risking a reshard" {
  provision_image 6.12.5040 6.11.6000
  rm -f "$SG_ROOT/mnt/data/.sourcegraph-launch/inherited-values.yaml"
  touch "$STUB_STATE/helm.get-fail"
  k3s_state active

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field errorCode)" = release-values-unreadable ]
  [ "$(helm_installs)" -eq 0 ]
}

# ---- where the workloads run (agents carry stateless work only) -----------------------------

@test "a reinstall labels the server node role=server once k3s is up, before Helm; the shared values come first" {
  provision_image 6.12.5040 6.12.5040-base
  k3s_state inactive
  printf 'pgsql:\n  nodeSelector: null\n' >"$SG_ROOT/mnt/data/override.yaml"

  boot

  [ "$status" -eq 0 ]
  label_at="$(call_line '^kubectl --kubeconfig .* label node sourcegraph-0 sourcegraph-launch/role=server --overwrite$')"
  ready_at="$(call_line 'get --raw /readyz')"
  helm_at="$(call_line 'upgrade --install sourcegraph ')"
  [ "$label_at" -gt "$ready_at" ] && [ "$helm_at" -gt "$label_at" ]
  # common, size, what the volume carries, the customer's override: later files win in Helm.
  local dir="$SG_ROOT/var/lib/sourcegraph-launch/values"
  assert_call "upgrade --install sourcegraph .* -f $dir/common.yaml -f $dir/XS.yaml -f $SG_ROOT/mnt/data/.sourcegraph-launch/inherited-values.yaml -f $SG_ROOT/mnt/data/override.yaml\$"
  # The override is read, never written.
  [ "$(cat "$SG_ROOT/mnt/data/override.yaml")" = "$(printf 'pgsql:\n  nodeSelector: null')" ]
  # The executor chart gets no common.yaml: its pods (executors) may run on any node.
  refute_calls "upgrade --install executor .*common.yaml"
}

@test "an unchanged boot labels the server node too (no Helm), so a label removed by hand comes back" {
  provision_image 6.12.5040 6.12.5040
  k3s_state active

  boot

  [ "$status" -eq 0 ]
  [ "$(status_field decision)" = unchanged ]
  assert_call 'label node sourcegraph-0 sourcegraph-launch/role=server --overwrite$'
  refute_calls '^helm '
}

@test "the server node cannot be labelled: the boot fails before Helm, versions unchanged" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  touch "$STUB_STATE/kubectl.fail-label"

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field errorCode)" = kubectl-failed ]
  [[ "$(status_field lastError)" == *"sourcegraph-launch/role=server"*"not found"* ]]
  [ "$(helm_installs)" -eq 0 ]
  [ "$(data_version)" = 6.11.6000 ]
}

@test "an image without the shared values (common.yaml) refuses to install" {
  provision_image 6.12.5040 6.11.6000
  rm "$SG_ROOT/var/lib/sourcegraph-launch/values/common.yaml"
  k3s_state active

  boot

  [ "$status" -ne 0 ]
  [ "$(status_field errorCode)" = image-incomplete ]
  [ "$(helm_installs)" -eq 0 ]
}

@test "presets/helm/common.yaml pins exactly the stateful services to role=server and nothing else" {
  "$PYTHON" - "$PRESETS_DIR/common.yaml" <<'EOF'
import sys, yaml
common = yaml.safe_load(open(sys.argv[1]))
stateful = {"pgsql", "codeIntelDB", "codeInsightsDB", "gitserver", "indexedSearch", "redisCache", "redisStore", "blobstore", "prometheus", "grafana"}
assert set(common) == stateful, sorted(set(common) ^ stateful)
for key, component in common.items():
    assert component == {"nodeSelector": {"sourcegraph-launch/role": "server"}}, (key, component)
EOF
}
