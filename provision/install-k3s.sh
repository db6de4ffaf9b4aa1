#!/usr/bin/env bash
# Installs the pinned k3s (provision/versions.env) with its SHA256 verified against
# provision/checksums.sha256, plus its config and systemd unit. k3s is installed but neither
# enabled nor started: the boot service decides when it runs.
#
# We write the unit ourselves instead of piping get.k3s.io into sh: every byte that runs as root
# on the appliance is either pinned by checksum or in this repository.
#
# usage: install-k3s.sh
# env:   SG_K3S_DOWNLOAD_BASE  release download base (a mirror for air-gapped builds)
#        SG_CHECKSUMS_FILE     checksum list (default: checksums.sha256 beside this script)
set -euo pipefail

SG_SCRIPT_NAME=install-k3s
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

[[ $# -eq 0 ]] || usage_error "install-k3s.sh takes no arguments"

checksums="${SG_CHECKSUMS_FILE:-$here/checksums.sha256}"
download_base="${SG_K3S_DOWNLOAD_BASE:-https://github.com/k3s-io/k3s/releases/download}"
arch="$(go_arch)"
if [[ "$arch" == amd64 ]]; then
  release_asset=k3s
else
  release_asset="k3s-$arch"
fi
pinned_name="k3s_${K3S_VERSION}_${arch}"
binary="$SG_BIN_DIR/k3s"

installed_version() {
  if [[ -x "$binary" ]]; then
    "$binary" --version 2>/dev/null | awk 'NR == 1 { print $3 }'
  fi
}

current="$(installed_version)"
if [[ "$current" == "$K3S_VERSION" ]]; then
  log "k3s $K3S_VERSION already installed"
else
  log "installing k3s $K3S_VERSION (found: ${current:-none})"
  workdir="$(mktemp -d)"
  trap 'rm -rf "$workdir"' EXIT
  url="$download_base/${K3S_VERSION//+/%2B}/$release_asset"
  curl -fsSL --retry 3 --proto '=https' -o "$workdir/$pinned_name" "$url"
  verify_checksum "$workdir/$pinned_name" "$checksums"
  mkdir -p "$SG_BIN_DIR"
  install -m 0755 "$workdir/$pinned_name" "$binary"
  log "installed ${binary#"$SG_ROOT"}"
fi

# k3s is a multi-call binary; kubectl, crictl and ctr are names for it. A real binary of the same
# name that someone installed is left alone.
for tool in kubectl crictl ctr; do
  link="$SG_BIN_DIR/$tool"
  if [[ -e "$link" && ! -L "$link" ]]; then
    log "keeping existing ${link#"$SG_ROOT"}"
    continue
  fi
  ensure_symlink "$link" k3s
done

write_if_changed "$SG_ROOT/etc/rancher/k3s/config.yaml" 0600 <<'EOF' || true
# Managed by sourcegraph-launch (provision/install-k3s.sh). Same settings as the published
# Sourcegraph machine images, so a data disk moves between their images and ours.
node-name: sourcegraph-0
cluster-cidr: 10.10.0.0/16
write-kubeconfig: /etc/rancher/k3s/k3s.yaml
write-kubeconfig-mode: "0600"
EOF

unit_changed=0
if write_if_changed "$SG_SYSTEMD_DIR/k3s.service" 0644 <<'EOF'; then
# Managed by sourcegraph-launch (provision/install-k3s.sh).
[Unit]
Description=Lightweight Kubernetes (k3s) for Sourcegraph
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
KillMode=process
Delegate=yes
User=root
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/k3s server
EOF
  unit_changed=1
fi
if [[ $unit_changed -eq 1 ]]; then
  systemctl daemon-reload
fi

log "k3s $K3S_VERSION installed (not enabled; the boot service starts it)"
