#!/usr/bin/env bash
# Runs before every start of k3s.service (ExecStartPre), whoever starts it: systemd at boot,
# boot.sh, or someone at a shell. k3s only starts when
#   - the data disk is mounted on /mnt/data (else k3s would make an empty cluster on the root disk),
#   - the data volume carries its k3s token (boot.sh writes it when it adopts a volume),
#   - this k3s may run on the datastore: the same Kubernetes minor as the k3s that last ran it, or
#     the next one. Kubernetes moves a datastore one minor at a time and never back, so anything
#     else is refused (boot.sh walks an older datastore through the intermediate releases).
# It also points the pods' resolver at the cloud's (write_k3s_resolv_conf), before k3s reads it.
#
# The k3s binary checked is SG_K3S_BINARY when set (the walk's drop-in sets it to an intermediate
# release), else /usr/local/bin/k3s.
#
# usage: k3s-prestart.sh
# Exit codes: 0 k3s may start, 3 refused (reason logged and in the journal).
set -euo pipefail

SG_SCRIPT_NAME="k3s-prestart"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 0 ]] || usage_error "k3s-prestart.sh takes no arguments"

binary="${SG_K3S_BINARY:-$SG_BIN_DIR/k3s}"

mountpoint -q "$SG_DATA_MOUNT" ||
  die "refusing to start k3s: the data disk is not mounted on /mnt/data (its datastore would be created on the root disk)" "$EXIT_UNSAFE"
[[ -s "$SG_VOLUME_TOKEN_FILE" ]] ||
  die "refusing to start k3s: the data volume has no k3s token (${SG_VOLUME_TOKEN_FILE#"$SG_ROOT"}); sourcegraph-boot.service writes it" "$EXIT_UNSAFE"

binary_version="$(k3s_binary_version "$binary")"
valid_k3s_version "$binary_version" || die "refusing to start k3s: ${binary#"$SG_ROOT"} does not report a k3s version" "$EXIT_UNSAFE"
datastore_version="$(datastore_k3s_version)"
if [[ -n "$datastore_version" ]]; then
  from="$(k3s_minor "$datastore_version")"
  to="$(k3s_minor "$binary_version")"
  if ((to < from)); then
    die "refusing to start k3s $binary_version: the datastore was last run by k3s $datastore_version, and Kubernetes cannot move a datastore back to an older minor" "$EXIT_UNSAFE"
  elif ((to > from + 1)); then
    die "refusing to start k3s $binary_version: the datastore was last run by k3s $datastore_version; it must be walked up one minor at a time (sourcegraph-boot.service does this)" "$EXIT_UNSAFE"
  fi
elif datastore_exists; then
  die "refusing to start k3s $binary_version: the datastore shows no k3s version and the volume has no record of one (${SG_VOLUME_K3S_VERSION_FILE#"$SG_ROOT"})" "$EXIT_UNSAFE"
fi

write_k3s_resolv_conf
log "k3s $binary_version may start (datastore: ${datastore_version:-new})"
