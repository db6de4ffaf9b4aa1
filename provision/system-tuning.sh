#!/usr/bin/env bash
# Kernel settings and process limits Sourcegraph needs (zoekt's file watches and memory maps),
# in drop-in files of our own instead of appending to sysctl.conf / limits.conf, so re-running
# never duplicates a line. Also lets the pod network through the host firewall when one is active:
# firewalld (Amazon Linux) or ufw (Ubuntu). The cloud images of Amazon Linux 2023 and Ubuntu
# 24.04 ship with neither active, like the published GCE image; the cloud firewall the launcher
# sets up is what faces the network (80/443 from the user's CIDRs, 22 for SSH, never 6443).
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

# ufw: pods and services reach the API server and each other through the host (kube-proxy DNATs
# the kubernetes service to :6443), so their networks are allowed; the web ports are allowed; the
# k3s API is denied to everyone else (a volume from a published image keeps the token "none",
# which must never be usable from outside). ufw skips rules it already has.
# The status is read whole before grep looks at it: `ufw status | grep -q` under pipefail fails
# when grep stops reading early and ufw gets SIGPIPE, which read as "inactive".
ufw_status=""
if command -v ufw >/dev/null 2>&1; then ufw_status="$(ufw status 2>/dev/null || true)"; fi
if grep -q '^Status: active' <<<"$ufw_status"; then
  rules="$ufw_status"
  add_ufw_rule() {
    local shown="$1"
    shift
    if ! grep -qE "$shown" <<<"$rules"; then
      ufw "$@" >/dev/null
      log "ufw: $*"
    fi
  }
  add_ufw_rule "ALLOW +$CLUSTER_CIDR" allow from "$CLUSTER_CIDR"
  add_ufw_rule "ALLOW +${SERVICE_CIDR}" allow from "$SERVICE_CIDR"
  add_ufw_rule '^80/tcp +ALLOW' allow 80/tcp
  add_ufw_rule '^443/tcp +ALLOW' allow 443/tcp
  add_ufw_rule '^6443/tcp +DENY' deny 6443/tcp
fi

log "kernel settings and limits in place"
