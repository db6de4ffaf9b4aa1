#!/usr/bin/env bash
# Every-boot decision of the Sourcegraph appliance, run by sourcegraph-boot.service.
#
# Two version files carry the contract shared with the published images:
#   /home/<user>/.sourcegraph-version  the version this image (root disk) ships;
#   /mnt/data/.sourcegraph-version     the version the data disk was last installed at
#                                      ("<v>-base" straight from an image build; a published
#                                      image may also have left it empty after a failed install).
# Decision, first match wins (it depends on the data, never on whether k3s happens to run):
#   1. /mnt/data/override.yaml present    -> reinstall with it              (decision "override")
#   2. data version empty or "<v>-base"   -> install                        (decision "first-boot")
#   3. data version differs from image's  -> reinstall at the image version (decision "upgrade")
#   4. versions equal, k3s running        -> restart k3s, no Helm           (decision "unchanged")
#   5. versions equal, k3s not running    -> reset k3s credentials, start,
#                                            reinstall                      (decision "k3s-down")
# None of them formats, moves or deletes data; an empty or "-base" data version only means
# Sourcegraph is (re)installed on top of whatever the datastore holds.
#
# Before deciding it
#   - points the pods' resolver at the cloud's (k3s resolv-conf), before anything else;
#   - waits for the data disk and adopts the volume: records who made it and gives it a k3s token
#     (a random one for a new volume, "none" for a published image's, which its datastore is
#     encrypted with), so that every one of our images boots every volume;
#   - walks a datastore written by an older k3s up one Kubernetes minor at a time through the
#     pinned intermediate releases, or refuses (status.json says why) when it cannot.
# Once k3s is up (every decision) the server node is labelled sourcegraph-launch/role=server: the
# shared values pin the stateful services to that label, so agents (role=agent) only get stateless
# work.
# A reinstall deletes the ingress, runs `helm upgrade --install` from the chart saved in the image
# (the online chart first only with SG_HELM_ONLINE=1) with the values every size shares
# (values/common.yaml), the size's values, then what the volume carries (a published deployment's own values, or the settings pinned at our first install that
# would reshard data if changed), then /mnt/data/override.yaml; recreates the ingress, recycles k3s
# so crash-looping pods restart at once, and only then writes the image version into BOTH files: a
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
walk_dropin="$SG_ROOT/run/systemd/system/k3s.service.d/50-sourcegraph-walk.conf"
node_password_secret=sourcegraph-0.node-password.k3s
# Helm keeps its cache and config under HOME, which systemd does not set for system services.
export HOME="${HOME:-/root}"

# Only one boot decision at a time (systemd and someone at a shell); the loser leaves the status
# file alone because it belongs to the run that holds the lock.
mkdir -p "$SG_STATE_DIR"
exec 9>>"$SG_STATE_DIR/boot.lock"
if ! flock -n 9; then
  die "another boot.sh is already running"
fi

# fail MESSAGE [CODE] [EXIT]: CODE is the stable errorCode in status.json.
fail() {
  STATUS_LAST_ERROR="$1"
  STATUS_ERROR_CODE="${2:-}"
  die "$1" "${3:-$EXIT_FAILURE}"
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

# Published reboot.sh pointed CoreDNS at the cloud's resolver before anything else; here that is
# the resolv.conf k3s gives the kubelet and CoreDNS, written before k3s can start.
write_k3s_resolv_conf

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

kube() {
  kubectl --kubeconfig "$SG_KUBECONFIG" "$@"
}

node_ready() {
  kube get node sourcegraph-0 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}

# ---- the data volume ---------------------------------------------------------------------------

# Records who made the volume and gives it an identity and a k3s token. Only ever adds files under
# /mnt/data/.sourcegraph-launch/, which published images ignore.
adopt_volume() {
  local origin
  origin="$(volume_origin)"
  mkdir -p "$SG_VOLUME_DIR"
  chmod 0700 "$SG_VOLUME_DIR"
  if [[ ! -s "$SG_VOLUME_ID_FILE" ]]; then
    printf '%s\n' "$(random_hex | cut -c1-32)" | write_if_changed "$SG_VOLUME_ID_FILE" 0644 || true
  fi
  if [[ ! -s "$SG_VOLUME_TOKEN_FILE" ]]; then
    case "$origin" in
      new)
        write_secret_file "$SG_VOLUME_TOKEN_FILE" "$(random_hex)"
        log "generated this volume's k3s token"
        ;;
      published)
        # The published images installed k3s with K3S_TOKEN=none; their datastore's bootstrap data
        # is encrypted with it and cannot be read with anything else.
        write_secret_file "$SG_VOLUME_TOKEN_FILE" none
        log "volume from a published image: k3s token \"none\" kept (port 6443 is never reachable from outside)"
        ;;
      *)
        fail "the data volume says it was made by $origin but carries no k3s token (${SG_VOLUME_TOKEN_FILE#"$SG_ROOT"}); its datastore cannot be opened without it" k3s-token-missing
        ;;
    esac
  fi
  if [[ "$origin" == new ]]; then
    origin=sourcegraph-launch
  fi
  printf '%s\n' "$origin" | write_if_changed "$SG_VOLUME_ORIGIN_FILE" 0644 || true
  STATUS_VOLUME_ORIGIN="$origin"
  VOLUME_ID="$(read_version_file "$SG_VOLUME_ID_FILE")"
}

record_k3s_version() {
  local version="$1"
  printf '%s\n' "$version" | write_if_changed "$SG_VOLUME_K3S_VERSION_FILE" 0644 || true
  STATUS_K3S_VERSION="$version"
}

# Sets WALK (the intermediate releases to run, oldest first) for the datastore, or refuses.
plan_k3s_walk() {
  local from to minor version found
  WALK=()
  DATASTORE_K3S="$(datastore_k3s_version)"
  STATUS_K3S_VERSION="$DATASTORE_K3S"
  if [[ -z "$DATASTORE_K3S" ]]; then
    if datastore_exists; then
      fail "the datastore on the data volume shows no k3s version, so it cannot be known which k3s may run on it; write the version that last ran it (e.g. v1.31.0+k3s1) to ${SG_VOLUME_K3S_VERSION_FILE#"$SG_ROOT"} and reboot" k3s-datastore-unknown
    fi
    return 0
  fi
  from="$(k3s_minor "$DATASTORE_K3S")"
  to="$(k3s_minor "$K3S_VERSION")"
  if ((from > to)); then
    fail "the data volume's datastore was last run by k3s $DATASTORE_K3S, newer than this image's $K3S_VERSION; Kubernetes cannot move a datastore back. Use an image with k3s 1.$from or newer, or restore the snapshot taken before the upgrade" k3s-datastore-newer
  fi
  if ((from < K3S_WALK_FROM_MINOR)); then
    fail "the data volume's datastore was last run by k3s $DATASTORE_K3S; this image walks datastores from k3s 1.$K3S_WALK_FROM_MINOR up. Upgrade through an image whose k3s is 1.$((from + 1)) first" k3s-walk-unavailable
  fi
  for ((minor = from + 1; minor < to; minor++)); do
    found=""
    for version in $K3S_WALK_VERSIONS; do
      if [[ "$(k3s_minor "$version")" == "$minor" ]]; then
        found="$version"
      fi
    done
    if [[ -z "$found" || "$(k3s_binary_version "$(k3s_walk_binary "$found")")" != "$found" ]]; then
      fail "the data volume's datastore (k3s $DATASTORE_K3S) must be walked through Kubernetes 1.$minor before k3s $K3S_VERSION can run on it, and this image has no verified k3s 1.$minor for $(go_arch)" k3s-walk-unavailable
    fi
    WALK+=("$found")
  done
}

# ---- k3s ---------------------------------------------------------------------------------------

# Starts k3s on this volume. The root disk's k3s credentials (server/cred, server/tls, server/token)
# belong to the volume they were made with; on another volume k3s refuses them ("newer than
# datastore"), so they are removed and regenerated from the datastore. The datastore is kept.
start_k3s() {
  local force_reset="${1:-0}"
  set_stage starting-k3s
  CREDENTIALS_RESET=0
  if [[ "$force_reset" == 1 || "$(read_version_file "$SG_CREDENTIALS_VOLUME_FILE")" != "$VOLUME_ID" ]]; then
    systemctl stop k3s >/dev/null 2>&1 || true
    rm -rf "$SG_K3S_DIR/server/cred" "$SG_K3S_DIR/server/tls" "$SG_K3S_DIR/server/token" "$SG_K3S_DIR/server/node-token"
    log "reset k3s credentials (server/cred, server/tls, server/token); datastore kept"
    CREDENTIALS_RESET=1
  fi
  systemctl enable --now k3s || fail "k3s did not start (see: journalctl -u k3s)" k3s-start-failed
}

wait_for_k3s() {
  set_stage waiting-for-k3s
  poll_until "$k3s_ready_timeout" kube get --raw /readyz ||
    fail "the k3s API did not become ready within ${k3s_ready_timeout}s (see: journalctl -u k3s)" k3s-not-ready
  if [[ "${CREDENTIALS_RESET:-0}" == 1 ]]; then
    # The node password this root disk's agent presents was made for another volume's datastore;
    # k3s recreates the secret from the one presented now.
    run_logged kube -n kube-system delete secret "$node_password_secret" --ignore-not-found || true
  fi
  poll_until "$k3s_ready_timeout" node_ready ||
    fail "node sourcegraph-0 did not become Ready within ${k3s_ready_timeout}s" k3s-not-ready
  printf '%s\n' "$VOLUME_ID" | write_if_changed "$SG_CREDENTIALS_VOLUME_FILE" 0644 || true
  CREDENTIALS_RESET=0
}

# Runs the datastore through each intermediate k3s release: started as k3s.service (a runtime
# drop-in swaps the binary, and k3s-prestart.sh checks each step), ready, stopped, recorded.
walk_datastore() {
  local version binary
  [[ ${#WALK[@]} -gt 0 ]] || return 0
  log "walking the datastore from k3s $DATASTORE_K3S through ${WALK[*]} to $K3S_VERSION"
  for version in "${WALK[@]}"; do
    set_stage "k3s-walk-$version"
    binary="$(k3s_walk_binary "$version")"
    systemctl stop k3s >/dev/null 2>&1 || true
    mkdir -p "$(dirname "$walk_dropin")"
    printf '# Written by sourcegraph-launch boot.sh while walking the datastore; removed after.\n[Service]\nEnvironment=SG_K3S_BINARY=%s\nExecStart=\nExecStart=%s server\n' \
      "${binary#"$SG_ROOT"}" "${binary#"$SG_ROOT"}" >"$walk_dropin"
    systemctl daemon-reload
    start_k3s
    wait_for_k3s
    record_k3s_version "$version"
    systemctl stop k3s || fail "k3s $version did not stop" k3s-walk-failed
    rm -f "$walk_dropin"
    systemctl daemon-reload
    log "datastore now at k3s $version"
  done
}

ensure_k3s_running() {
  local force_reset="${1:-0}"
  if [[ "$force_reset" == 1 ]] || ! k3s_running; then
    start_k3s "$force_reset"
  fi
  wait_for_k3s
  record_k3s_version "$K3S_VERSION"
}

# The label the shared values' nodeSelectors select on (values/common.yaml). Set at every boot with
# --overwrite (a no-op when it is there) and before any Helm install: a stateful pod pinned to a
# label no node carries would stay Pending.
label_server_node() {
  run_logged kube label node "$SG_SERVER_NODE" "$SG_ROLE_LABEL=server" --overwrite ||
    fail "could not label node $SG_SERVER_NODE $SG_ROLE_LABEL=server: ${LAST_OUTPUT:-no output}" kubectl-failed
}

# ---- values ------------------------------------------------------------------------------------

# A published deployment's values are recorded in its Helm releases, in the datastore on the data
# volume. The first time one of our images installs on such a volume they are saved next to it and
# applied after our size's values from then on: what the published deployment had (DEPLOY_TYPE,
# its Prometheus configuration, Jaeger, the executor password, gitserver's replica count and
# resources) stays as it was.
capture_published_values() {
  local release file values
  [[ "$STATUS_VOLUME_ORIGIN" == published ]] || return 0
  for release in sourcegraph executor; do
    file="$SG_INHERITED_VALUES"
    [[ "$release" == executor ]] && file="$SG_INHERITED_EXECUTOR_VALUES"
    [[ -f "$file" ]] && continue
    if values="$(helm --kubeconfig "$SG_KUBECONFIG" get values "$release" -o yaml 2>&1)"; then
      write_secret_file "$file" "# Values of the published deployment's Helm release \"$release\", saved by sourcegraph-launch before its first install on this volume.
$values"
      log "saved the published deployment's values of release $release"
    elif grep -q 'not found' <<<"$values"; then
      write_secret_file "$file" "# The published deployment had no Helm release \"$release\"."
      log "the published deployment had no release $release"
    else
      fail "could not read the published deployment's values of release $release: $(tail -n 1 <<<"$values")" published-values-unreadable
    fi
  done
}

# Our own volumes pin the settings that reshard or reset data when they change: gitserver's replica
# count (repositories are sharded across gitserver replicas and re-clone when it changes) and
# zoekt's (the search index is sharded the same way). They come from the release already installed
# on the volume (an older image of ours may have set other counts), else from the size's values,
# and are applied after the size's values from then on: a later image or another size never
# changes them; /mnt/data/override.yaml does, when the user asks.
pin_data_shaping_values() {
  local component replicas source="$values_file" previous body=""
  [[ "$STATUS_VOLUME_ORIGIN" == sourcegraph-launch && ! -f "$SG_INHERITED_VALUES" ]] || return 0
  if previous="$(helm --kubeconfig "$SG_KUBECONFIG" get values sourcegraph -o yaml 2>&1)"; then
    source="$(mktemp)"
    printf '%s\n' "$previous" >"$source"
  elif ! grep -q 'not found' <<<"$previous"; then
    fail "could not read the installed release's values to pin its replica counts: $(tail -n 1 <<<"$previous")" release-values-unreadable
  fi
  for component in gitserver indexedSearch indexedSearchIndexer; do
    replicas="$(awk -v c="$component:" '
      $0 == c { inside = 1; next }
      inside && /^[^ #]/ { exit }
      inside && $1 == "replicaCount:" { print $2; exit }
    ' "$source")"
    [[ -n "$replicas" ]] || replicas=1
    body+="$component:"$'\n'"  replicaCount: $replicas"$'\n'
  done
  [[ "$source" == "$values_file" ]] || rm -f "$source"
  write_secret_file "$SG_INHERITED_VALUES" "# Pinned by sourcegraph-launch on this volume: changing these reshards repositories or the search
# index. To change them on purpose, set them in /mnt/data/override.yaml.
${body%$'\n'}"
  log "pinned gitserver and search replica counts for this volume"
}

# The executor chart authenticates to the frontend with a shared secret. The published images used
# one fixed password (kept for their volumes through the saved values); ours generate one per
# volume at its first install and keep it there. Site admins put it in site config
# "executors.accessToken".
ensure_executor_values() {
  [[ -f "$SG_EXECUTOR_VALUES" ]] && return 0
  if [[ -f "$SG_INHERITED_EXECUTOR_VALUES" ]] && grep -q 'frontendPassword' "$SG_INHERITED_EXECUTOR_VALUES"; then
    return 0
  fi
  write_secret_file "$SG_EXECUTOR_VALUES" "executor:
  frontendUrl: \"http://sourcegraph-frontend:30080\"
  frontendPassword: \"$(random_hex)\""
  log "generated the executor access token in ${SG_EXECUTOR_VALUES#"$SG_ROOT"}"
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
  [[ -f "$saved" ]] || fail "chart for $image_version not found at ${saved#"$SG_ROOT"} (set SG_HELM_ONLINE=1 to use the chart repository)" chart-missing
  run_logged helm --kubeconfig "$SG_KUBECONFIG" upgrade --install "$release" "$saved" --version "$image_version" "$@" ||
    fail "helm upgrade --install $release $image_version failed: ${LAST_OUTPUT:-no output}" helm-failed
  log "installed $release $image_version from ${saved#"$SG_ROOT"}"
}

# The customer's own certificate (`sourcegraph-launch tls`) lives on the data volume; a reinstall
# serves it again (apply-tls.sh, the script `tls` runs over SSH). A problem with it leaves the site
# answering on HTTP rather than failing the boot.
apply_tls() {
  [[ -f "$SG_VOLUME_DIR/tls/tls.crt" ]] || return 0
  if run_logged "$here/apply-tls.sh"; then
    return 0
  fi
  log "WARNING: could not serve the certificate in ${SG_VOLUME_DIR#"$SG_ROOT"}/tls: ${LAST_OUTPUT:-no output} (the site still answers on HTTP)"
}

# A Let's Encrypt certificate (`sourcegraph-launch tls --tls acme`): its settings and storage live
# on the data volume; a reinstall (a new root disk) writes Traefik's configuration again
# (apply-acme.sh). A problem with it leaves the site answering on HTTP rather than failing the boot.
apply_acme() {
  [[ -f "$SG_VOLUME_DIR/acme/settings" ]] || return 0
  if run_logged "$here/apply-acme.sh"; then
    return 0
  fi
  log "WARNING: could not configure Let's Encrypt from ${SG_VOLUME_DIR#"$SG_ROOT"}/acme: ${LAST_OUTPUT:-no output} (the site still answers on HTTP)"
}

log_started() {
  mkdir -p "$(dirname "$reboot_log")"
  printf '%s Started Sourcegraph on version %s\n' "$(now_utc)" "$image_version" >>"$reboot_log"
  log "Started Sourcegraph on version $image_version"
}

reinstall() {
  # The published repair for a k3s that does not start: fresh credentials (after a walk they are
  # fresh already).
  local force_reset=0
  [[ "$decision" == k3s-down && ${#WALK[@]} -eq 0 ]] && force_reset=1
  ensure_k3s_running "$force_reset"
  label_server_node

  set_stage installing
  capture_published_values
  pin_data_shaping_values
  run_logged kube delete ingress sourcegraph-ingress --ignore-not-found ||
    fail "could not delete ingress sourcegraph-ingress: $LAST_OUTPUT" kubectl-failed
  run_logged kube apply -f "$here/manifests/prometheus-override.yaml" ||
    fail "could not apply the Prometheus configuration: $LAST_OUTPUT" kubectl-failed
  # Later files win: what every size shares, the size, then what the volume carries, then the
  # customer's override.
  local values=(-f "$SG_COMMON_VALUES" -f "$values_file")
  [[ -f "$SG_INHERITED_VALUES" ]] && values+=(-f "$SG_INHERITED_VALUES")
  if [[ -f "$SG_OVERRIDE_FILE" ]]; then
    values+=(-f "$SG_OVERRIDE_FILE")
    log "using customer values ${SG_OVERRIDE_FILE#"$SG_ROOT"}"
  fi
  helm_install sourcegraph sourcegraph "${values[@]}"
  if [[ "$(env_field SG_IMAGE_EXECUTOR)" != 0 && -f "$SG_CHARTS_DIR/sourcegraph-executor-k8s-$image_version.tgz" ]]; then
    ensure_executor_values
    local executor_args=(-f "$values_file")
    [[ -f "$SG_INHERITED_EXECUTOR_VALUES" ]] && executor_args+=(-f "$SG_INHERITED_EXECUTOR_VALUES")
    [[ -f "$SG_EXECUTOR_VALUES" ]] && executor_args+=(-f "$SG_EXECUTOR_VALUES")
    # The override comes last so a customer can change anything, the token included.
    [[ -f "$SG_OVERRIDE_FILE" ]] && executor_args+=(-f "$SG_OVERRIDE_FILE")
    helm_install executor sourcegraph-executor-k8s "${executor_args[@]}"
  fi

  set_stage exposing
  run_logged kube apply -f "$here/manifests/ingress.yaml" ||
    fail "could not create ingress sourcegraph-ingress: $LAST_OUTPUT" kubectl-failed
  apply_tls
  apply_acme

  # Pods that started before the migrator finished sit in CrashLoopBackOff with growing delays;
  # the kubelet keeps that back-off in memory, so restarting k3s lets them retry at once. Pods keep
  # running across the restart (KillMode=process).
  set_stage recycling-pods
  sleep "$recycle_delay"
  systemctl restart k3s || fail "k3s did not restart after the install" k3s-start-failed
  wait_for_k3s

  set_stage recording-version
  write_version_file "$SG_DATA_VERSION_FILE" "$image_version"
  write_version_file "$root_version_file" "$image_version"
}

# ---- main --------------------------------------------------------------------------------------

image_user="$(env_field SG_IMAGE_USER)"
image_size="$(env_field SG_IMAGE_SIZE)"
[[ -n "$image_user" && -n "$image_size" ]] ||
  fail "${SG_IMAGE_ENV#"$SG_ROOT"} is missing or incomplete: this machine was not provisioned by build.sh" image-incomplete
root_version_file="$SG_ROOT/home/$image_user/.sourcegraph-version"
values_file="$SG_VALUES_DIR/$image_size.yaml"
image_version="$(read_version_file "$root_version_file")"
[[ -n "$image_version" ]] || fail "image version file ${root_version_file#"$SG_ROOT"} is missing or empty" image-incomplete
STATUS_TARGET_VERSION="$image_version"
[[ -f "$values_file" ]] || fail "Helm values for size $image_size not found at ${values_file#"$SG_ROOT"}" image-incomplete
[[ -f "$SG_COMMON_VALUES" ]] || fail "the Helm values every size shares are not at ${SG_COMMON_VALUES#"$SG_ROOT"}" image-incomplete

# Installing without the data disk would put Sourcegraph's state on the root disk and mark an
# empty directory as installed; wait for the disk instead and fail loudly if it never comes.
if ! poll_until "$data_disk_wait" mountpoint -q "$SG_DATA_MOUNT"; then
  fail "the data disk is not mounted on /mnt/data (attach it and reboot, or see: journalctl -b -u mnt-data.mount)" data-disk-missing
fi

# A disk the cloud made larger (`disk grow`) is used in full from this boot on. Growing is never
# worth failing the boot for: the filesystem still holds everything it held, so a failure is logged
# and the usage is reported as it is.
grow_data_filesystem() {
  local out rc=0
  out="$("$here/grow-data-disk.sh" 2>>"$SG_LOG_FILE")" || rc=$?
  if [[ $rc -ne 0 ]]; then
    log "growing the data disk's filesystem failed (exit $rc, see ${SG_LOG_FILE#"$SG_ROOT"}); the boot goes on with it as it is"
    out="$("$here/grow-data-disk.sh" --no-grow 2>>"$SG_LOG_FILE")" || out=""
  fi
  STATUS_DATA_DISK="$out"
}
grow_data_filesystem

data_version="$(read_version_file "$SG_DATA_VERSION_FILE")"
STATUS_DATA_VERSION="$data_version"
set_stage checking-volume
adopt_volume
plan_k3s_walk

if [[ -f "$SG_OVERRIDE_FILE" ]]; then
  decision=override
elif [[ -z "$data_version" || "$data_version" == *-base ]]; then
  decision=first-boot
elif [[ "$data_version" != "$image_version" ]]; then
  decision=upgrade
elif [[ ${#WALK[@]} -eq 0 ]] && k3s_running; then
  decision=unchanged
else
  decision="k3s-down"
fi
STATUS_DECISION="$decision"
log "decision: $decision (image ${image_version}, data ${data_version:-none}, volume $STATUS_VOLUME_ORIGIN, datastore k3s ${DATASTORE_K3S:-none})"
write_status

walk_datastore

if [[ "$decision" == unchanged ]]; then
  set_stage restarting-k3s
  systemctl restart k3s || fail "k3s did not restart" k3s-start-failed
  wait_for_k3s
  record_k3s_version "$K3S_VERSION"
  label_server_node
else
  reinstall
fi

log_started
STATUS_FINISHED_AT="$(now_utc)"
STATUS_LAST_ERROR=""
STATUS_ERROR_CODE=""
set_stage "done"
