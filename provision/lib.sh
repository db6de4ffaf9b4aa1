# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables defined here are used by the scripts that source this file
# Shared helpers for the provision scripts. Sourced, never run.
#
# Every filesystem path goes through SG_ROOT (empty on a real instance) so the tests can run a
# script against a scratch directory; external commands are called by name so stubs on PATH
# replace them.

SG_ROOT="${SG_ROOT:-}"
SG_STATE_DIR="$SG_ROOT/var/lib/sourcegraph-launch"
SG_LOG_DIR="$SG_ROOT/var/log/sourcegraph-launch"
SG_STATUS_FILE="$SG_STATE_DIR/status.json"
SG_CHARTS_DIR="$SG_STATE_DIR/charts"
SG_VALUES_DIR="$SG_STATE_DIR/values"
SG_INSTALL_DIR="$SG_ROOT/opt/sourcegraph-launch"
SG_IMAGE_ENV="$SG_ROOT/etc/sourcegraph-launch/image.env"
SG_DATA_MOUNT="$SG_ROOT/mnt/data"
SG_DATA_LABEL="/mnt/data"
SG_DATA_VERSION_FILE="$SG_DATA_MOUNT/.sourcegraph-version"
SG_OVERRIDE_FILE="$SG_DATA_MOUNT/override.yaml"
SG_KUBECONFIG="$SG_ROOT/etc/rancher/k3s/k3s.yaml"
SG_K3S_DIR="$SG_ROOT/var/lib/rancher/k3s"
SG_BIN_DIR="$SG_ROOT/usr/local/bin"
SG_SYSTEMD_DIR="$SG_ROOT/etc/systemd/system"
SG_SIZES="XS S M L XL"
# The k3s binaries a datastore is walked through, one minor at a time (provision/versions.env).
SG_K3S_VERSIONS_DIR="$SG_STATE_DIR/k3s"
# Which data volume the k3s credentials on this root disk (server/cred, server/tls) belong to.
SG_CREDENTIALS_VOLUME_FILE="$SG_STATE_DIR/k3s-credentials-volume"
SG_K3S_RESOLV_CONF="$SG_ROOT/etc/rancher/k3s/resolv.conf"
# What travels with the data volume besides Sourcegraph's own data (see README "Data volume").
SG_VOLUME_DIR="$SG_DATA_MOUNT/.sourcegraph-launch"
SG_VOLUME_ORIGIN_FILE="$SG_VOLUME_DIR/origin"
SG_VOLUME_ID_FILE="$SG_VOLUME_DIR/volume-id"
SG_VOLUME_TOKEN_FILE="$SG_VOLUME_DIR/k3s-token"
SG_VOLUME_K3S_VERSION_FILE="$SG_VOLUME_DIR/k3s-version"
SG_INHERITED_VALUES="$SG_VOLUME_DIR/inherited-values.yaml"
SG_INHERITED_EXECUTOR_VALUES="$SG_VOLUME_DIR/inherited-executor-values.yaml"
SG_EXECUTOR_VALUES="$SG_VOLUME_DIR/executor-values.yaml"
# Helm values every size shares (presets/helm/common.yaml), passed before the size's: they pin the
# stateful services to the server node by the role label below.
SG_COMMON_VALUES="$SG_VALUES_DIR/common.yaml"
# The node label `scale` gives agents (=agent) and boot.sh the server (=server); the same key as
# ROLE_NODE_LABEL in src/core/scale-plan.ts (test/core/workload-placement.test.ts keeps them equal).
SG_ROLE_LABEL="sourcegraph-launch/role"
SG_SERVER_NODE=sourcegraph-0

# Exit codes that mean something to the caller (the launcher reports them).
readonly EXIT_FAILURE=1
readonly EXIT_USAGE=2
readonly EXIT_UNSAFE=3
readonly EXIT_CHECKSUM=4
readonly EXIT_NOT_FOUND=5

SG_SCRIPT_NAME="${SG_SCRIPT_NAME:-$(basename "${0%.sh}")}"
SG_LOG_FILE="${SG_LOG_FILE:-$SG_LOG_DIR/$SG_SCRIPT_NAME.log}"

# printf's %(...)T is a bash builtin: no fork per timestamp, and the boot path logs a lot.
now_utc() {
  local TZ=UTC0
  printf '%(%Y-%m-%dT%H:%M:%SZ)T' -1
}

# Logs go to the script's own file and to stderr, so stdout stays free for results
# (detect-data-disk.sh prints the device there).
SG_LOG_DIR_READY=0
log() {
  local line stamp
  local TZ=UTC0
  printf -v stamp '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  line="$stamp [$SG_SCRIPT_NAME] $*"
  if [[ $SG_LOG_DIR_READY -eq 0 ]]; then
    mkdir -p "${SG_LOG_FILE%/*}"
    SG_LOG_DIR_READY=1
  fi
  printf '%s\n' "$line" >>"$SG_LOG_FILE"
  printf '%s\n' "$line" >&2
}

die() {
  local code="${2:-$EXIT_FAILURE}"
  log "ERROR: $1"
  exit "$code"
}

usage_error() {
  die "$1" "$EXIT_USAGE"
}

# Appends LINE to FILE unless FILE already has exactly that line.
ensure_line() {
  local file="$1" line="$2"
  mkdir -p "$(dirname "$file")"
  if [[ -f "$file" ]] && grep -qxF -- "$line" "$file"; then
    return 0
  fi
  if [[ -s "$file" && -n "$(tail -c 1 "$file")" ]]; then
    printf '\n' >>"$file"
  fi
  printf '%s\n' "$line" >>"$file"
  log "added to ${file#"$SG_ROOT"}: $line"
}

# Writes stdin to FILE only when the content differs, atomically, with MODE (default 0644).
# Returns 0 when it wrote, 1 when FILE was already up to date, so callers can react to a change
# (reload a unit, apply sysctl) without doing it on every run.
write_if_changed() {
  local file="$1" mode="${2:-0644}" tmp
  mkdir -p "$(dirname "$file")"
  tmp="$(mktemp "$(dirname "$file")/.$(basename "$file").XXXXXX")"
  cat >"$tmp"
  if [[ -f "$file" && ! -L "$file" ]] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    if [[ "$(stat -c %a "$file")" != "${mode#0}" ]]; then
      chmod "$mode" "$file"
    fi
    return 1
  fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$file"
  log "wrote ${file#"$SG_ROOT"}"
  return 0
}

# Makes LINK a symlink to TARGET. An existing empty directory at LINK is replaced; anything with
# content is refused, because that content would silently disappear behind the link.
ensure_symlink() {
  local link="$1" target="$2"
  if [[ -L "$link" ]]; then
    if [[ "$(readlink "$link")" == "$target" ]]; then
      return 0
    fi
    rm -f "$link"
  elif [[ -d "$link" ]]; then
    if [[ -n "$(ls -A "$link")" ]]; then
      die "${link#"$SG_ROOT"} is a non-empty directory; move its content to ${target#"$SG_ROOT"} first" "$EXIT_UNSAFE"
    fi
    rmdir "$link"
  elif [[ -e "$link" ]]; then
    die "${link#"$SG_ROOT"} exists and is not a directory or symlink" "$EXIT_UNSAFE"
  fi
  mkdir -p "$(dirname "$link")"
  ln -s "$target" "$link"
  log "linked ${link#"$SG_ROOT"} -> ${target#"$SG_ROOT"}"
}

# Sets the variable named $1 to $2 as a JSON string literal, or null when $2 is empty.
json_value() {
  local -n out="$1"
  local s="$2"
  if [[ -z "$s" ]]; then
    out=null
    return 0
  fi
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\r'/\\r}"
  s="${s//$'\t'/\\t}"
  # Other control characters would make the file invalid JSON; they carry no meaning here.
  s="${s//[$'\001'-$'\010'$'\013'$'\014'$'\016'-$'\037']/}"
  out="\"$s\""
}

# Status read by the launcher's readiness wait over SSH. Fields live in STATUS_* variables so each
# stage change only names what changed; the file is replaced atomically so a reader never sees
# half of it.
STATUS_STAGE=""
STATUS_TARGET_VERSION=""
STATUS_DECISION=""
STATUS_STARTED_AT=""
STATUS_FINISHED_AT=""
STATUS_LAST_ERROR=""
# A stable code for lastError (null when there is none), so the launcher can act on it without
# parsing prose: see README "Status file" for the list.
STATUS_ERROR_CODE=""
# What the data volume is: its Sourcegraph version file as found, who made it (published,
# sourcegraph-launch, new) and the k3s version its datastore was last run by.
STATUS_DATA_VERSION=""
STATUS_VOLUME_ORIGIN=""
STATUS_K3S_VERSION=""
# The data disk's usage as grow-data-disk.sh prints it (a JSON object), for `status` and `doctor`.
STATUS_DATA_DISK=""

write_status() {
  local tmp stage target decision started finished error code data origin k3s updated disk=null
  mkdir -p "$SG_STATE_DIR"
  json_value stage "$STATUS_STAGE"
  json_value target "$STATUS_TARGET_VERSION"
  json_value decision "$STATUS_DECISION"
  json_value started "$STATUS_STARTED_AT"
  json_value finished "$STATUS_FINISHED_AT"
  json_value error "$STATUS_LAST_ERROR"
  json_value code "$STATUS_ERROR_CODE"
  json_value data "$STATUS_DATA_VERSION"
  json_value origin "$STATUS_VOLUME_ORIGIN"
  json_value k3s "$STATUS_K3S_VERSION"
  json_value updated "$(now_utc)"
  # Only a one-line object is written as it is: anything else would make the file invalid JSON.
  [[ "$STATUS_DATA_DISK" =~ ^\{[^$'\n']*\}$ ]] && disk="$STATUS_DATA_DISK"
  # Same directory as the target, so the rename is atomic.
  tmp="$SG_STATE_DIR/.status.json.$$"
  printf '{\n  "stage": %s,\n  "targetVersion": %s,\n  "decision": %s,\n  "startedAt": %s,\n  "finishedAt": %s,\n  "lastError": %s,\n  "errorCode": %s,\n  "dataVersion": %s,\n  "volumeOrigin": %s,\n  "k3sVersion": %s,\n  "dataDisk": %s,\n  "updatedAt": %s\n}\n' \
    "$stage" "$target" "$decision" "$started" "$finished" "$error" "$code" "$data" "$origin" "$k3s" "$disk" "$updated" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$SG_STATUS_FILE"
}

set_stage() {
  STATUS_STAGE="$1"
  log "stage: $1"
  write_status
}

# Reads a one-line version file; empty output when the file is missing.
read_version_file() {
  local file="$1"
  if [[ -f "$file" ]]; then
    head -n 1 "$file" | tr -d '[:space:]'
  fi
}

write_version_file() {
  local file="$1" version="$2"
  printf '%s\n' "$version" | write_if_changed "$file" 0644 || true
}

valid_size() {
  local s
  for s in $SG_SIZES; do
    [[ "$1" == "$s" ]] && return 0
  done
  return 1
}

# Sourcegraph versions are X.Y.Z where Z is a build number for 5.11+ (e.g. 6.12.5040).
valid_version() {
  [[ "$1" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]
}

valid_cloud() {
  [[ "$1" == aws || "$1" == gcp || "$1" == azure ]]
}

# Reads KEY=VALUE from /etc/os-release without sourcing it (it is not ours to execute).
os_release_field() {
  local key="$1" file="$SG_ROOT/etc/os-release" value
  [[ -f "$file" ]] || return 0
  value="$(grep -E "^$key=" "$file" | head -n 1 | cut -d= -f2-)"
  value="${value#\"}"
  value="${value%\"}"
  printf '%s' "$value"
}

# The login user, whose home holds the image version file as on the published images: ec2-user
# on Amazon Linux, ubuntu on Ubuntu at AWS, and "sourcegraph" on GCE (as the published GCE images
# had) and Azure (the launcher creates the VM with that admin user).
default_user_for() {
  local cloud="$1" os_id
  os_id="$(os_release_field ID)"
  case "$os_id" in
    amzn) printf 'ec2-user' ;;
    *)
      case "$cloud" in
        gcp | azure) printf 'sourcegraph' ;;
        *) printf 'ubuntu' ;;
      esac
      ;;
  esac
}

# Kubernetes/Helm release artefacts are named by Go architecture.
go_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) printf 'amd64' ;;
    aarch64 | arm64) printf 'arm64' ;;
    *) die "unsupported CPU architecture: $(uname -m)" "$EXIT_UNSAFE" ;;
  esac
}

# Verifies FILE in its directory against the line for its name in the checksum list.
verify_checksum() {
  local file="$1" checksums="$2" name line
  name="$(basename "$file")"
  line="$(grep -E "^[0-9a-f]{64}  $(printf '%s' "$name" | sed 's/[.+]/\\&/g')\$" "$checksums" || true)"
  if [[ -z "$line" ]]; then
    die "no pinned SHA256 for $name in $checksums" "$EXIT_CHECKSUM"
  fi
  if ! (cd "$(dirname "$file")" && printf '%s\n' "$line" | sha256sum -c --status -); then
    die "SHA256 mismatch for $name (expected ${line%% *})" "$EXIT_CHECKSUM"
  fi
  log "verified SHA256 of $name"
}

# ---- k3s versions and the datastore on the data volume ------------------------------------------

# Prints the Kubernetes minor of a k3s version: v1.35.0+k3s1 -> 35.
k3s_minor() {
  local v="${1#v}"
  v="${v#*.}"
  printf '%s' "${v%%.*}"
}

valid_k3s_version() {
  [[ "$1" =~ ^v1\.[0-9]+\.[0-9]+\+k3s[0-9]+$ ]]
}

# The version a k3s binary reports ("k3s version v1.35.0+k3s1 (...)"), empty when it does not run.
k3s_binary_version() {
  [[ -x "$1" ]] || return 0
  "$1" --version 2>/dev/null | awk 'NR == 1 { print $3 }'
}

# Where an intermediate k3s release of the datastore walk is kept on the root disk.
k3s_walk_binary() {
  printf '%s/%s/k3s' "$SG_K3S_VERSIONS_DIR" "$1"
}

datastore_exists() {
  [[ -s "$SG_DATA_MOUNT/db/state.db" ]]
}

# The newest k3s version written into the datastore: every k3s start records its version in the
# node object (kubeletVersion), so the newest one found is the k3s that last ran on this data.
# Used for volumes that carry no record of their own (published images never wrote one).
scan_datastore_k3s_version() {
  local files=() f
  for f in "$SG_DATA_MOUNT/db/state.db" "$SG_DATA_MOUNT/db/state.db-wal"; do
    [[ -s "$f" ]] && files+=("$f")
  done
  [[ ${#files[@]} -gt 0 ]] || return 0
  grep -ahoE 'v1\.[0-9]+\.[0-9]+\+k3s[0-9]+' "${files[@]}" 2>/dev/null | sort -uV | tail -n 1 || true
}

# The k3s version the datastore was last run by: the volume's own record, else what the datastore
# itself shows; empty for a volume without a datastore (nothing to walk).
datastore_k3s_version() {
  local recorded
  recorded="$(read_version_file "$SG_VOLUME_K3S_VERSION_FILE")"
  if valid_k3s_version "$recorded"; then
    printf '%s' "$recorded"
  elif datastore_exists; then
    scan_datastore_k3s_version
  fi
}

# Who made the data volume: "sourcegraph-launch" (ours, it says so), "published" (a datastore and
# no record of ours: a published Sourcegraph image), or "new" (no datastore yet).
volume_origin() {
  local recorded
  recorded="$(read_version_file "$SG_VOLUME_ORIGIN_FILE")"
  if [[ -n "$recorded" ]]; then
    printf '%s' "$recorded"
  elif datastore_exists; then
    printf 'published'
  else
    printf 'new'
  fi
}

# 32 random bytes as hex: k3s tokens and the executor access token.
random_hex() {
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

# Writes a file that only root may read, without a window where it is readable by others.
write_secret_file() {
  local file="$1" content="$2"
  mkdir -p "$(dirname "$file")"
  (
    umask 077
    printf '%s\n' "$content" >"$file.tmp.$$"
  )
  chmod 0600 "$file.tmp.$$"
  mv -f "$file.tmp.$$" "$file"
}

# The resolv.conf k3s hands to the kubelet (and so to CoreDNS, which forwards to it): the cloud's
# resolver the host itself uses, never a loopback stub such as systemd-resolved's 127.0.0.53 that
# pods cannot reach. Private DNS names (VPC zones, on-premises forwarders) then resolve in pods.
write_k3s_resolv_conf() {
  local source="" candidate servers
  for candidate in "$SG_ROOT/run/systemd/resolve/resolv.conf" "$SG_ROOT/etc/resolv.conf"; do
    [[ -f "$candidate" ]] || continue
    servers="$(awk '$1 == "nameserver" && $2 !~ /^(127\.|::1$|0\.0\.0\.0$)/ { print $2 }' "$candidate")"
    if [[ -n "$servers" ]]; then
      source="$candidate"
      break
    fi
  done
  if [[ -z "$source" ]]; then
    log "WARNING: no non-loopback nameserver in /run/systemd/resolve/resolv.conf or /etc/resolv.conf; pods use the host's resolv.conf as is"
    [[ -f "$SG_ROOT/etc/resolv.conf" ]] || return 0
    source="$SG_ROOT/etc/resolv.conf"
  fi
  {
    printf '# Managed by sourcegraph-launch: the resolvers of %s, for pods (k3s resolv-conf).\n' "${source#"$SG_ROOT"}"
    awk '$1 == "nameserver" && $2 !~ /^(127\.|::1$|0\.0\.0\.0$)/ { print } $1 == "search" || $1 == "options" { print }' "$source"
  } | write_if_changed "$SG_K3S_RESOLV_CONF" 0644 || true
}

# ---- disks -------------------------------------------------------------------------------------

# SG_DISK_CANDIDATES (whitespace-separated block devices) restricts every disk these scripts may
# look at, pick or format; the loop-device tests set it so the machine's own disks can never be
# reached. Unset on a real instance, where every disk is considered (and judged).
disk_candidates_restricted() {
  [[ -n "${SG_DISK_CANDIDATES:-}" ]]
}

# True when DEVICE (a /dev path) may be used: no restriction, or it is one of the candidates or a
# partition of one.
disk_candidate_allowed() {
  local device="$1" allowed
  disk_candidates_restricted || return 0
  for allowed in $SG_DISK_CANDIDATES; do
    [[ "$device" == "$allowed" || "$device" =~ ^${allowed}p?[0-9]+$ ]] && return 0
  done
  return 1
}

# Prints what makes DEVICE not blank (a filesystem or partition table signature, an ambiguous
# probe, data in its first MiBs), or nothing when it is safe to format. It probes the device
# itself (blkid -p, wipefs) instead of trusting lsblk's or blkid's cache, which can lag behind a
# freshly attached disk.
device_not_blank_reason() {
  local device="$1" rc=0 probe signatures
  probe="$(blkid -p -o export "$device" 2>&1)" || rc=$?
  case "$rc" in
    0) printf 'it carries %s' "$(printf '%s\n' "$probe" | grep -E '^(TYPE|PTTYPE|LABEL)=' | tr '\n' ' ' | sed 's/ $//')"; return 0 ;;
    2) ;;
    *) printf 'blkid cannot tell what is on it (exit %s: %s)' "$rc" "$(printf '%s' "$probe" | tail -n 1)"; return 0 ;;
  esac
  signatures="$(wipefs --no-act --noheadings --output TYPE,OFFSET "$device" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')" || true
  if [[ -n "$signatures" ]]; then
    printf 'wipefs finds signatures on it (%s)' "$signatures"
    return 0
  fi
  # A new cloud disk reads as zeros. Anything else with no signature is data we cannot recognise.
  local nonzero
  if ! nonzero="$(set -o pipefail; dd if="$device" bs=1M count=4 status=none 2>/dev/null | tr -d '\0' | wc -c)"; then
    printf 'its first 4 MiB cannot be read'
  elif [[ "$nonzero" -ne 0 ]]; then
    printf 'its first 4 MiB hold data, though no filesystem was recognised'
  fi
}
