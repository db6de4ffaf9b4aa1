#!/usr/bin/env bash
# Installs the pinned k3s (provision/versions.env) with its SHA256 verified against
# provision/checksums.sha256, the k3s releases a datastore from an older k3s is walked through (one
# per Kubernetes minor, kept in /var/lib/sourcegraph-launch/k3s/<version>/k3s), and the k3s
# config and systemd unit. k3s is installed but neither enabled nor started: the boot service
# decides when it runs.
#
# We write the unit ourselves instead of piping get.k3s.io into sh: every byte that runs as root
# on the appliance is either pinned by checksum or in this repository.
#
# The config makes the data volume self-contained: the k3s token is read from the volume
# (token-file), so any of our images boots any of our volumes, and "none" (what the published
# images used) is written there for a published volume. Before every start the unit checks that
# the data disk is mounted and that this k3s may run on the datastore (k3s-prestart.sh).
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

has_pinned_checksum() {
  grep -qE "^[0-9a-f]{64}  $(printf '%s' "k3s_${1}_${arch}" | sed 's/[.+]/\\&/g')\$" "$checksums"
}

# Downloads k3s VERSION to TARGET unless TARGET already is that version.
install_k3s_release() {
  local version="$1" target="$2" current workdir pinned_name url
  current="$(k3s_binary_version "$target")"
  if [[ "$current" == "$version" ]]; then
    log "k3s $version already installed at ${target#"$SG_ROOT"}"
    return 0
  fi
  log "installing k3s $version at ${target#"$SG_ROOT"} (found: ${current:-none})"
  pinned_name="k3s_${version}_${arch}"
  workdir="$(mktemp -d)"
  url="$download_base/${version//+/%2B}/$release_asset"
  if ! curl -fsSL --retry 3 --proto '=https' -o "$workdir/$pinned_name" "$url"; then
    rm -rf "$workdir"
    die "could not download k3s $version from $url"
  fi
  (verify_checksum "$workdir/$pinned_name" "$checksums") || {
    local rc=$?
    rm -rf "$workdir"
    exit "$rc"
  }
  mkdir -p "$(dirname "$target")"
  install -m 0755 "$workdir/$pinned_name" "$target"
  rm -rf "$workdir"
  log "installed ${target#"$SG_ROOT"}"
}

install_k3s_release "$K3S_VERSION" "$SG_BIN_DIR/k3s"

# The walk's releases. An architecture without a pinned checksum for one of them gets no binary:
# boot.sh then refuses a volume that would need it, with the reason in status.json, rather than
# start a k3s two minors ahead of its datastore.
for version in $K3S_WALK_VERSIONS; do
  if has_pinned_checksum "$version"; then
    install_k3s_release "$version" "$(k3s_walk_binary "$version")"
  else
    log "WARNING: no pinned SHA256 for k3s $version on $arch; this image cannot walk a datastore through Kubernetes 1.$(k3s_minor "$version")"
  fi
done

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
# Managed by sourcegraph-launch (provision/install-k3s.sh). Same node name and cluster CIDR as the
# published Sourcegraph machine images, so a data disk moves between their images and ours.
node-name: sourcegraph-0
cluster-cidr: 10.10.0.0/16
write-kubeconfig: /etc/rancher/k3s/k3s.yaml
write-kubeconfig-mode: "0600"
# The token the datastore's bootstrap data is encrypted with lives on the data volume: generated
# at a deployment's first boot, "none" for a volume made by a published image.
token-file: /mnt/data/.sourcegraph-launch/k3s-token
# The cloud's resolvers for pods and CoreDNS (written by k3s-prestart.sh before every start).
resolv-conf: /etc/rancher/k3s/resolv.conf
EOF

unit_changed=0
if write_if_changed "$SG_SYSTEMD_DIR/k3s.service" 0644 <<'EOF'; then
# Managed by sourcegraph-launch (provision/install-k3s.sh).
[Unit]
Description=Lightweight Kubernetes (k3s) for Sourcegraph
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target
# The datastore, volumes and token are on the data disk: without it k3s must not start (it would
# create an empty cluster on the root disk).
RequiresMountsFor=/mnt/data

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
ExecStartPre=/opt/sourcegraph-launch/provision/k3s-prestart.sh
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
