#!/usr/bin/env bash
# Every-boot decision of the Sourcegraph appliance, run by sourcegraph-boot.service.
#
# Two version files carry the contract shared with the published images:
#   /home/<user>/.sourcegraph-version  the version this image (root disk) ships;
#   /mnt/data/.sourcegraph-version     the version the data disk was last installed at
#                                      ("<v>-base" straight from an image build).
# Decision, first match wins:
#   1. /mnt/data/override.yaml present  -> reinstall with it               (decision "override")
#   2. k3s not running                  -> reset k3s credentials, start it,
#                                          reinstall                       (decision "k3s-down")
#   3. both versions equal              -> restart k3s, no Helm            (decision "unchanged")
#   4. data is "<v>-base" or missing    -> reinstall                       (decision "first-boot")
#   5. versions differ                  -> reinstall at the image version  (decision "upgrade")
# A reinstall deletes the ingress, runs `helm upgrade --install` from the chart saved in the image
# (the online chart first only with SG_HELM_ONLINE=1), recreates the ingress, recycles k3s so
# crash-looping pods restart at once, and only then writes the image version into BOTH files: a
# failed install leaves them as they were, so the next boot tries again.
#
# Progress goes to /var/lib/sourcegraph-launch/status.json (read by the launcher over SSH), to
# /var/log/sourcegraph-launch/boot.log, and "Started Sourcegraph on version X" to
# /var/log/reboot.sh.log as on the published images.
#
# env: SG_HELM_ONLINE=1          try the chart repository before the saved chart
#      SG_RECYCLE_DELAY=60       seconds between Helm and the k3s recycle
#      SG_K3S_READY_TIMEOUT=300  seconds to wait for the k3s API and node
#      SG_K3S_SETTLE_TIMEOUT=60  seconds to let a starting k3s become active before deciding
#      SG_DATA_DISK_WAIT=90      seconds to wait for /mnt/data to be mounted
#      SG_POLL_INTERVAL=5        seconds between checks
set -Eeuo pipefail

SG_SCRIPT_NAME=boot
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

[[ $# -eq 0 ]] || usage_error "boot.sh takes no arguments"

helm_online="${SG_HELM_ONLINE:-0}"
recycle_delay="${SG_RECYCLE_DELAY:-60}"
k3s_ready_timeout="${SG_K3S_READY_TIMEOUT:-300}"
k3s_settle_timeout="${SG_K3S_SETTLE_TIMEOUT:-60}"
data_disk_wait="${SG_DATA_DISK_WAIT:-90}"
poll_interval="${SG_POLL_INTERVAL:-5}"
reboot_log="$SG_ROOT/var/log/reboot.sh.log"
executor_values="$SG_DATA_MOUNT/.sourcegraph-launch/executor-values.yaml"
# Helm keeps its cache and config under HOME, which systemd does not set for system services.
export HOME="${HOME:-/root}"

# Only one boot decision at a time (systemd and someone at a shell); the loser leaves the status
# file alone because it belongs to the run that holds the lock.
mkdir -p "$SG_STATE_DIR"
exec 9>>"$SG_STATE_DIR/boot.lock"
if ! flock -n 9; then
  die "another boot.sh is already running"
fi

fail() {
  STATUS_LAST_ERROR="$1"
  die "$1" "${2:-$EXIT_FAILURE}"
}

on_error() {
  STATUS_LAST_ERROR="command failed (exit $1) at boot.sh line $2: $3"
}

on_exit() {
  local rc=$?
  if [[ $rc -ne 0 && "$STATUS_STAGE" != failed ]]; then
    STATUS_LAST_ERROR="${STATUS_LAST_ERROR:-exit $rc during stage $STATUS_STAGE}"
    STATUS_FINISHED_AT="$(now_utc)"
    STATUS_STAGE=failed
    write_status
    log "boot failed: $STATUS_LAST_ERROR"
  fi
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR
trap on_exit EXIT

STATUS_STARTED_AT="$(now_utc)"
set_stage starting

env_field() {
  local key="$1"
  [[ -f "$SG_IMAGE_ENV" ]] || return 0
  grep -E "^$key=" "$SG_IMAGE_ENV" | head -n 1 | cut -d= -f2-
}

# Runs CMD until it succeeds, at most TIMEOUT seconds (counted in polls so a stubbed sleep in the
# tests does not turn this into a busy wait on the clock).
poll_until() {
  local timeout="$1" attempts i
  shift
  if [[ "$poll_interval" -gt 0 ]]; then
    attempts=$((timeout / poll_interval))
  else
    attempts="$timeout"
  fi
  [[ $attempts -ge 1 ]] || attempts=1
  for ((i = 1; i <= attempts; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    [[ $i -eq $attempts ]] || sleep "$poll_interval"
  done
  return 1
}

k3s_state() {
  systemctl is-active k3s 2>/dev/null || true
}

k3s_settled() {
  local state
  state="$(k3s_state)"
  [[ "$state" != activating && "$state" != reloading && "$state" != deactivating ]]
}

# k3s started by systemd at boot may still be "activating" when this runs; judging it then would
# reset a healthy cluster on every boot.
k3s_running() {
  poll_until "$k3s_settle_timeout" k3s_settled || true
  [[ "$(k3s_state)" == active ]]
}

wait_for_k3s() {
  set_stage waiting-for-k3s
  poll_until "$k3s_ready_timeout" kubectl --kubeconfig "$SG_KUBECONFIG" get --raw /readyz ||
    fail "the k3s API did not become ready within ${k3s_ready_timeout}s (see: journalctl -u k3s)"
  kubectl --kubeconfig "$SG_KUBECONFIG" wait --for=condition=Ready node/sourcegraph-0 --timeout="${k3s_ready_timeout}s" >/dev/null ||
    fail "node sourcegraph-0 did not become Ready within ${k3s_ready_timeout}s"
}

# A data disk that comes from another instance (an upgrade, a restore) carries a datastore whose
# certificates do not match this root disk's: k3s then refuses to start ("newer than datastore").
# Removing server/cred and server/tls makes k3s regenerate them; the data stays.
start_k3s_with_fresh_credentials() {
  set_stage starting-k3s
  systemctl stop k3s >/dev/null 2>&1 || true
  rm -rf "$SG_K3S_DIR/server/cred" "$SG_K3S_DIR/server/tls"
  log "reset k3s credentials (server/cred, server/tls); datastore kept"
  systemctl enable --now k3s || fail "k3s did not start (see: journalctl -u k3s)"
}

run_logged() {
  local output
  if output="$("$@" 2>&1)"; then
    [[ -z "$output" ]] || log "$output"
    return 0
  else
    local rc=$?
    [[ -z "$output" ]] || log "$output"
    LAST_OUTPUT="$(printf '%s' "$output" | tail -n 1)"
    return "$rc"
  fi
}

# The executor chart authenticates to the frontend with a shared secret. The published images
# used one fixed password for every customer; this generates one per data disk and keeps it
# there, so it survives upgrades. Site admins put it in site config "executors.accessToken".
ensure_executor_values() {
  local token
  [[ -f "$executor_values" ]] && return 0
  mkdir -p "$(dirname "$executor_values")"
  token="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  (
    umask 077
    printf 'executor:\n  frontendUrl: "http://sourcegraph-frontend:30080"\n  frontendPassword: "%s"\n' "$token" >"$executor_values"
  )
  log "generated the executor access token in ${executor_values#"$SG_ROOT"}"
}

helm_install() {
  local release="$1" chart="$2"
  shift 2
  local saved="$SG_CHARTS_DIR/$chart-$image_version.tgz"
  LAST_OUTPUT=""
  if [[ "$helm_online" == 1 ]]; then
    if run_logged helm --kubeconfig "$SG_KUBECONFIG" upgrade --install "$release" "$chart" \
      --repo "$SOURCEGRAPH_HELM_REPO" --version "$image_version" "$@"; then
      log "installed $release $image_version from $SOURCEGRAPH_HELM_REPO"
      return 0
    fi
    log "online install of $release failed ($LAST_OUTPUT); using the saved chart"
  fi
  [[ -f "$saved" ]] || fail "chart for $image_version not found at ${saved#"$SG_ROOT"} (set SG_HELM_ONLINE=1 to use the chart repository)"
  run_logged helm --kubeconfig "$SG_KUBECONFIG" upgrade --install "$release" "$saved" --version "$image_version" "$@" ||
    fail "helm upgrade --install $release $image_version failed: ${LAST_OUTPUT:-no output}"
  log "installed $release $image_version from ${saved#"$SG_ROOT"}"
}

log_started() {
  mkdir -p "$(dirname "$reboot_log")"
  printf '%s Started Sourcegraph on version %s\n' "$(now_utc)" "$image_version" >>"$reboot_log"
  log "Started Sourcegraph on version $image_version"
}

reinstall() {
  if ! k3s_running; then
    start_k3s_with_fresh_credentials
  fi
  wait_for_k3s

  set_stage installing
  run_logged kubectl --kubeconfig "$SG_KUBECONFIG" delete ingress sourcegraph-ingress --ignore-not-found ||
    fail "could not delete ingress sourcegraph-ingress: $LAST_OUTPUT"
  local values=(-f "$values_file")
  if [[ -f "$SG_OVERRIDE_FILE" ]]; then
    values+=(-f "$SG_OVERRIDE_FILE")
    log "using customer values ${SG_OVERRIDE_FILE#"$SG_ROOT"}"
  fi
  helm_install sourcegraph sourcegraph "${values[@]}"
  if [[ "$(env_field SG_IMAGE_EXECUTOR)" != 0 && -f "$SG_CHARTS_DIR/sourcegraph-executor-k8s-$image_version.tgz" ]]; then
    ensure_executor_values
    # The override comes last so a customer can change anything, the token included.
    local executor_args=(-f "$values_file" -f "$executor_values")
    [[ -f "$SG_OVERRIDE_FILE" ]] && executor_args+=(-f "$SG_OVERRIDE_FILE")
    helm_install executor sourcegraph-executor-k8s "${executor_args[@]}"
  fi

  set_stage exposing
  run_logged kubectl --kubeconfig "$SG_KUBECONFIG" apply -f "$here/manifests/ingress.yaml" ||
    fail "could not create ingress sourcegraph-ingress: $LAST_OUTPUT"

  # Pods that started before the migrator finished sit in CrashLoopBackOff with growing delays;
  # the kubelet keeps that back-off in memory, so restarting k3s lets them retry at once. Pods keep
  # running across the restart (KillMode=process).
  set_stage recycling-pods
  sleep "$recycle_delay"
  systemctl restart k3s || fail "k3s did not restart after the install"
  wait_for_k3s

  set_stage recording-version
  write_version_file "$SG_DATA_VERSION_FILE" "$image_version"
  write_version_file "$root_version_file" "$image_version"
}

image_user="$(env_field SG_IMAGE_USER)"
image_size="$(env_field SG_IMAGE_SIZE)"
[[ -n "$image_user" && -n "$image_size" ]] ||
  fail "${SG_IMAGE_ENV#"$SG_ROOT"} is missing or incomplete: this machine was not provisioned by build.sh"
root_version_file="$SG_ROOT/home/$image_user/.sourcegraph-version"
values_file="$SG_VALUES_DIR/$image_size.yaml"
image_version="$(read_version_file "$root_version_file")"
[[ -n "$image_version" ]] || fail "image version file ${root_version_file#"$SG_ROOT"} is missing or empty"
STATUS_TARGET_VERSION="$image_version"
[[ -f "$values_file" ]] || fail "Helm values for size $image_size not found at ${values_file#"$SG_ROOT"}"

# Installing without the data disk would put Sourcegraph's state on the root disk and mark an
# empty directory as installed; wait for the disk instead and fail loudly if it never comes.
if ! poll_until "$data_disk_wait" mountpoint -q "$SG_DATA_MOUNT"; then
  fail "the data disk is not mounted on /mnt/data (attach it and reboot, or see: journalctl -b -u mnt-data.mount)"
fi

data_version="$(read_version_file "$SG_DATA_VERSION_FILE")"
if [[ -f "$SG_OVERRIDE_FILE" ]]; then
  decision=override
elif ! k3s_running; then
  decision=k3s-down
elif [[ "$data_version" == "$image_version" ]]; then
  decision=unchanged
elif [[ -z "$data_version" || "$data_version" == *-base ]]; then
  decision=first-boot
else
  decision=upgrade
fi
STATUS_DECISION="$decision"
log "decision: $decision (image ${image_version}, data ${data_version:-none})"
write_status

if [[ "$decision" == unchanged ]]; then
  set_stage restarting-k3s
  systemctl restart k3s || fail "k3s did not restart"
  wait_for_k3s
else
  reinstall
fi

log_started
STATUS_FINISHED_AT="$(now_utc)"
STATUS_LAST_ERROR=""
set_stage "done"
