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

write_status() {
  local tmp stage target decision started finished error updated
  mkdir -p "$SG_STATE_DIR"
  json_value stage "$STATUS_STAGE"
  json_value target "$STATUS_TARGET_VERSION"
  json_value decision "$STATUS_DECISION"
  json_value started "$STATUS_STARTED_AT"
  json_value finished "$STATUS_FINISHED_AT"
  json_value error "$STATUS_LAST_ERROR"
  json_value updated "$(now_utc)"
  # Same directory as the target, so the rename is atomic.
  tmp="$SG_STATE_DIR/.status.json.$$"
  printf '{\n  "stage": %s,\n  "targetVersion": %s,\n  "decision": %s,\n  "startedAt": %s,\n  "finishedAt": %s,\n  "lastError": %s,\n  "updatedAt": %s\n}\n' \
    "$stage" "$target" "$decision" "$started" "$finished" "$error" "$updated" >"$tmp"
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

# The user whose home holds the image version file, as on the published images: ec2-user on
# Amazon Linux; on Ubuntu the cloud's usual default (GCE images used "sourcegraph").
default_user_for() {
  local cloud="$1" os_id
  os_id="$(os_release_field ID)"
  case "$os_id" in
    amzn) printf 'ec2-user' ;;
    *)
      case "$cloud" in
        gcp) printf 'sourcegraph' ;;
        azure) printf 'azureuser' ;;
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
