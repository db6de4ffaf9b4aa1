#!/usr/bin/env bash
# Image build entry point: turns a plain Amazon Linux 2023 (AWS) or Ubuntu 24.04 LTS (GCE, Azure)
# VM with an empty data disk into a Sourcegraph appliance with the published images' on-disk
# layout. Run as root from an unpacked bundle holding provision/ and presets/helm/ side by side.
#
#   1. the OS packages the scripts need, if missing   (install-packages.sh: dnf or apt-get)
#   2. kernel settings, limits, host firewall          (system-tuning.sh)
#   3. data disk: format if blank, label, fstab, mount, links into /mnt/data (setup-data-disk.sh)
#   4. pinned, checksum-verified k3s (and the releases a datastore is walked through) and Helm
#   5. the version's charts saved on disk, digest-verified (fetch-charts.sh)
#   6. scripts to /opt/sourcegraph-launch/provision, Helm values per size and the values every
#      size shares (common.yaml) to /var/lib/sourcegraph-launch/values, /etc/sourcegraph-launch/image.env
#   7. the login user (created when the OS has none yet) and the version files:
#      /home/<user>/.sourcegraph-version = <v>;
#      /mnt/data/.sourcegraph-version = <v>-base (only if the data disk has none yet)
#   8. the boot service, enabled
#   9. unless --no-prewarm: k3s is started once and every container image of the version's charts
#      is pulled into the root disk's image store (faster, offline-capable first boot). Nothing is
#      installed: no database, no token, no secret is made at build time; seal-image.sh removes
#      what k3s itself made (its datastore, certificates and keys)
#  10. k3s stopped, with every pod, and disabled: the boot service owns it from now on
#
# usage: build.sh --version X.Y.Z --size XS|S|M|L|XL --cloud aws|gcp|azure
#                 [--user NAME] [--data-device /dev/X] [--presets DIR] [--no-prewarm]
set -euo pipefail

SG_SCRIPT_NAME=build
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

version="" size="" cloud="" user="" presets="" prewarm=1
device_args=()
need_value() {
  [[ $2 -ge 2 ]] || usage_error "$1 needs a value"
}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --version) need_value "$1" $#; version="$2"; shift 2 ;;
    --size) need_value "$1" $#; size="$2"; shift 2 ;;
    --cloud) need_value "$1" $#; cloud="$2"; shift 2 ;;
    --user) need_value "$1" $#; user="$2"; shift 2 ;;
    --data-device) need_value "$1" $#; device_args=(--device "$2"); shift 2 ;;
    --presets) need_value "$1" $#; presets="$2"; shift 2 ;;
    --no-prewarm) prewarm=0; shift ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
valid_version "$version" || usage_error "--version must look like 6.12.5040"
valid_size "$size" || usage_error "--size must be one of: $SG_SIZES"
valid_cloud "$cloud" || usage_error "--cloud must be aws, gcp or azure"
if [[ -z "$presets" ]]; then
  # From a bundle the presets sit beside provision/; the installed copy in /opt has its own.
  presets="$here/../presets/helm"
  [[ -d "$presets" ]] || presets="$SG_VALUES_DIR"
fi
[[ -f "$presets/$size.yaml" ]] || usage_error "no Helm values for $size in $presets"
[[ -f "$presets/common.yaml" ]] || usage_error "no common.yaml (the Helm values every size shares) in $presets"
if [[ -n "$user" ]]; then
  [[ "$user" =~ ^[a-z_][a-z0-9_.-]*$ ]] || usage_error "--user is not a valid user name: $user"
else
  user="$(default_user_for "$cloud")"
fi

os_id="$(os_release_field ID)"
os_version="$(os_release_field VERSION_ID)"
case "$os_id:$os_version" in
  amzn:2023 | ubuntu:24.04) log "base OS: $os_id $os_version" ;;
  *) log "WARNING: base OS ${os_id:-unknown} ${os_version:-} is not Amazon Linux 2023 or Ubuntu 24.04; continuing" ;;
esac
log "building Sourcegraph $version, size $size, for $cloud (version file owner: $user)"

"$here/install-packages.sh" --cloud "$cloud"
"$here/system-tuning.sh"
"$here/setup-data-disk.sh" --cloud "$cloud" "${device_args[@]}"
"$here/install-k3s.sh"
"$here/install-helm.sh"
"$here/fetch-charts.sh" --version "$version"

# The boot service runs the installed copy, so the image does not depend on where the bundle
# was unpacked during the build.
install_file() {
  local source="$1" target="$2" mode="$3"
  write_if_changed "$target" "$mode" <"$source" || true
}
for file in "$here"/*.sh; do
  install_file "$file" "$SG_INSTALL_DIR/provision/$(basename "$file")" 0755
done
for file in versions.env checksums.sha256 sourcegraph-boot.service sourcegraph-run-agent.service README.md "$here"/manifests/*.yaml; do
  file="${file#"$here/"}"
  [[ -f "$here/$file" ]] && install_file "$here/$file" "$SG_INSTALL_DIR/provision/$file" 0644
done
for s in $SG_SIZES; do
  [[ -f "$presets/$s.yaml" ]] && install_file "$presets/$s.yaml" "$SG_VALUES_DIR/$s.yaml" 0644
done
install_file "$presets/common.yaml" "$SG_COMMON_VALUES" 0644

write_if_changed "$SG_IMAGE_ENV" 0644 <<EOF || true
# Written by sourcegraph-launch provision/build.sh; read by boot.sh.
SG_IMAGE_VERSION=$version
SG_IMAGE_SIZE=$size
SG_IMAGE_CLOUD=$cloud
SG_IMAGE_USER=$user
EOF

# The login user owns the home that holds the image version file. Cloud images create it at first
# boot from the cloud's metadata; an image built on a plain OS may not have it yet (GCE images
# have no default user), and then it is created here so its home exists with the right owner.
# On GCE the guest agent makes the same user from the ssh-keys metadata while first boot runs:
# useradd then finds it made ("already exists"), which is what was wanted.
if ! grep -q "^$user:" "$SG_ROOT/etc/passwd" 2>/dev/null; then
  if useradd --create-home --shell /bin/bash --user-group "$user"; then
    log "created user $user"
  elif grep -q "^$user:" "$SG_ROOT/etc/passwd" 2>/dev/null; then
    log "user $user was made meanwhile (the guest agent); using it"
  else
    die "could not create the login user $user"
  fi
fi
home_dir="$SG_ROOT/home/$user"
mkdir -p "$home_dir"
write_version_file "$home_dir/.sourcegraph-version" "$version"
write_version_file "$home_dir/.sourcegraph-size" "$size"
if [[ -z "$(read_version_file "$SG_DATA_VERSION_FILE")" ]]; then
  write_version_file "$SG_DATA_VERSION_FILE" "$version-base"
else
  log "data disk already records version $(read_version_file "$SG_DATA_VERSION_FILE"); leaving it"
fi

if write_if_changed "$SG_SYSTEMD_DIR/sourcegraph-boot.service" 0644 <"$here/sourcegraph-boot.service"; then
  systemctl daemon-reload
fi
if ! systemctl is-enabled --quiet sourcegraph-boot.service 2>/dev/null; then
  systemctl enable sourcegraph-boot.service
  log "enabled sourcegraph-boot.service"
fi

# GCE has no run-command API: this agent is how the launcher reaches an instance with SSH closed
# (gce-run-agent.sh). AWS (Systems Manager) and Azure (Run Command) bring their own.
if [[ "$cloud" == gcp ]]; then
  if write_if_changed "$SG_SYSTEMD_DIR/sourcegraph-run-agent.service" 0644 <"$here/sourcegraph-run-agent.service"; then
    systemctl daemon-reload
  fi
  if ! systemctl is-enabled --quiet sourcegraph-run-agent.service 2>/dev/null; then
    systemctl enable sourcegraph-run-agent.service
    log "enabled sourcegraph-run-agent.service"
  fi
fi

# The container images of every chart saved for this version, as the size's values render them.
chart_images() {
  local chart rendered
  rendered="$(mktemp -d)"
  for chart in "$SG_CHARTS_DIR"/*-"$version".tgz; do
    [[ -f "$chart" ]] || continue
    helm template sourcegraph "$chart" -f "$SG_COMMON_VALUES" -f "$SG_VALUES_DIR/$size.yaml" >"$rendered/$(basename "$chart").yaml" 2>/dev/null ||
      die "helm template of ${chart#"$SG_ROOT"} failed"
  done
  cat "$rendered"/*.yaml | awk '$1 == "image:" || ($1 == "-" && $2 == "image:") { print $NF }' | tr -d "\"'" | sort -u
  rm -rf "$rendered"
}

prewarm_marker="$SG_STATE_DIR/prewarmed-$version"
if [[ $prewarm -eq 1 && ! -f "$prewarm_marker" ]]; then
  log "prewarm: starting k3s once to pull the images into the image store"
  # A throwaway token for the build's own datastore; seal-image.sh removes both.
  [[ -s "$SG_VOLUME_TOKEN_FILE" ]] || write_secret_file "$SG_VOLUME_TOKEN_FILE" "$(random_hex)"
  systemctl start k3s
  step="${SG_POLL_INTERVAL:-5}"
  ((step > 0)) || step=1
  ready=0
  for ((waited = 0; waited < ${SG_PREWARM_TIMEOUT:-300}; waited += step)); do
    if kubectl --kubeconfig "$SG_KUBECONFIG" get --raw /readyz >/dev/null 2>&1; then
      ready=1
      break
    fi
    sleep "$step"
  done
  [[ $ready -eq 1 ]] || die "k3s did not become ready for the prewarm (see: journalctl -u k3s)"
  images_file="$(mktemp)"
  chart_images >"$images_file"
  mapfile -t images <"$images_file"
  rm -f "$images_file"
  [[ ${#images[@]} -gt 0 ]] || die "the charts of $version name no container images"
  for image in "${images[@]}"; do
    pulled=0
    for attempt in 1 2 3; do
      if "$SG_BIN_DIR/k3s" crictl pull "$image" >/dev/null; then
        pulled=1
        break
      fi
      log "pull of $image failed (attempt $attempt)"
      sleep "$step"
    done
    [[ $pulled -eq 1 ]] || die "could not pull $image"
  done
  log "prewarm: pulled ${#images[@]} image(s)"
  "$here/k3s-stop-all.sh"
  touch "$prewarm_marker"
  log "prewarm done"
fi

if systemctl is-active --quiet k3s 2>/dev/null; then
  systemctl stop k3s
  log "stopped k3s"
fi
if systemctl is-enabled --quiet k3s 2>/dev/null; then
  systemctl disable k3s
  log "disabled k3s"
fi

log "build complete: Sourcegraph $version ($size, $cloud)"
