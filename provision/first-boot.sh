#!/usr/bin/env bash
# The user-data route: provisions a plain Amazon Linux 2023 / Ubuntu 24.04 instance at its first
# boot (no image of ours needed), then hands over to the boot service, which installs
# Sourcegraph. The launcher ships the bundle (provision/ and presets/helm/) in the user data and
# calls this script; it returns quickly so cloud-init finishes, and the launcher follows
# /var/lib/sourcegraph-launch/status.json over SSH.
#
# An existing data disk (a restore or an upgrade onto a fresh OS) keeps its data and its version
# file: the boot service then sees the versions differ and upgrades.
#
# usage: first-boot.sh --version X.Y.Z --size XS|S|M|L|XL --cloud aws|gcp|azure
#                      [--user NAME] [--data-device /dev/X] [--presets DIR]
set -Eeuo pipefail

SG_SCRIPT_NAME=first-boot
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

version=""
args=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --version)
      [[ $# -ge 2 ]] || usage_error "--version needs a value"
      version="$2"
      shift 2
      ;;
    --size | --cloud | --user | --data-device | --presets)
      [[ $# -ge 2 ]] || usage_error "$1 needs a value"
      shift 2
      ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
valid_version "$version" || usage_error "--version must look like 6.12.5040"

marker="$SG_STATE_DIR/first-boot.done"
if [[ -f "$marker" ]]; then
  log "already provisioned ($(cat "$marker")); nothing to do"
  exit 0
fi

on_exit() {
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    STATUS_STAGE=failed
    STATUS_FINISHED_AT="$(now_utc)"
    STATUS_LAST_ERROR="${STATUS_LAST_ERROR:-first-boot provisioning failed (exit $rc); see /var/log/sourcegraph-launch/}"
    write_status
    log "first boot failed: $STATUS_LAST_ERROR"
  fi
}
trap on_exit EXIT

STATUS_STARTED_AT="$(now_utc)"
STATUS_TARGET_VERSION="$version"
STATUS_DECISION=first-boot
set_stage provisioning

# build.sh's own log has the details; the launcher gets its last error line in status.json.
errors="$(mktemp)"
rc=0
"$here/build.sh" --no-prewarm "${args[@]}" 2>"$errors" || rc=$?
if [[ $rc -ne 0 ]]; then
  cat "$errors" >&2
  STATUS_LAST_ERROR="$(grep -E 'ERROR: ' "$errors" | tail -n 1 | sed 's/^.*ERROR: //')"
  # The exit codes of the scripts (README "Exit codes") as the launcher reads them.
  case "$rc" in
    "$EXIT_UNSAFE") STATUS_ERROR_CODE="refused-unsafe" ;;
    "$EXIT_CHECKSUM") STATUS_ERROR_CODE="checksum-mismatch" ;;
    "$EXIT_NOT_FOUND") STATUS_ERROR_CODE="data-disk-not-found" ;;
    *) STATUS_ERROR_CODE="provisioning-failed" ;;
  esac
  rm -f "$errors"
  exit "$rc"
fi
cat "$errors" >&2
rm -f "$errors"

printf '%s %s\n' "$version" "$(now_utc)" >"$marker"
set_stage provisioned
# --no-block: cloud-init must not wait for the install; status.json reports its progress.
systemctl start --no-block sourcegraph-boot.service
log "provisioned; sourcegraph-boot.service started"
# Enabled by build.sh on GCE only; it starts at every later boot by itself.
if systemctl is-enabled --quiet sourcegraph-run-agent.service 2>/dev/null; then
  systemctl start --no-block sourcegraph-run-agent.service
  log "sourcegraph-run-agent.service started"
fi
