#!/usr/bin/env bash
# Kernel settings and process limits Sourcegraph needs (zoekt's file watches and memory maps),
# in drop-in files of our own instead of appending to sysctl.conf / limits.conf, so re-running
# never duplicates a line. Also lets the pod network through firewalld when it is active
# (Amazon Linux 2023 and Ubuntu 24.04 cloud images ship without an active firewall).
#
# usage: system-tuning.sh
set -euo pipefail

SG_SCRIPT_NAME=system-tuning
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 0 ]] || usage_error "system-tuning.sh takes no arguments"

CLUSTER_CIDR=10.10.0.0/16
SERVICE_CIDR=10.43.0.0/16
sysctl_file="$SG_ROOT/etc/sysctl.d/90-sourcegraph.conf"
limits_file="$SG_ROOT/etc/security/limits.d/90-sourcegraph.conf"

if write_if_changed "$sysctl_file" 0644 <<'EOF'; then
# Managed by sourcegraph-launch (provision/system-tuning.sh).
fs.inotify.max_user_watches=128000
vm.max_map_count=300000
EOF
  sysctl -p "${sysctl_file#"$SG_ROOT"}"
fi

write_if_changed "$limits_file" 0644 <<'EOF' || true
# Managed by sourcegraph-launch (provision/system-tuning.sh).
*    soft  nproc   8192
*    hard  nproc   16384
*    soft  nofile  262144
*    hard  nofile  262144
EOF

if systemctl is-active --quiet firewalld 2>/dev/null; then
  changed=0
  for cidr in "$CLUSTER_CIDR" "$SERVICE_CIDR"; do
    if ! firewall-cmd --permanent --zone=trusted --query-source="$cidr" >/dev/null 2>&1; then
      firewall-cmd --permanent --zone=trusted --add-source="$cidr" >/dev/null
      log "firewalld: trusted $cidr"
      changed=1
    fi
  done
  if [[ $changed -eq 1 ]]; then
    firewall-cmd --reload >/dev/null
  fi
fi

log "kernel settings and limits in place"
